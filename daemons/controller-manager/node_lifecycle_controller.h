// Node lifecycle ("nodelifecycle", kube's node-controller): a node whose kubelet has neither renewed its Lease in
// kube-node-lease nor posted status for --node-monitor-grace-period gets its conditions set to Unknown ("Kubelet
// stopped posting node status."); nodes get the taints their conditions call for (not-ready / unreachable with
// NoSchedule and NoExecute, the pressure taints with NoSchedule) and lose them when they recover; the pods of a
// node that stops being Ready are marked not Ready. Evicting pods from NoExecute-tainted nodes is the
// taint-eviction-controller's job.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "api/event_recorder.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

// A node that never posted a Ready condition gets this long (kube's --node-startup-grace-period), or the monitor
// grace period if that is longer.
inline constexpr std::chrono::seconds kNodeStartupGracePeriod{60};

class NodeLifecycleController : public Controller {
 public:
  explicit NodeLifecycleController(ControllerContext& context);
  ~NodeLifecycleController() override;
  void resync() override;

 protected:
  // Keys are node names, or "namespace/name" of a pod just bound to a node (names of nodes have no '/').
  void sync(const std::string& key) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Health {
    std::string heartbeat;    // the Ready condition's lastHeartbeatTime as last seen
    std::string lease_renew;  // the Lease's renewTime as last seen
    Clock::time_point probe;  // when the kubelet was last heard from, by our clock (skew between nodes is moot)
  };

  void sync_node(const std::string& name);
  void sync_pod(const std::string& key);
  // Sets the conditions of a node not heard from for its grace period to Unknown; returns the node as stored.
  nlohmann::json update_health(const nlohmann::json& node);
  void reconcile_taints(const nlohmann::json& node, bool full_disruption);
  void mark_pods_not_ready(const std::string& node_name, const std::vector<api::ObjectPtr>& pods);
  // Every node that counts is not Ready (`self` as given): the control plane, not the nodes, is probably cut off,
  // so nothing is evicted (kube's "master disruption mode").
  bool all_nodes_not_ready(const std::string& self, bool self_ready) const;

  api::Informer& nodes_;
  api::Informer& leases_;
  api::Informer& pods_;
  api::EventRecorder events_;
  std::mutex mutex_;
  std::map<std::string, Health> health_;  // guarded by mutex_
  std::set<std::string> mark_pods_;       // nodes whose pods still have to be marked not Ready; guarded by mutex_
  bool full_disruption_ = false;          // guarded by mutex_
};

}  // namespace kctl::controllers
