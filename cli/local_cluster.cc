// LocalCluster: the supervisor (subreaper, restart with back-off, ordered stop), `up` (start the bus and the
// daemons, wait for the API, kubeconfig, examples), `status` and `down` (stop and remove the directory).
#include "cli/local_cluster.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/client.h"
#include "api/codec.h"
#include "api/http_client.h"
#include "api/registry.h"
#include "api/resource_path.h"
#include "api/status.h"
#include "daemons/common/dbus_service.h"
#include "daemons/common/process.h"

namespace fs = std::filesystem;

namespace kctl::cli {

namespace {

// How long a stopping daemon gets between SIGTERM and SIGKILL (systemd's default is 90 s; ours stop in < 1 s).
constexpr auto kStopTimeout = std::chrono::seconds(10);
// Restart back-off for a daemon that exits on its own: doubles from 1 s up to this.
constexpr int kMaxRestartDelaySeconds = 30;
// How long the supervisor waits for a component's ready_path (the bus socket appears within milliseconds).
constexpr auto kReadyTimeout = std::chrono::seconds(5);
// The addresses Kubernetes defaults to: the pods' range (the controller manager's --cluster-cidr) and the cluster
// DNS Service at the tenth address of the service range 10.96.0.0/12.
constexpr const char* kClusterCidr = "10.244.0.0/16";
constexpr const char* kClusterDns = "10.96.0.10";

std::string read_file(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool process_alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  // A zombie is dead: PID 1 here does not reap, so exited daemons can linger as zombies.
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

void write_file(const std::string& p, const std::string& content) {
  std::ofstream out(p + ".tmp");
  out << content;
  out.close();
  fs::rename(p + ".tmp", p);
}

}  // namespace

std::string executable_dir() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : p.parent_path().string();
}

std::string find_binary(const std::string& name) {
  fs::path beside = fs::path(executable_dir()) / name;
  if (fs::exists(beside)) return beside.string();
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) return (fs::path(dir) / name).string();
  return "";
}

int live_pid_from_file(const std::string& pid_file) {
  int pid = std::atoi(read_file(pid_file).c_str());
  return process_alive(pid) ? pid : 0;
}

LocalCluster::LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {
  if (options_.examples_dir.empty()) {
    // build/bin/kctl -> source tree's examples/ (the build records where its sources are)
    fs::path marker = fs::path(executable_dir()) / ".." / "source-dir";
    std::string src = read_file(marker.string());
    while (!src.empty() && (src.back() == '\n' || src.back() == ' ')) src.pop_back();
    if (!src.empty() && fs::exists(fs::path(src) / "examples"))
      options_.examples_dir = (fs::path(src) / "examples").string();
    else if (fs::exists("/usr/share/kctl/examples"))
      options_.examples_dir = "/usr/share/kctl/examples";
  }
}

std::string LocalCluster::path(const std::string& rel) const { return (fs::path(options_.dir) / rel).string(); }

std::string LocalCluster::api_url() const { return "http://127.0.0.1:" + std::to_string(options_.api_port); }

std::string LocalCluster::bus_address() const { return "unix:path=" + path("dbus/bus"); }

