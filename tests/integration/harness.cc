// The harness: process spawning with pipes and timeouts, free ports, temporary directories, the apiserver child
// and the kubectl wrapper.
#include "harness.h"

#include "api/client.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "daemons/common/dbus_service.h"

namespace fs = std::filesystem;

namespace kctl::test {

namespace {
// How long a daemon child gets to start listening before the test fails.
constexpr int kStartTimeoutMs = 5000;
}  // namespace

CmdResult run(const std::vector<std::string>& argv, const std::string& input, int timeout_seconds) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return {};
  int pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  std::thread feeder([&] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += size_t(n);
    }
    close(in[1]);
  });
  CmdResult r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0 && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 2, std::max(left, 100)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, size_t(n));
      }
    }
  }
  feeder.join();
  int status = 0;
  waitpid(pid, &status, 0);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::string make_temp_dir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("kctl-it-" + tag + "-XXXXXX")).string();
  return mkdtemp(tmpl.data()) ? tmpl : "";
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& content) {
  std::string p = (fs::path(dir) / name).string();
  std::ofstream(p) << content;
  return p;
}

TestPki::TestPki() : dir(make_temp_dir("pki")) {
  auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = run(args);
    if (r.rc != 0) ADD_FAILURE() << "openssl failed: " << r.err;
  };
  auto key_and_csr = [&](const std::string& name, const std::string& subject) {
    openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr", "-subj", subject});
  };
  auto sign = [&](const std::string& name, const std::string& extensions) {
    write_file(dir, name + ".ext", extensions);
    openssl({"x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.crt", "-CAkey", dir + "/ca.key",
             "-CAcreateserial", "-days", "2", "-out", dir + "/" + name + ".crt", "-extfile", dir + "/" + name + ".ext"});
  };
  for (const char* ca : {"ca", "other-ca"})
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-keyout", dir + "/" + ca + ".key", "-out", dir + "/" + ca + ".crt", "-subj",
             std::string("/CN=kctl-test-") + ca});
  key_and_csr("server", "/CN=kctl-apiserver");
  sign("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  key_and_csr("client", "/O=system:masters/CN=admin");
  sign("client", "extendedKeyUsage=clientAuth\n");
  ca_cert = dir + "/ca.crt";
  other_ca_cert = dir + "/other-ca.crt";
  server_cert = dir + "/server.crt";
  server_key = dir + "/server.key";
  client_cert = dir + "/client.crt";
  client_key = dir + "/client.key";
}

TestPki::~TestPki() {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

std::vector<std::string> TestPki::apiserver_flags(int port) const {
  return {"--bind-address=127.0.0.1", "--secure-port=" + std::to_string(port), "--tls-cert-file=" + server_cert,
          "--tls-private-key-file=" + server_key, "--client-ca-file=" + ca_cert};
}

nlohmann::json parse_json(const std::string& s) {
  try {
    return nlohmann::json::parse(s);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << s.substr(0, 2000);
    return nullptr;
  }
}

ApiServerProcess::ApiServerProcess(std::vector<std::string> extra_args)
    : extra_(std::move(extra_args)), dir_(make_temp_dir("apiserver")), port_(free_port()) {
  start();
}

ApiServerProcess::~ApiServerProcess() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string ApiServerProcess::log() const { return process_.log(); }

void ApiServerProcess::start() {
  std::vector<std::string> args = {std::string(KCTL_BIN_DIR) + "/kctl-apiserver", "--data-dir=" + dir_ + "/data",
                                   "--insecure-port=" + std::to_string(port_)};
  bool dbus_flag = std::any_of(extra_.begin(), extra_.end(), [](const std::string& a) { return a.rfind("--dbus", 0) == 0; });
  if (!dbus_flag) args.push_back("--dbus=none");
  // HTTPS only where a test asks for it on a port of its own: many apiservers run at once, and none may take 6443.
  if (std::none_of(extra_.begin(), extra_.end(), [](const std::string& a) { return a.rfind("--secure-port", 0) == 0; }))
    args.push_back("--secure-port=0");
  args.insert(args.end(), extra_.begin(), extra_.end());
  process_.start(args, dir_ + "/apiserver.log");
  client_ = std::make_unique<http::Client>(url());
  // Ready: /readyz answers and, with a bus address, the API's name is owned on it (which comes just after).
  std::string bus;
  for (const auto& a : extra_)
    if (a.rfind("--dbus-address=", 0) == 0) bus = a.substr(15);
  bool http_ready = false;
  for (int i = 0; i < 200; ++i) {
    try {
      if (!http_ready) http_ready = client_->request("GET", "/readyz").status == 200;
      if (http_ready && bus.empty()) return;
      if (http_ready) {
        api::make_transport("dbus:" + bus)->version();
        return;
      }
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  FAIL() << "kctl-apiserver did not become ready:\n" << log();
}

void ApiServerProcess::stop() { process_.stop(); }

void ApiServerProcess::kill9() { process_.kill9(); }

void ChildProcess::start(const std::vector<std::string>& argv, const std::string& log_path) {
  stop();
  log_path_ = log_path;
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

void ChildProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

DbusDaemon::DbusDaemon() : dir_(make_temp_dir("bus")) {
  ::chmod(dir_.c_str(), 0755);  // the socket is reached through it, by root and by nobody
  std::string socket = dir_ + "/bus";
  address_ = "unix:path=" + socket;
  std::string config = write_file(dir_, "bus.conf",
                                  private_bus_config(socket, std::string(KCTL_SOURCE_DIR) + "/units/org.kctl.conf"));
  // --print-address on a pipe: the daemon writes its address once it listens.
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(ready[1], 3);  // dup2 clears close-on-exec on the copy
    int log = open((dir_ + "/dbus-daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, 1);
    dup2(log, 2);
    execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", ("--config-file=" + config).c_str(),
           "--print-address=3", nullptr);
    _exit(127);
  }
  close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  char buf[512] = {};
  bool ok = poll(&p, 1, kStartTimeoutMs) == 1 && read(ready[0], buf, sizeof buf - 1) > 0;
  close(ready[0]);
  if (!ok) ADD_FAILURE() << "dbus-daemon did not start (see " << dir_ << "/dbus-daemon.log)";
}

DbusDaemon::~DbusDaemon() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string Kubectl::find(const std::string& version) {
  if (const char* env = std::getenv("KCTL_TEST_KUBECTL"); env && version.empty()) return env;
  std::string want = "kubectl." + (version.empty() ? std::string("1.33") : version);
  auto which = run({"sh", "-c", "command -v kubectl"});
  std::string kubectl = which.out.substr(0, which.out.find('\n'));
  if (!kubectl.empty()) {
    std::error_code ec;
    fs::path real = fs::canonical(kubectl, ec);
    if (!ec && fs::exists(real.parent_path() / want)) return (real.parent_path() / want).string();
  }
  return version.empty() ? kubectl : "";
}

Kubectl::Kubectl(const std::string& server, const std::string& version)
    : binary_(find(version)), dir_(make_temp_dir("kubectl")) {
  kubeconfig_ = write_file(dir_, "kubeconfig",
                           "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: " + server +
                               "\ncontexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n"
                               "current-context: t\nusers:\n- name: t\n  user: {}\n");
}

CmdResult Kubectl::operator()(const std::vector<std::string>& args, const std::string& input, int timeout) const {
  std::vector<std::string> argv = {"env", "HOME=" + dir_, binary_, "--kubeconfig=" + kubeconfig_,
                                   "--cache-dir=" + dir_ + "/cache"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input, timeout);
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

unsigned mode_of(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

}  // namespace kctl::test
