// Flags, logging, sd_notify and signal handling for the daemons.
#include "daemons/common/daemon.h"

#include "api/client.h"
#include "api/go_json.h"
#include "api/kubeconfig.h"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/codec.h"
#include "api/status.h"

namespace kctl {

void Flags::add(const std::string& name, std::string* target, const std::string& help) {
  flags_[name] = {Flag::Type::String, target, help};
}
void Flags::add(const std::string& name, int* target, const std::string& help) {
  flags_[name] = {Flag::Type::Int, target, help};
}
void Flags::add(const std::string& name, bool* target, const std::string& help) {
  flags_[name] = {Flag::Type::Bool, target, help};
}
void Flags::add(const std::string& name, std::chrono::milliseconds* target, const std::string& help) {
  flags_[name] = {Flag::Type::Duration, target, help};
}

void apply_kubeconfig(const std::string& file, const std::string& default_endpoint, std::string* endpoint,
                      api::ClientOptions* options) {
  api::ClientConfig c = api::load_client_config(file);
  if (*endpoint == default_endpoint) *endpoint = c.server;
  if (options->bearer_token.empty()) options->bearer_token = c.token;
  http::TlsClientOptions& t = options->tls;
  if (t.ca_file.empty() && t.ca_data.empty()) {
    t.ca_file = c.tls.ca_file;
    t.ca_data = c.tls.ca_data;
  }
  if (t.cert_file.empty() && t.cert_data.empty() && t.key_file.empty() && t.key_data.empty()) {
    t.cert_file = c.tls.cert_file;
    t.cert_data = c.tls.cert_data;
    t.key_file = c.tls.key_file;
    t.key_data = c.tls.key_data;
  }
  if (t.server_name.empty()) t.server_name = c.tls.server_name;
  t.insecure_skip_verify = t.insecure_skip_verify || c.tls.insecure_skip_verify;
}

void add_apiserver_flags(Flags& flags, std::string* endpoint, api::ClientOptions* options, bool kubeconfig_flag) {
  flags.add("apiserver", endpoint, "the API server endpoint: dbus:[BUS-ADDRESS] or http(s)://HOST:PORT");
  if (kubeconfig_flag) {
    auto file = std::make_shared<std::string>();
    flags.add("kubeconfig", file.get(),
              "kubeconfig file whose current context says where the apiserver is and how to authenticate (--apiserver "
              "and the TLS and token flags win over it)");
    flags.add_check([file, endpoint, options, default_endpoint = *endpoint]() -> std::string {
      if (file->empty()) return "";
      try {
        apply_kubeconfig(*file, default_endpoint, endpoint, options);
      } catch (const std::exception& e) {
        return "--kubeconfig " + *file + ": " + e.what();
      }
      return "";
    });
  }
  flags.add("certificate-authority", &options->tls.ca_file, "PEM file of the CA an https apiserver's certificate is "
                                                           "checked against (default: the system's roots)");
  flags.add("client-certificate", &options->tls.cert_file, "PEM file of the client certificate shown to the apiserver");
  flags.add("client-key", &options->tls.key_file, "PEM file of the key of --client-certificate");
  flags.add("token", &options->bearer_token, "bearer token for the apiserver");
}

std::string Flags::usage() const {
  std::string out = "Usage: " + program_ + " [flags]\n" + summary_ + "\n\nFlags:\n";
  for (const auto& [name, f] : flags_) {
    std::string def;
    if (f.type == Flag::Type::String) def = *static_cast<std::string*>(f.target);
    if (f.type == Flag::Type::Int) def = std::to_string(*static_cast<int*>(f.target));
    if (f.type == Flag::Type::Bool) def = *static_cast<bool*>(f.target) ? "true" : "false";
    if (f.type == Flag::Type::Duration) def = std::to_string(static_cast<std::chrono::milliseconds*>(f.target)->count()) + "ms";
    out += "  --" + name + (f.type == Flag::Type::Bool ? "" : " value") + "\n      " + f.help +
           (def.empty() ? "" : " (default " + def + ")") + "\n";
  }
  return out;
}

bool Flags::set(const std::string& name, const std::string& value, bool has_value, std::string& error) {
  auto it = flags_.find(name);
  if (it == flags_.end()) {
    error = "unknown flag --" + name;
    return false;
  }
  Flag& f = it->second;
  if (f.type == Flag::Type::Bool) {
    std::string v = has_value ? value : "true";
    if (v != "true" && v != "false") {
      error = "--" + name + " takes true or false";
      return false;
    }
    *static_cast<bool*>(f.target) = v == "true";
  } else if (f.type == Flag::Type::String) {
    *static_cast<std::string*>(f.target) = value;
  } else if (f.type == Flag::Type::Duration) {
    auto seconds = api::parse_duration(value);
    if (!seconds || *seconds < 0) {
      error = "--" + name + " takes a duration such as 40s or 5m, not " + value;
      return false;
    }
    *static_cast<std::chrono::milliseconds*>(f.target) = std::chrono::milliseconds(int64_t(*seconds * 1000));
  } else {
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0') {
      error = "--" + name + " takes an integer, not " + value;
      return false;
    }
    *static_cast<int*>(f.target) = int(v);
  }
  return true;
}