// The cluster's own bus first: the daemons own their names on it and talk over it, as on a node's system bus; the
// apiserver, then the controller manager, the scheduler and the cluster DNS. Then each worker's bus, kubelet and
// proxy, in the node's network namespace, reaching the apiserver on the node network.
std::vector<LocalCluster::Component> LocalCluster::components() const {
  LocalNetwork net = network();
  // The plain port is the master's own (its superuser's, as kube's insecure port was): on 127.0.0.1 only. HTTPS is
  // where the workers' daemons reach the API, on the node network, each with a certificate of its own.
  std::string secure_bind = options_.workers > 0 ? "0.0.0.0" : "127.0.0.1";
  std::vector<std::string> apiserver_args = {"--data-dir=" + path("apiserver"), "--insecure-bind-address=127.0.0.1",
                                             "--insecure-port=" + std::to_string(options_.api_port),
                                             "--secure-port=" + std::to_string(options_.secure_port),
                                             "--bind-address=" + secure_bind, "--dbus-address=" + bus_address()};
  if (options_.workers > 0) apiserver_args.push_back("--advertise-address=" + net.master_ip());
  std::string ca_cert = path("apiserver/pki/ca.crt"), ca_key = path("apiserver/pki/ca.key");
  std::vector<Component> all = {
      {"dbus-daemon", {"--nofork", "--nopidfile", "--config-file=" + path("dbus/bus.conf")}, path("dbus/bus"), "", ""},
      // Ready once its PKI is complete (the admin kubeconfig is its last file).
      {"kctl-apiserver", apiserver_args, path("apiserver/admin.kubeconfig"), "", ""},
      // The control loops and the scheduler, on the master, over the bus (as on a master node's system bus). The
      // controller manager signs the certificates kubelets ask for when they join with a token (kctl node join).
      {"kctl-controller-manager",
       {"--apiserver=dbus:" + bus_address(), "--dbus-address=" + bus_address(),
        "--node-monitor-grace-period=" + options_.node_monitor_grace_period, "--root-ca-file=" + ca_cert,
        "--cluster-signing-cert-file=" + ca_cert, "--cluster-signing-key-file=" + ca_key},
       "", "", ""},
      {"kctl-scheduler", {"--apiserver=dbus:" + bus_address(), "--dbus-address=" + bus_address()}, "", "", ""}};
  // The cluster DNS on the master's node-network address: it puts itself behind the kube-dns Service (10.96.0.10),
  // which the workers' proxies send to it.
  if (options_.workers > 0)
    all.push_back({"kctl-dns",
                   {"--apiserver=dbus:" + bus_address(), "--bind-address=" + net.master_ip(), "--port=53",
                    "--advertise-address=" + net.master_ip()},
                   "", "", ""});
  for (int i = 1; i <= options_.workers; ++i) {
    std::string node = net.node_name(i);
    // Each node has its own bus, as each machine has its system bus; the kubelet owns org.kctl.Kubelet1 on it.
    all.push_back({"dbus-daemon-" + node,
                   {"--nofork", "--nopidfile", "--config-file=" + path("nodes/" + node + "/dbus/bus.conf")},
                   path("nodes/" + node + "/dbus/bus"), "dbus-daemon", net.netns_path(i)});
    // The kubelet as system:node:NODE (its own client certificate), taking calls only from the apiserver.
    all.push_back({"kctl-kubelet-" + node,
                   {"--kubeconfig=" + path("nodes/" + node + "/kubelet.conf"), "--hostname-override=" + node,
                    "--node-ip=" + net.node_ip(i), "--pod-cidr=" + net.pod_cidr(i),
                    "--root-dir=" + path("nodes/" + node), "--node-labels=kctl.io/local-cluster=" + options_.name,
                    "--cluster-dns=" + std::string(kClusterDns), "--cluster-domain=cluster.local",
                    "--client-ca-file=" + ca_cert, "--dbus-address=unix:path=" + path("nodes/" + node + "/dbus/bus")},
                   "", "kctl-kubelet", net.netns_path(i)});
    // The node's Services: table ip kctl in the node's namespace, org.kctl.Proxy1 on the node's bus; as
    // system:kube-proxy.
    all.push_back({"kctl-proxy-" + node,
                   {"--kubeconfig=" + path("nodes/" + node + "/proxy.conf"), "--hostname-override=" + node,
                    "--cluster-cidr=" + std::string(kClusterCidr),
                    "--dbus-address=unix:path=" + path("nodes/" + node + "/dbus/bus")},
                   "", "kctl-proxy", net.netns_path(i)});
  }
  return all;
}

LocalNetwork LocalCluster::network() const {
  LocalNetwork n;
  n.name = options_.name;
  n.workers = options_.workers;
  return n;
}

std::string find_dbus_policy() {
  fs::path marker = fs::path(executable_dir()) / ".." / "source-dir";
  std::string src = read_file(marker.string());
  while (!src.empty() && (src.back() == '\n' || src.back() == ' ')) src.pop_back();
  for (const fs::path& p : {fs::path(src) / "units" / "org.kctl.conf", fs::path("/usr/share/dbus-1/system.d/org.kctl.conf"),
                            fs::path("/etc/dbus-1/system.d/org.kctl.conf")})
    if (!p.empty() && p.is_absolute() && fs::exists(p)) return p.string();
  return "";
}

bool LocalCluster::write_bus_config(std::string& error) const {
  std::string policy = find_dbus_policy();
  if (policy.empty()) {
    error = "the kctl D-Bus policy (org.kctl.conf) is neither in the source tree nor installed";
    return false;
  }
  fs::create_directories(path("dbus"));
  std::vector<std::string> buses = {"dbus"};
  for (int i = 1; i <= options_.workers; ++i) buses.push_back("nodes/" + network().node_name(i) + "/dbus");
  for (const auto& b : buses) {
    fs::create_directories(path(b));
    fs::remove(path(b + "/bus"));  // a socket left by a bus that was killed
    write_file(path(b + "/bus.conf"), private_bus_config(path(b + "/bus"), policy));
  }
  return true;
}

