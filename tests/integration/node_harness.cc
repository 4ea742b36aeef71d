// ensure_system_bus and busybox_rootfs for the node tests.
#include "node_harness.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "daemons/kubelet/cgroups.h"
#include "daemons/kubelet/image_store.h"
#include "harness.h"

namespace kctl::test {

namespace {
std::string read_text(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

void ensure_system_bus() {
  if (std::filesystem::exists("/run/dbus/system_bus_socket")) return;
  std::filesystem::create_directories("/run/dbus");
  auto r = run({"dbus-daemon", "--system", "--fork"});
  ASSERT_EQ(r.rc, 0) << "cannot start the system bus: " << r.err;
}

std::string busybox_rootfs(const std::string& dir) {
  auto r = run({std::string(KCTL_SOURCE_DIR) + "/scripts/build-busybox-rootfs", dir});
  EXPECT_EQ(r.rc, 0) << r.err;
  return dir;
}

KubeletProcess::KubeletProcess(const std::string& apiserver, const std::string& name, const std::string& root,
                               const std::string& pod_cidr, const std::string& node_ip,
                               std::vector<std::string> extra_args)
    : apiserver_(apiserver), name_(name), root_(root), pod_cidr_(pod_cidr), node_ip_(node_ip),
      extra_args_(std::move(extra_args)) {
  kubelet::ImageStore images(root_ + "/images");
  if (!images.find("kctl/busybox:latest")) images.import("kctl/busybox:latest", busybox_rootfs(root_ + "/busybox-src"));
  start();
}

KubeletProcess::~KubeletProcess() { stop(); }

void KubeletProcess::start() {
  std::vector<std::string> args = {std::string(KCTL_BIN_DIR) + "/kctl-kubelet", "--apiserver=" + apiserver_,
                                   "--hostname-override=" + name_, "--node-ip=" + node_ip_,
                                   "--pod-cidr=" + pod_cidr_, "--root-dir=" + root_, "--dbus=none",
                                   // As a cluster's kubelets run (docs/dns.md): ClusterFirst pods get the cluster
                                   // server, not the Default fallback with a MissingClusterDNS Event each.
                                   "--cluster-dns=10.96.0.10", "--cluster-domain=cluster.local"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());  // later flags win
  process_.start(args, root_ + "/kubelet.log");
}

void KubeletProcess::stop() { process_.stop(); }

std::string KubeletProcess::log() const { return process_.log(); }

namespace {
// Booting the host's OS to basic.target takes seconds; under load, give it this long.
constexpr int kBootTimeoutSeconds = 90;
}  // namespace

BootedSystemd::BootedSystemd(const std::vector<std::string>& binds)
    : name_("kctl-boot-" + std::to_string(getpid())), dir_(make_temp_dir("boot")) {
  std::vector<std::string> args = {"systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-b", "-D", "/",
                                   "--volatile=yes", "--overlay=/etc::/etc",
                                   "--network-namespace-path=/proc/self/ns/net", "--capability=all",
                                   "--machine=" + name_};
  for (const auto& b : binds) args.push_back("--bind=" + b);
  args.push_back("--");
  args.push_back("systemd.unit=basic.target");
  // nspawn starts from a cgroup of its own (see platform-notes.md), which it leaves to the booted systemd.
  kubelet::ContainerCgroup cg(name_);
  cg.create(0, 0);
  nspawn_pid_ = fork();
  if (nspawn_pid_ == 0) {
    cg.add_process(getpid());
    int fd = open((dir_ + "/console.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    std::vector<char*> a;
    for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  // The container's init is nspawn's child named systemd; the boot is done when is-system-running --wait returns.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kBootTimeoutSeconds);
  while (!leader_ && std::chrono::steady_clock::now() < deadline) {
    std::string children = read_text("/proc/" + std::to_string(nspawn_pid_) + "/task/" +
                                              std::to_string(nspawn_pid_) + "/children");
    std::istringstream in(children);
    for (int pid; in >> pid;)
      if (read_text("/proc/" + std::to_string(pid) + "/comm") == "systemd\n") leader_ = pid;
    if (!leader_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // is-system-running fails at once while the manager is not listening yet.
  for (std::string state; leader_ && state != "running\n" && state != "degraded\n";) {
    if (std::chrono::steady_clock::now() > deadline) leader_ = 0;
    state = run({"systemctl", "is-system-running", "--wait"}, kBootTimeoutSeconds).out;
    if (state != "running\n" && state != "degraded\n") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

BootedSystemd::~BootedSystemd() {
  if (nspawn_pid_ > 0) {
    kill(nspawn_pid_, SIGTERM);  // nspawn asks the container's systemd to power off
    for (int i = 0; i < 300 && waitpid(nspawn_pid_, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (kill(nspawn_pid_, 0) == 0) {
      kill(nspawn_pid_, SIGKILL);
      waitpid(nspawn_pid_, nullptr, 0);
    }
  }
  kubelet::ContainerCgroup(name_).remove();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

CmdResult BootedSystemd::run(const std::vector<std::string>& argv, int timeout_seconds) const {
  std::vector<std::string> args = {"nsenter", "-t", std::to_string(leader_), "-a"};
  args.insert(args.end(), argv.begin(), argv.end());
  return test::run(args, "", timeout_seconds);
}

std::string BootedSystemd::console() const { return read_text(dir_ + "/console.log"); }

}  // namespace kctl::test