void Flags::parse(int argc, char** argv) {
  auto fail = [&](const std::string& msg) {
    std::cerr << program_ << ": " << msg << "\n";
    std::exit(2);
  };
  // The config file first, so that the command line overrides it.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string path;
    if (arg.rfind("--config=", 0) == 0) path = arg.substr(9);
    else if (arg == "--config" && i + 1 < argc) path = argv[i + 1];
    else continue;
    std::ifstream in(path);
    if (!in) fail("cannot read config file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json cfg;
    try {
      cfg = api::decode_yaml(ss.str());
    } catch (const api::StatusError& e) {
      fail("config file " + path + ": " + e.status().message);
    }
    if (!cfg.is_object() && !cfg.is_null()) fail("config file " + path + " must be a map of flag names to values");
    for (auto it = cfg.begin(); cfg.is_object() && it != cfg.end(); ++it) {
      std::string value = it->is_string() ? it->get<std::string>() : it->dump();
      std::string error;
      if (!set(it.key(), value, true, error)) fail("config file " + path + ": " + error);
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage();
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) fail("unexpected argument " + arg);
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "config") {
      if (!has_value) ++i;
      continue;
    }
    auto it = flags_.find(name);
    if (it != flags_.end() && it->second.type != Flag::Type::Bool && !has_value) {
      if (i + 1 >= argc) fail("--" + name + " needs a value");
      value = argv[++i];
      has_value = true;
    }
    std::string error;
    if (!set(name, value, has_value, error)) fail(error);
  }
  for (const auto& check : checks_)
    if (std::string error = check(); !error.empty()) fail(error);
}

namespace {
std::mutex log_mutex;
std::string log_identifier = "kctl";
LogLevel log_max = LogLevel::Info;

// journald sets JOURNAL_STREAM to the device:inode of the stream it gave us as stderr.
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  struct stat st{};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  return st.st_dev == dev && st.st_ino == ino;
}
}  // namespace

void set_log_identifier(const std::string& identifier) { log_identifier = identifier; }
void set_log_verbosity(LogLevel max_level) { log_max = max_level; }

void log(LogLevel level, const std::string& message, const std::vector<std::string>& fields) {
  if (int(level) > int(log_max)) return;
  static const bool journal = stderr_is_journal();
  if (journal) {
    std::vector<std::string> parts = {"MESSAGE=" + message, "PRIORITY=" + std::to_string(int(level)),
                                      "SYSLOG_IDENTIFIER=" + log_identifier};
    for (const auto& f : fields) parts.push_back(f);
    std::vector<iovec> iov;
    for (auto& p : parts) iov.push_back({p.data(), p.size()});
    sd_journal_sendv(iov.data(), int(iov.size()));
    return;
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  static const char* names[] = {"", "", "", "E", "W", "N", "I", "D"};
  std::string line = std::string(ts) + " " + names[int(level)] + " " + log_identifier + ": " + message;
  for (const auto& f : fields) line += " " + f;
  std::lock_guard lock(log_mutex);
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::vector<std::string> object_fields(const std::string& kind, const std::string& ns, const std::string& name) {
  std::vector<std::string> f = {"OBJECT_KIND=" + kind, "OBJECT_NAME=" + name};
  if (!ns.empty()) f.push_back("OBJECT_NAMESPACE=" + ns);
  return f;
}

namespace {
std::mutex watchdog_mutex;
std::condition_variable watchdog_cv;
bool watchdog_stop = false;
std::thread watchdog_thread;
}  // namespace

void start_watchdog(std::function<bool()> healthy) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  watchdog_thread = std::thread([usec, healthy = std::move(healthy)] {
    auto interval = std::chrono::microseconds(usec / 2);
    std::unique_lock lock(watchdog_mutex);
    while (!watchdog_cv.wait_for(lock, interval, [] { return watchdog_stop; }))
      if (!healthy || healthy()) sd_notify(0, "WATCHDOG=1");
  });
}

void stop_watchdog() {
  {
    std::lock_guard lock(watchdog_mutex);
    watchdog_stop = true;
  }
  watchdog_cv.notify_all();
  if (watchdog_thread.joinable()) watchdog_thread.join();
}

void notify_ready(const std::string& status) { sd_notify(0, ("READY=1\nSTATUS=" + status).c_str()); }
void notify_status(const std::string& status) { sd_notify(0, ("STATUS=" + status).c_str()); }
void notify_stopping() { sd_notify(0, "STOPPING=1"); }

long raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return long(rl.rlim_cur);
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace kctl