int LocalCluster::supervisor_pid() const { return live_pid_from_file(path("supervisor.pid")); }

// ---------------------------------------------------------------------------------------------------------------
// The supervisor

namespace {

struct Running {
  LocalCluster::Component component;
  int pid = 0;
  int restart_delay = 1;
  std::chrono::steady_clock::time_point restart_at{};
};

int spawn(const LocalCluster::Component& c, const std::string& binary, const std::string& log_path) {
  int pid = ::fork();
  if (pid != 0) return pid;
  // A worker's daemon joins its node's network namespace only: mounts stay shared with the host, so the pod
  // namespaces and overlays it makes are visible from the host too (see platform-notes.md).
  if (!c.netns.empty()) {
    int ns = ::open(c.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "kctl local: cannot enter %s: %s\n", c.netns.c_str(), std::strerror(errno));
      ::_exit(126);
    }
    ::close(ns);
  }
  // child: its own process group, default signal dispositions, output to its log
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  if (null >= 0) ::dup2(null, 0);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : c.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(binary.c_str(), argv.data());
  std::fprintf(stderr, "kctl local: cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
  ::_exit(127);
}

// A component is ready when the socket it listens on exists. Startup takes milliseconds and there is no event to
// wait on across the exec, so look every 10 ms, for at most kReadyTimeout, and stop early if it died.
bool wait_for_path(const std::string& p, int pid) {
  auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (!fs::exists(p)) {
    if (std::chrono::steady_clock::now() > deadline || !process_alive(pid)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void say(const std::string& s) {
  std::fprintf(stderr, "%s\n", s.c_str());
  std::fflush(stderr);
}

}  // namespace

int LocalCluster::supervise() {
  load_config();  // as `up` saved it
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  fs::create_directories(path("logs"));
  write_file(path("supervisor.pid"), std::to_string(::getpid()) + "\n");
  std::string error;
  if (!write_bus_config(error)) say("kctl local: " + error);

  std::vector<Running> running;
  for (const auto& c : components()) {
    std::string bin = find_binary(c.binary.empty() ? c.name : c.binary);
    if (bin.empty()) {
      say("kctl local: " + c.name + " not found beside kctl or on PATH");
      continue;
    }
    Running r{c};
    r.pid = spawn(c, bin, path("logs/" + c.name + ".log"));
    write_file(path(c.name + ".pid"), std::to_string(r.pid) + "\n");
    say("kctl local: started " + c.name + " (pid " + std::to_string(r.pid) + ")");
    running.push_back(r);
    if (!c.ready_path.empty() && !wait_for_path(c.ready_path, r.pid))
      say("kctl local: " + c.name + " did not create " + c.ready_path + "; starting the rest anyway");
  }

  bool stopping = false;
  while (!stopping) {
    timespec tick{1, 0};
    siginfo_t info{};
    int sig = sigtimedwait(&set, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      stopping = true;
      break;
    }
    // Reap every exited child; ours are restarted with back-off, like Restart=on-failure.
    int status = 0;
    for (int pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      for (auto& r : running) {
        if (r.pid != pid) continue;
        say("kctl local: " + r.component.name + " exited (" +
            (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                               : "signal " + std::to_string(WTERMSIG(status))) +
            "); restarting in " + std::to_string(r.restart_delay) + "s");
        r.pid = 0;
        r.restart_at = std::chrono::steady_clock::now() + std::chrono::seconds(r.restart_delay);
        r.restart_delay = std::min(r.restart_delay * 2, kMaxRestartDelaySeconds);
      }
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& r : running) {
      if (r.pid != 0 || now < r.restart_at) continue;
      const auto& c = r.component;
      r.pid = spawn(c, find_binary(c.binary.empty() ? c.name : c.binary), path("logs/" + c.name + ".log"));
      write_file(path(r.component.name + ".pid"), std::to_string(r.pid) + "\n");
    }
  }

  // Stop in reverse order of start.
  for (auto it = running.rbegin(); it != running.rend(); ++it) {
    if (it->pid <= 0) continue;
    ::kill(it->pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    while (::waitpid(it->pid, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        say("kctl local: " + it->component.name + " did not stop in time; killing it");
        ::kill(-it->pid, SIGKILL);
        ::kill(it->pid, SIGKILL);
        ::waitpid(it->pid, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    fs::remove(path(it->component.name + ".pid"));
    say("kctl local: stopped " + it->component.name);
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  fs::remove(path("supervisor.pid"));
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// up, status, down

bool LocalCluster::wait_until_serving(std::string& error) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.start_timeout_seconds);
  http::Client client(api_url(), {.bearer_token = "", .timeout_seconds = 2});
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      // Serving means both: HTTP ready, and the API's name owned on the cluster's bus (which comes right after).
      if (client.request("GET", "/readyz").status == 200) {
        api::ClientOptions o;
        o.timeout_seconds = 2;
        api::make_dbus_transport(bus_address(), o)->version();
        return true;
      }
    } catch (const api::StatusError& e) {
      error = "not on D-Bus at " + bus_address() + ": " + e.status().message;
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!supervisor_pid()) {
      error = "the supervisor exited";
      return false;
    }
    // Startup is a few hundred milliseconds; poll gently until then (there is no readiness event to wait on
    // across processes other than the socket itself).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (error.empty()) error = "timed out";
  return false;
}

void LocalCluster::write_kubeconfig() const {
  std::string kc =
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- name: kctl-local\n"
      "  cluster:\n"
      "    server: " + api_url() + "\n"
      "contexts:\n"
      "- name: kctl-local\n"
      "  context:\n"
      "    cluster: kctl-local\n"
      "    user: kctl-local\n"
      "    namespace: default\n"
      "current-context: kctl-local\n"
      "users:\n"
      "- name: kctl-local\n"
      "  user: {}\n"
      "preferences: {}\n";
  write_file(path("kubeconfig"), kc);
}

int LocalCluster::apply_examples() const {
  if (options_.examples_dir.empty() || !fs::exists(options_.examples_dir)) {
    std::cerr << "kctl local: no examples directory found; nothing applied\n";
    return 0;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(options_.examples_dir)) {
    auto ext = e.path().extension();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  http::Client client(api_url());
  const auto& reg = api::Registry::builtin();
  int failures = 0;
  for (const auto& f : files) {
    std::vector<nlohmann::json> objects;
    try {
      objects = api::flatten_lists(api::decode_documents(read_file(f.string())));
    } catch (const api::StatusError& e) {
      std::cerr << "kctl local: " << f.string() << ": " << e.status().message << "\n";
      ++failures;
      continue;
    }
    for (const auto& obj : objects) {
      const api::KindInfo* kind = reg.by_api_version_kind(obj.value("apiVersion", ""), obj.value("kind", ""));
      std::string name = obj.value("/metadata/name"_json_pointer, std::string());
      if (!kind) {
        std::cerr << "kctl local: " << f.filename().string() << ": unknown kind " << obj.value("apiVersion", "") << "/"
                  << obj.value("kind", "") << "\n";
        ++failures;
        continue;
      }
      std::string ns = kind->namespaced ? obj.value("/metadata/namespace"_json_pointer, std::string("default")) : "";
      // Server-side apply: creates what is missing and updates what is there, so `up` can run again.
      auto resp = client.request("PATCH", api::object_path(*kind, ns, name) + "?fieldManager=kctl-local&force=true",
                                 obj.dump(), {{"Content-Type", "application/apply-patch+yaml"}});
      std::string what = kind->singular + "/" + name;
      if (resp.status == 200 || resp.status == 201) {
        std::cout << what << (resp.status == 201 ? " created" : " configured") << "\n";
      } else {
        std::string msg = resp.body;
        try {
          msg = nlohmann::json::parse(resp.body).value("message", resp.body);
        } catch (...) {
        }
        std::cerr << "kctl local: " << what << ": " << msg << "\n";
        ++failures;
      }
    }
  }
  return failures;
}

int LocalCluster::up() {
  fs::create_directories(path("logs"));
  if (supervisor_pid()) load_config();  // it runs already: as it was started
  if (!supervisor_pid()) {
    save_config();
    if (int rc = prepare_credentials()) return rc;
    if (int rc = prepare_workers()) return rc;
    std::string self = executable_dir() + "/kctl";
    int pid = ::fork();
    if (pid < 0) {
      std::cerr << "kctl local: fork: " << std::strerror(errno) << "\n";
      return 1;
    }
    if (pid == 0) {
      ::setsid();
      int fd = ::open(path("logs/supervisor.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (null >= 0) ::dup2(null, 0);
      // The supervisor reads the cluster's options from DIR/cluster.json, written just above.
      std::string dir = "--dir=" + options_.dir;
      const char* argv[] = {self.c_str(), "local", "supervise", dir.c_str(), nullptr};
      ::execv(self.c_str(), const_cast<char* const*>(argv));
      ::_exit(127);
    }
    // Wait for the supervisor to write its pid file before polling the API.
    for (int i = 0; i < 50 && !supervisor_pid(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string error;
  if (!wait_until_serving(error)) {
    std::cerr << "kctl local: the API server did not come up at " << api_url() << ": " << error << "\n"
              << "see " << path("logs/kctl-apiserver.log") << "\n";
    return 1;
  }
  write_kubeconfig();
  if (options_.workers > 0 && !wait_for_nodes(error)) {
    std::cerr << "kctl local: the worker nodes did not become Ready: " << error << "\n"
              << "see " << path("logs/") << "kctl-kubelet-*.log\n";
    return 1;
  }
  int failures = options_.apply_examples ? apply_examples() : 0;
  if (options_.apply_examples && options_.workers > 0) {
    wait_for_example_pods();
    std::cout << "\n" << std::flush;
    std::string kctl = executable_dir() + "/kctl";
    auto r = run_process({kctl, "--kubeconfig=" + path("kubeconfig"), "get", "nodes,pods", "-o", "wide", "-A"});
    std::cout << r.out << std::flush;
    std::cerr << r.err;
  }
  std::cout << "\nkctl local cluster is up: API at " << api_url() << " and on D-Bus at " << bus_address();
  if (options_.workers > 0)
    std::cout << ", " << options_.workers << " worker node" << (options_.workers > 1 ? "s" : "") << " on "
              << network().bridge();
  std::cout << "\n  export KUBECONFIG=" << path("kubeconfig") << "\n"
            << "  kubectl get all -A        # or: kctl local status\n";
  return failures ? 1 : 0;
}

// Whether the apiserver answers on the cluster's bus, as a person reads it.
std::string LocalCluster::bus_status() const {
  try {
    api::ClientOptions o;
    o.timeout_seconds = 2;
    auto t = api::make_dbus_transport(bus_address(), o);
    return "(org.kctl.ApiServer1 answering, " + t->version().value("gitVersion", "?") + ")";
  } catch (const api::StatusError& e) {
    return "(org.kctl.ApiServer1 not answering: " + e.status().message + ")";
  }
}

int LocalCluster::status() {
  load_config();
  int sup = supervisor_pid();
  bool ok = sup != 0;
  std::cout << "directory:  " << options_.dir << "\n";
  std::cout << "supervisor: " << (sup ? "running (pid " + std::to_string(sup) + ")" : std::string("not running")) << "\n";
  for (const auto& c : components()) {
    int pid = live_pid_from_file(path(c.name + ".pid"));
    if (!pid) ok = false;
    std::cout << c.name << ": " << (pid ? "running (pid " + std::to_string(pid) + ")" : std::string("not running"))
              << "\n";
  }
  if (sup) {
    try {
      http::Client client(api_url(), {.bearer_token = "", .timeout_seconds = 2});
      auto v = client.request("GET", "/version");
      auto ready = client.request("GET", "/readyz");
      std::cout << "API:        " << api_url() << " " << (ready.status == 200 ? "ready" : "not ready") << " ("
                << nlohmann::json::parse(v.body).value("gitVersion", "?") << ")\n";
      if (ready.status != 200) ok = false;
    } catch (const std::exception& e) {
      std::cout << "API:        " << api_url() << " unreachable: " << e.what() << "\n";
      ok = false;
    }
    std::cout << "D-Bus:      " << bus_address() << " " << bus_status() << "\n";
    std::cout << "kubeconfig: " << path("kubeconfig") << "\n";
  }
  return ok ? 0 : 3;  // 3: not running, as `systemctl status` answers
}

int LocalCluster::down() {
  if (!fs::exists(options_.dir)) {
    std::cout << "kctl local: nothing at " << options_.dir << "\n";
    return 0;
  }
  load_config();
  if (options_.workers > 0 && supervisor_pid()) delete_pods_and_wait();
  if (int sup = supervisor_pid()) {
    ::kill(sup, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + kStopTimeout + std::chrono::seconds(5);
    while (process_alive(sup) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (process_alive(sup)) ::kill(sup, SIGKILL);
  }
  // Anything left behind by a supervisor that died: stop it by its pid file.
  for (const auto& c : components())
    if (int pid = live_pid_from_file(path(c.name + ".pid"))) {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 250 && process_alive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (process_alive(pid)) ::kill(pid, SIGKILL);
    }
  clean_leftovers();
  for (const auto& problem : network().teardown()) std::cerr << "kctl local: " << problem << "\n";
  std::error_code ec;
  fs::remove_all(options_.dir, ec);
  if (ec) {
    std::cerr << "kctl local: cannot remove " << options_.dir << ": " << ec.message() << "\n";
    return 1;
  }
  std::cout << "kctl local cluster stopped; removed " << options_.dir << "\n";
  return 0;
}

}  // namespace kctl::cli
