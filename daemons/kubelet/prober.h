// The kubelet's prober: one worker thread per container that has probes, running its startup, liveness and
// readiness probes on their periods against the container's current instance. The results (started, ready, and
// whether the container must be restarted) are kept per instance; a result that changes wakes the pod's sync.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/kubelet/container_runtime.h"
#include "daemons/kubelet/probe.h"

namespace kctl::kubelet {

// What the probes say about one container instance, for the kubelet to act on and report.
struct ProbeStatus {
  bool started = true;  // no startup probe, or it succeeded
  bool ready = true;    // no readiness probe, or it says ready (always false before started)
  // Set once a liveness or startup probe failed past its failureThreshold: the container must be killed.
  std::string kill_message;                 // "Container web failed liveness probe"
  std::optional<int64_t> kill_grace_seconds;  // the failed probe's own terminationGracePeriodSeconds
};

// The pod as the prober sees it, handed over on every sync.
struct ProbedPod {
  std::string uid, key, hostname, ip;  // key: namespace/name, for the wake-up
  struct Container {
    std::string name;
    nlohmann::json spec;       // the container's spec (probes, named ports)
    std::string container_id;  // its current instance; "" when none was started yet
  };
  std::vector<Container> containers;  // app containers only: init containers are not probed
  // The pod's last reported containerStatuses, so that a restarted kubelet does not report a running, ready
  // container unready until its probe runs again.
  nlohmann::json reported_statuses;
};

class ProbeWorker;

class Prober {
 public:
  using Wake = std::function<void(const std::string& pod_key)>;
  // A probe failed: "Liveness probe failed: ..." (Kubernetes' Unhealthy event). Called on the worker's thread.
  using Unhealthy = std::function<void(const std::string& pod_key, const std::string& pod_uid,
                                       const std::string& container, const std::string& message)>;
  Prober(const ContainerRuntime& runtime, Wake wake, Unhealthy unhealthy = nullptr);
  ~Prober();

  // Starts workers for the pod's containers with probes and points them at their current instances.
  void update_pod(const ProbedPod& pod);
  // Stops the pod's workers (it was deleted, or finished) and forgets their results.
  void remove_pod(const std::string& uid);
  // Stops every worker; pods keep running (a restarted kubelet probes them again).
  void stop();

  // The probes' verdict on one instance of a container; the defaults when that instance has not been probed yet.
  ProbeStatus status(const std::string& uid, const std::string& container, const std::string& container_id) const;

 private:
  const ContainerRuntime& runtime_;
  Wake wake_;
  Unhealthy unhealthy_;
  mutable std::mutex mutex_;
  // pod uid -> container name -> worker; guarded by mutex_ (the workers themselves are thread-safe)
  std::map<std::string, std::map<std::string, std::unique_ptr<ProbeWorker>>> workers_;
  bool stopped_ = false;  // guarded by mutex_
};
using ProberPtr = std::unique_ptr<Prober>;

}  // namespace kctl::kubelet
