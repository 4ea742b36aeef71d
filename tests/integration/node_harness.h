// Harness pieces for the node tests (kubelet, runtime): the system bus systemd-nspawn wants, and the busybox root
// filesystem built by scripts/build-busybox-rootfs.
#pragma once

#include <string>
#include <vector>

#include "harness.h"

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
  ChildProcess process_;
};

// The machine's own OS booted with systemd as PID 1 in a systemd-nspawn container, for the node code that needs a
// real systemd (transient units, machined, the journal) on a machine where systemd is not PID 1: a volatile root
// (tmpfs, the host's /usr read-only, a throw-away overlay of its /etc) up to basic.target, sharing the test's network
// namespace, with every capability (the kubelet inside makes bridges and nested containers), and `binds` (host
// paths) at the same paths inside.
class BootedSystemd {
 public:
  explicit BootedSystemd(const std::vector<std::string>& binds);  // waits until the boot is done
  ~BootedSystemd();  // powers it off (SIGTERM to nspawn), waits, removes its cgroups
  bool booted() const { return leader_ > 0; }
  // Runs argv inside, in all of the container's namespaces.
  CmdResult run(const std::vector<std::string>& argv, int timeout_seconds = 60) const;
  std::string console() const;

 private:
  std::string name_, dir_;
  int nspawn_pid_ = 0, leader_ = 0;
};

}  // namespace kctl::test
