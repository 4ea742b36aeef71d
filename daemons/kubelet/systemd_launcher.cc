// SystemdLauncher: the transient service of a container (its properties: notify type, the shim as ExecStart, the
// limits, delegation for nspawn's own sub-cgroups), waiting for its start job through the manager's JobRemoved
// signal, and the unit's control group read back for the runtime; and the choice of launcher.
#include "daemons/kubelet/systemd_launcher.h"

#include <chrono>
#include <stdexcept>

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-daemon.h>

namespace kctl::kubelet {

namespace {

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitPrefix = "kctl-pod-";
// The slice every container's unit is placed in (Kubernetes' systemd cgroup driver uses kubepods.slice).
constexpr const char* kPodsSlice = "kctl-pods.slice";
// A start job ends once the shim has run nspawn and notified READY=1: milliseconds, unless the manager is stuck.
constexpr auto kJobTimeout = std::chrono::seconds(30);
// systemd's own limit on unit names.
constexpr size_t kMaxUnitName = 255;
// How long systemd gives a container to stop when someone stops its unit by hand (the kubelet stops containers
// itself, with the pod's grace period, by signalling nspawn).
constexpr uint64_t kStopTimeoutMicros = 5ull * 60 * 1000 * 1000;

using Property = sdbus::Struct<std::string, sdbus::Variant>;
using ExecCommand = sdbus::Struct<std::string, std::vector<std::string>, bool>;
using AuxUnit = sdbus::Struct<std::string, std::vector<Property>>;

}  // namespace

SystemdLauncher::SystemdLauncher() {
  try {
    connection_ = sdbus::createSystemBusConnection();
    manager_ = sdbus::createProxy(*connection_, kSystemd, "/org/freedesktop/systemd1");
    manager_->uponSignal("JobRemoved")
        .onInterface(kManager)
        .call([this](uint32_t, const sdbus::ObjectPath& job, const std::string& unit, const std::string& result) {
          if (unit.rfind(kUnitPrefix, 0) != 0) return;
          std::lock_guard lock(mutex_);
          job_results_[job] = result;
          job_done_.notify_all();
        });
    manager_->finishRegistration();
    connection_->enterEventLoopAsync();
    manager_->callMethod("Subscribe").onInterface(kManager);  // the manager sends job signals to subscribers only
  } catch (const sdbus::Error& e) {
    throw std::runtime_error("cannot reach systemd on the system bus: " + e.getMessage());
  }
}

SystemdLauncher::~SystemdLauncher() {
  if (connection_) connection_->leaveEventLoop();
}

std::string SystemdLauncher::unit_name(const ContainerSpec& spec) {
  std::string attempt = spec.id.substr(spec.id.rfind('_') + 1);
  std::string name = std::string(kUnitPrefix) + spec.pod_namespace + "_" + spec.pod_name + "_" + spec.container_name +
                     "_" + attempt + ".service";
  // Names of Kubernetes objects fit in a unit name unless a pod name is near its 253 characters: then the id.
  return name.size() <= kMaxUnitName ? name : std::string(kUnitPrefix) + spec.id + ".service";
}

std::string SystemdLauncher::start_unit(const std::string& unit, const ContainerSpec& spec,
                                        const std::vector<std::string>& argv) {
  std::vector<Property> props = {
      {"Description", sdbus::Variant("kctl pod " + spec.pod_namespace + "/" + spec.pod_name + " container " +
                                     spec.container_name)},
      {"Type", sdbus::Variant(std::string("notify"))},
      {"NotifyAccess", sdbus::Variant(std::string("main"))},
      {"ExecStart", sdbus::Variant(std::vector<ExecCommand>{{argv[0], argv, false}})},
      {"Slice", sdbus::Variant(std::string(kPodsSlice))},
      // nspawn makes payload/ and supervisor/ below the unit's cgroup.
      {"Delegate", sdbus::Variant(true)},
      // systemctl stop signals the shim, which passes SIGTERM on to nspawn and records how the container ended.
      {"KillMode", sdbus::Variant(std::string("mixed"))},
      {"TimeoutStopUSec", sdbus::Variant(kStopTimeoutMicros)},
      {"CollectMode", sdbus::Variant(std::string("inactive-or-failed"))},
      {"SyslogIdentifier", sdbus::Variant(spec.pod_name + "/" + spec.container_name)},
  };
  if (spec.cpu_limit_millis > 0)
    props.push_back({"CPUQuotaPerSecUSec", sdbus::Variant(uint64_t(spec.cpu_limit_millis) * 1000)});
  // MemoryMax is applied as memory.limit_in_bytes on a v1 hierarchy too.
  if (spec.memory_limit_bytes > 0) props.push_back({"MemoryMax", sdbus::Variant(uint64_t(spec.memory_limit_bytes))});
  sdbus::ObjectPath job;
  manager_->callMethod("StartTransientUnit")
      .onInterface(kManager)
      .withArguments(unit, std::string("fail"), props, std::vector<AuxUnit>{})
      .storeResultsTo(job);
  return job;
}

std::string SystemdLauncher::wait_for_job(const std::string& job) {
  std::unique_lock lock(mutex_);
  if (!job_done_.wait_for(lock, kJobTimeout, [&] { return job_results_.count(job) > 0; })) return "timeout";
  std::string result = job_results_[job];
  job_results_.erase(job);
  return result;
}

std::string SystemdLauncher::launch(const ContainerSpec& spec, const std::vector<std::string>& argv) {
  std::string unit = unit_name(spec);
  std::string job;
  try {
    try {
      job = start_unit(unit, spec, argv);
    } catch (const sdbus::Error& e) {
      // A unit of that name is left from a deleted pod of the same name: this one's carries its uid.
      if (e.getName() != "org.freedesktop.systemd1.UnitExists") throw;
      unit = std::string(kUnitPrefix) + spec.id + ".service";
      job = start_unit(unit, spec, argv);
    }
  } catch (const sdbus::Error& e) {
    throw std::runtime_error("systemd cannot start " + unit + ": " + e.getMessage());
  }
  std::string result = wait_for_job(job);
  if (result != "done")
    throw std::runtime_error("the container's unit " + unit + " did not start (job " + result +
                             "; see journalctl -u " + unit + ")");
  try {
    sdbus::ObjectPath path;
    manager_->callMethod("GetUnit").onInterface(kManager).withArguments(unit).storeResultsTo(path);
    auto proxy = sdbus::createProxy(*connection_, kSystemd, path);
    std::string cgroup = proxy->getProperty("ControlGroup").onInterface("org.freedesktop.systemd1.Service");
    return cgroup.empty() || cgroup[0] != '/' ? cgroup : cgroup.substr(1);
  } catch (const sdbus::Error& e) {
    // The container ran and exited already, and its unit was collected: there is no cgroup left to look at.
    if (e.getName() == "org.freedesktop.systemd1.NoSuchUnit") return "";
    throw std::runtime_error("cannot read the control group of " + unit + ": " + e.getMessage());
  }
}

// systemd removes a unit's cgroup when the unit stops, and the unit itself goes with CollectMode.
void SystemdLauncher::release(const std::string&) {}

ShimLauncherPtr make_shim_launcher(const std::string& kind, const std::string& cgroup_root) {
  if (kind == "systemd" || (kind == "auto" && sd_booted() > 0)) return std::make_unique<SystemdLauncher>();
  if (kind == "process" || kind == "auto") return std::make_unique<ProcessLauncher>(cgroup_root);
  throw std::invalid_argument("--container-launcher must be auto, systemd or process, not \"" + kind + "\"");
}

}  // namespace kctl::kubelet
