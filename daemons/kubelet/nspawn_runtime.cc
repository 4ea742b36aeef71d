// NspawnRuntime: the nspawn command line, starting a container's shim through the launcher, stopping with SIGTERM
// then SIGKILL (waiting on a pidfd), and reading state back from the shim's files; and ProcessLauncher, which
// double-forks the shim into cgroups of its own.
#include "daemons/kubelet/nspawn_runtime.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "daemons/kubelet/cgroups.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::kubelet {

namespace {

// After the container process exits, its shim records the status within milliseconds; wait at most this long.
constexpr auto kExitRecordTimeout = std::chrono::seconds(5);
// The exit status of nspawn's stub init when the container's command died of a signal (EXIT_EXCEPTION).
constexpr int kStubInitKilledBySignal = 255;
// Hostnames are at most 63 characters (a DNS label), as Kubernetes truncates pod hostnames.
constexpr size_t kMaxHostname = 63;
// systemd-machined's limit on machine names (they are host names).
constexpr size_t kMaxMachineName = 64;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes a container's spec.json: the owner's alone (0600) whatever the umask, even a file an older run left
// readable, since it carries the container's environment and so the values of its Secrets (env from secretKeyRef,
// envFrom secretRef).
void write_private(const fs::path& p, const std::string& data) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + p.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  for (size_t off = 0; ok && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += size_t(n);
  }
  int saved = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) throw std::runtime_error("cannot write " + p.string() + ": " + std::strerror(saved));
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

// Waits until `pid` exits (or the timeout passes); true when it is gone.
bool wait_exit(int pid, std::chrono::milliseconds timeout) {
  int fd = int(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return !alive(pid);
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, int(timeout.count()));
  ::close(fd);
  return r > 0 || !alive(pid);
}

