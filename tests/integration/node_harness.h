// Harness pieces for the node tests (kubelet, runtime): the system bus systemd-nspawn wants, and the busybox root
// filesystem built by scripts/build-busybox-rootfs.
#pragma once

#include <string>
#include <vector>

namespace kctl::test {

// Starts the system D-Bus daemon when none runs (systemd is not PID 1 here).
void ensure_system_bus();
// Builds the busybox root filesystem into dir (once per process) and returns dir.
std::string busybox_rootfs(const std::string& dir);

// A kctl-kubelet child process for node `name` talking to `apiserver`, with its root under `root` and the
// busybox image imported as kctl/busybox:latest. Stops it (SIGTERM) when destroyed. extra_args are added to its
// command line (and can be changed for the next start()).
class KubeletProcess {
 public:
  KubeletProcess(const std::string& apiserver, const std::string& name, const std::string& root,
                 const std::string& pod_cidr, const std::string& node_ip, std::vector<std::string> extra_args = {});
  ~KubeletProcess();
  void start();
  void stop();
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  std::string log() const;
  const std::string& root() const { return root_; }

 private:
  std::string apiserver_, name_, root_, pod_cidr_, node_ip_;
  std::vector<std::string> extra_args_;
  int pid_ = 0;
};

}  // namespace kctl::test
