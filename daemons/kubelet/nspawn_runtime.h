// The container runtime of systemd-nspawn: each container is a systemd-nspawn process joined to its pod's network
// namespace, run by a shim (container_shim.h) that records its pid, output and exit status, so it outlives kubelet
// restarts. How the shim is started is the launcher's business: as a process of the kubelet's own in cgroups it
// makes (ProcessLauncher, where systemd is not PID 1), or as a transient service of the node's systemd
// (SystemdLauncher, systemd_launcher.h). State lives in ROOT/containers/<id>/ either way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

class ShimLauncher {
 public:
  virtual ~ShimLauncher() = default;
  // Runs `argv` (the shim, which runs systemd-nspawn) for the container and returns once the shim has recorded the
  // container's pid (or failed), with the path below the cgroup hierarchies' roots that holds the container's
  // processes. Throws std::runtime_error.
  virtual std::string launch(const ContainerSpec& spec, const std::vector<std::string>& argv) = 0;
  // Releases what launch() made for a container whose processes are gone.
  virtual void release(const std::string& cgroup) = 0;
  // Whether systemd-nspawn registers the container with systemd-machined (so `machinectl list` shows it).
  virtual bool registers_machines() const = 0;
};
using ShimLauncherPtr = std::unique_ptr<ShimLauncher>;

// Where systemd is not PID 1: the shim is double-forked (so it is nobody's child but the node's reaper's) into
// cgroups the launcher makes under kctl/pod-<uid>/<id>, with the container's limits written there.
class ProcessLauncher : public ShimLauncher {
 public:
  explicit ProcessLauncher(std::string cgroup_root = "/sys/fs/cgroup") : cgroup_root_(std::move(cgroup_root)) {}
  std::string launch(const ContainerSpec& spec, const std::vector<std::string>& argv) override;
  void release(const std::string& cgroup) override;
  bool registers_machines() const override { return false; }

 private:
  std::string cgroup_root_;
};

class NspawnRuntime : public ContainerRuntime {
 public:
  // shim: the command that runs a shim, e.g. {"/usr/bin/kctl-shim"}.
  NspawnRuntime(std::string root, std::vector<std::string> shim, ShimLauncherPtr launcher,
                std::string cgroup_root = "/sys/fs/cgroup");

  void start(const ContainerSpec& spec) override;
  void stop(const std::string& id, std::chrono::seconds grace) override;
  ContainerState state(const std::string& id) const override;
  void remove(const std::string& id) override;
  std::vector<std::string> list() const override;
  ExecTarget exec_target(const std::string& id) const override;

  // The systemd-nspawn command line for a spec; `register_machine` lets nspawn register it with machined.
  static std::vector<std::string> nspawn_command(const ContainerSpec& spec, bool register_machine = false);
  // The machine name of a container: its pod's and its own name, made unique by a hash of its id.
  static std::string machine_name(const ContainerSpec& spec);

 private:
  std::string dir(const std::string& id) const;
  int pid(const std::string& id) const;

  std::string root_;
  std::vector<std::string> shim_;
  ShimLauncherPtr launcher_;
  std::string cgroup_root_;
};

}  // namespace kctl::kubelet