// The parent of a process (field 4 of /proc/PID/stat, after the parenthesised command name), 0 when unknown.
int parent(int pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  int ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// The first child of a process (from /proc/PID/task/PID/children), 0 when it has none.
int first_child(int pid) {
  std::istringstream children(read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
  int child = 0;
  children >> child;
  return child;
}

// The container's main process: the child of nspawn is the container's stub init (--as-pid2), whose child runs the
// container's command. 0 while the container is still starting.
int main_process(int nspawn_pid) {
  int init = first_child(nspawn_pid);
  return init > 0 ? first_child(init) : 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

std::string ProcessLauncher::launch(const ContainerSpec& spec, const std::vector<std::string>& argv) {
  std::string cgroup = "kctl/pod-" + spec.pod_uid + "/" + spec.id;
  ContainerCgroup cg(cgroup, cgroup_root_);
  cg.create(spec.cpu_limit_millis, spec.memory_limit_bytes);
  int ready[2];
  if (::pipe2(ready, 0) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> args = argv;
  args.insert(std::find(args.begin(), args.end(), "--"), "--ready-fd=" + std::to_string(ready[1]));
  pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    // Double fork: the shim is not the kubelet's child, so it lives on (and is reaped by the node's reaper)
    // whatever happens to the kubelet. It starts in the container's cgroups, and nspawn below it too.
    ::close(ready[0]);
    if (::fork() != 0) ::_exit(0);
    cg.add_process(::getpid());
    std::vector<char*> a;
    for (auto& s : args) a.push_back(s.data());
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  char byte = 0;
  ssize_t n;
  while ((n = ::read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  if (n != 1) {
    cg.remove();
    throw std::runtime_error("the container shim did not start (" + argv[0] + ")");
  }
  return cgroup;
}

void ProcessLauncher::release(const std::string& cgroup) { ContainerCgroup(cgroup, cgroup_root_).remove(); }

// ---------------------------------------------------------------------------------------------------------------

NspawnRuntime::NspawnRuntime(std::string root, std::vector<std::string> shim, ShimLauncherPtr launcher,
                             std::string cgroup_root)
    : root_(std::move(root)), shim_(std::move(shim)), launcher_(std::move(launcher)),
      cgroup_root_(std::move(cgroup_root)) {
  fs::create_directories(fs::path(root_) / "containers");
}

std::string NspawnRuntime::dir(const std::string& id) const { return (fs::path(root_) / "containers" / id).string(); }

std::string NspawnRuntime::machine_name(const ContainerSpec& s) {
  // Machine names are host names: at most 64 characters. The hash tells apart pods of one name in two namespaces
  // and the attempts of one container.
  char hash[16];
  std::snprintf(hash, sizeof hash, "%08llx", (unsigned long long)(std::hash<std::string>{}(s.id) & 0xffffffffULL));
  std::string readable = (s.pod_name + "-" + s.container_name).substr(0, kMaxMachineName - 9);
  while (!readable.empty() && (readable.back() == '-' || readable.back() == '.')) readable.pop_back();
  return readable + "-" + hash;
}

std::vector<std::string> NspawnRuntime::nspawn_command(const ContainerSpec& s, bool register_machine) {
  std::string hostname = (s.hostname.empty() ? s.pod_name : s.hostname).substr(0, kMaxHostname);
  std::vector<std::string> cmd = {"systemd-nspawn", "--quiet", register_machine ? "--register=yes" : "--register=no",
                                  // the cgroup nspawn starts in is the container's (a unit's, or the launcher's)
                                  "--keep-unit", "--as-pid2",
                                  // one SIGTERM to nspawn stops the container through its stub init
                                  "--kill-signal=SIGRTMIN+3", "--machine=" + machine_name(s),
                                  "--console=pipe", "-D", s.rootfs};
  if (!hostname.empty()) cmd.push_back("--hostname=" + hostname);
  if (!s.netns_path.empty()) cmd.push_back("--network-namespace-path=" + s.netns_path);
  if (!s.working_dir.empty()) cmd.push_back("--chdir=" + s.working_dir);
  for (const auto& [k, v] : s.env) cmd.push_back("--setenv=" + k + "=" + v);
  for (const auto& m : s.mounts) {
    cmd.push_back((m.read_only ? "--bind-ro=" : "--bind=") + m.source + ":" + m.target);
    // The kubelet's file, not one nspawn would copy from the host.
    if (m.target == "/etc/resolv.conf") cmd.push_back("--resolv-conf=off");
  }
  cmd.push_back("--");
  cmd.insert(cmd.end(), s.argv.begin(), s.argv.end());
  return cmd;
}

void NspawnRuntime::start(const ContainerSpec& spec) {
  if (spec.argv.empty()) throw std::runtime_error("container " + spec.container_name + " has no command to run");
  fs::path d = dir(spec.id);
  if (fs::exists(d / "pid") && alive(pid(spec.id))) return;  // already running (re-adopted)
  fs::remove_all(d);
  fs::create_directories(d);
  if (!spec.log_path.empty()) fs::create_directories(fs::path(spec.log_path).parent_path());
  std::vector<std::string> argv = shim_;
  argv.push_back("--dir=" + d.string());
  argv.push_back("--log=" + spec.log_path);
  if (spec.log_rotation.max_size > 0) {
    argv.push_back("--log-max-size=" + std::to_string(spec.log_rotation.max_size));
    argv.push_back("--log-max-files=" + std::to_string(spec.log_rotation.max_files));
  }
  argv.push_back("--");
  for (auto& a : nspawn_command(spec, launcher_->registers_machines())) argv.push_back(std::move(a));
  json meta = {{"id", spec.id}, {"podUID", spec.pod_uid}, {"podNamespace", spec.pod_namespace},
               {"podName", spec.pod_name}, {"container", spec.container_name}, {"cgroup", ""},
               {"logPath", spec.log_path}, {"rootfs", spec.rootfs}, {"env", spec.env},
               {"workingDir", spec.working_dir}};
  write_private(d / "spec.json", meta.dump() + "\n");
  // Recorded again with the cgroup once the launcher made it (a kubelet that dies in between finds the container
  // without one, and stops it by its pid alone).
  meta["cgroup"] = launcher_->launch(spec, argv);
  write_private(d / "spec.json", meta.dump() + "\n");
}

int NspawnRuntime::pid(const std::string& id) const { return std::atoi(read_file(fs::path(dir(id)) / "pid").c_str()); }

void NspawnRuntime::stop(const std::string& id, std::chrono::seconds grace) {
  int p = pid(id);
  fs::path d = dir(id);
  if (alive(p)) {
    // SIGTERM to the container's main process alone, as CRI runtimes stop a container. Not through nspawn: its stub
    // init follows the SIGTERM it forwards with a SIGHUP, which ends most programs at once, grace period or not.
    // When the command is gone, the stub init exits with its status and nspawn with it.
    std::ofstream(d / "stop-signal") << SIGTERM << "\n";
    int main = main_process(p);
    ::kill(main > 0 ? main : p, SIGTERM);
    if (!wait_exit(p, grace)) {
      std::ofstream(d / "stop-signal") << SIGKILL << "\n";
      // The shim shares the container's cgroup: it is spared, to record how the container ended.
      int shim = parent(p);
      ::kill(p, SIGKILL);
      json meta = json::parse(read_file(d / "spec.json"), nullptr, false);
      if (meta.is_object()) ContainerCgroup(meta.value("cgroup", ""), cgroup_root_).kill_all(SIGKILL, shim);
      wait_exit(p, std::chrono::seconds(5));
    }
  }
  // The shim writes exit.json right after its child is gone.
  auto deadline = std::chrono::steady_clock::now() + kExitRecordTimeout;
  while (fs::exists(d / "pid") && !fs::exists(d / "exit.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

ContainerState NspawnRuntime::state(const std::string& id) const {
  ContainerState s;
  fs::path d = dir(id);
  s.started_at = trim(read_file(d / "started"));
  if (fs::exists(d / "exit.json")) {
    json e = json::parse(read_file(d / "exit.json"), nullptr, false);
    s.phase = ContainerState::Phase::Exited;
    s.exit_code = e.value("exitCode", 255);
    s.signal = e.value("signal", 0);
    s.started_at = e.value("startedAt", s.started_at);
    s.finished_at = e.value("finishedAt", "");
    // A container stopped here whose command died of the signal it was sent (the stub init then exits 255) ended
    // as runc-based runtimes report it: 143, or 137 after the grace period, so that a container killed for its
    // liveness probe does not look Completed. One that caught the SIGTERM and exited keeps its own code.
    int stop_signal = std::atoi(read_file(d / "stop-signal").c_str());
    if (stop_signal > 0 && s.signal == 0 && s.exit_code == kStubInitKilledBySignal) {
      s.signal = stop_signal;
      s.exit_code = 128 + stop_signal;
    }
    json meta = json::parse(read_file(d / "spec.json"), nullptr, false);
    bool oom = meta.is_object() && ContainerCgroup(meta.value("cgroup", ""), cgroup_root_).oom_killed();
    s.reason = oom ? "OOMKilled" : s.exit_code == 0 ? "Completed" : "Error";
    // nspawn's stub init exits 255 when its command was killed by a signal; the OOM killer's is SIGKILL, which
    // Kubernetes reports as 128 + 9.
    if (oom && s.exit_code == kStubInitKilledBySignal) s.exit_code = 128 + SIGKILL;
    return s;
  }
  int p = pid(id);
  if (alive(p)) {
    s.phase = ContainerState::Phase::Running;
    s.pid = p;
  }
  return s;
}

void NspawnRuntime::remove(const std::string& id) {
  fs::path d = dir(id);
  json meta = json::parse(read_file(d / "spec.json"), nullptr, false);
  if (meta.is_object() && !meta.value("cgroup", "").empty()) launcher_->release(meta.value("cgroup", ""));
  std::error_code ec;
  fs::remove_all(d, ec);
}

std::vector<std::string> NspawnRuntime::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "containers", ec)) out.push_back(e.path().filename());
  return out;
}

// The nspawn process's child is the container's init (its stub init, as --as-pid2 runs it): inside every
// namespace of the container.
ExecTarget NspawnRuntime::exec_target(const std::string& id) const {
  ExecTarget t;
  int p = pid(id);
  if (!alive(p)) return t;
  t.pid = first_child(p);
  json meta = json::parse(read_file(fs::path(dir(id)) / "spec.json"), nullptr, false);
  if (meta.is_object()) {
    if (meta.contains("env") && meta["env"].is_array())
      t.env = meta["env"].get<std::vector<std::pair<std::string, std::string>>>();
    t.working_dir = meta.value("workingDir", "");
  }
  return t;
}

}  // namespace kctl::kubelet
