// Where systemd is PID 1, each container's shim runs as a transient service started through org.freedesktop.systemd1
// (StartTransientUnit), so `systemctl list-units 'kctl-pod-*'`, `systemctl status` and `journalctl -u` show the
// containers, systemd applies their cpu and memory limits, and nspawn registers each with systemd-machined
// (`machinectl list`). The units are the node's, not the kubelet's: they live on through kubelet restarts.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemons/kubelet/nspawn_runtime.h"

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace kctl::kubelet {

class SystemdLauncher : public ShimLauncher {
 public:
  // Connects to the system bus (the systemd manager). Throws std::runtime_error when it cannot.
  SystemdLauncher();
  ~SystemdLauncher() override;

  std::string launch(const ContainerSpec& spec, const std::vector<std::string>& argv) override;
  void release(const std::string& cgroup) override;
  bool registers_machines() const override { return true; }

  // The unit a container runs as: kctl-pod-NAMESPACE_POD_CONTAINER_ATTEMPT.service.
  static std::string unit_name(const ContainerSpec& spec);

 private:
  std::string start_unit(const std::string& unit, const ContainerSpec& spec, const std::vector<std::string>& argv);
  std::string wait_for_job(const std::string& job);

  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<sdbus::IProxy> manager_;
  std::mutex mutex_;
  std::condition_variable job_done_;
  std::map<std::string, std::string> job_results_;  // guarded by mutex_: job path -> result, for kctl-pod units
};

// The launcher --container-launcher names: "systemd", "process", or "auto" (systemd when it is PID 1). Throws
// std::invalid_argument for another name, std::runtime_error when systemd cannot be reached.
ShimLauncherPtr make_shim_launcher(const std::string& kind, const std::string& cgroup_root);

}  // namespace kctl::kubelet
