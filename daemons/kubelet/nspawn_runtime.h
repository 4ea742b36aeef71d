// The container runtime for nodes where systemd is not PID 1: each container is a systemd-nspawn process joined to
// its pod's network namespace, started in cgroups of its own under a shim (container_shim.h) that outlives
// kubelet restarts. State lives in ROOT/containers/<id>/.
#pragma once

#include <string>
#include <vector>

#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

class NspawnRuntime : public ContainerRuntime {
 public:
  // shim: the command that runs a shim, e.g. {"/usr/bin/kctl-kubelet", "shim"}.
  NspawnRuntime(std::string root, std::vector<std::string> shim, std::string cgroup_root = "/sys/fs/cgroup");

  void start(const ContainerSpec& spec) override;
  void stop(const std::string& id, std::chrono::seconds grace) override;
  ContainerState state(const std::string& id) const override;
  void remove(const std::string& id) override;
  std::vector<std::string> list() const override;
  ExecTarget exec_target(const std::string& id) const override;

  // The systemd-nspawn command line for a spec (exposed for tests and for the systemd launcher to share).
  static std::vector<std::string> nspawn_command(const ContainerSpec& spec);

 private:
  std::string dir(const std::string& id) const;
  std::string cgroup_path(const ContainerSpec& spec) const;
  int pid(const std::string& id) const;

  std::string root_;
  std::vector<std::string> shim_;
  std::string cgroup_root_;
};

}  // namespace kctl::kubelet
