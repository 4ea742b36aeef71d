// The scheduler's view of the cluster (kube-scheduler's internal cache): every node with the aggregates of the pods
// bound to it, updated incrementally from the node and bound-pod informers, plus the pods this scheduler has
// assumed onto a node while their binding is in flight, so the next cycle already counts them.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/selector.h"
#include "daemons/scheduler/node_info.h"
#include "daemons/scheduler/pod_info.h"

namespace kctl::scheduler {

// An assumed pod whose binding was acknowledged but which the informer never showed bound is forgotten after
// this long (the pod was deleted meanwhile, or its binding was undone): its resources must not stay booked.
inline constexpr std::chrono::minutes kAssumedPodExpiry{5};

class SchedulerCache {
 public:
  using Clock = std::chrono::steady_clock;

  // Everything below takes the lock itself, except what says it needs the caller to hold it.
  // True when something filters depend on changed (labels, taints, readiness, allocatable, ...).
  bool update_node(const nlohmann::json& node);
  bool remove_node(const std::string& name);
  // A pod the informer shows bound to a node (or no longer bound / terminal: then it is removed). True when
  // resources or ports on some node may have been freed.
  bool update_bound_pod(const nlohmann::json& pod);
  bool remove_bound_pod(const nlohmann::json& pod);
  void update_service(const nlohmann::json& service);
  void remove_service(const nlohmann::json& service);

  // A pod chosen for `node`: counted there at once. Caller holds mutex().
  void assume_locked(const PodInfo& pod, const std::string& node);
  void finish_binding(const std::string& key);
  // The binding failed: the pod's resources are released.
  void forget(const std::string& key, const std::string& uid);
  // Drops assumed pods whose binding finished long ago without the informer confirming it.
  void expire_assumed(Clock::time_point now = Clock::now());

  // For the scheduling cycle, with mutex() held: the nodes with a Node object, in a stable order.
  std::mutex& mutex() { return mu_; }
  const std::vector<const NodeInfo*>& nodes_locked();
  const NodeInfo* node_locked(const std::string& name) const;
  // The pod's spread keys: its owner (from parse_pod) and the Services selecting it. Caller holds mutex().
  std::vector<std::string> spread_keys_locked(const PodInfo& pod) const;

  size_t node_count();
  size_t assumed_count();

 private:
  struct PodState {
    std::shared_ptr<PodInfo> info;  // with the cache's spread keys
    std::string node;
    bool assumed = false;
    bool binding_finished = false;
    Clock::time_point deadline{};
  };
  struct Service {
    std::string name;
    api::LabelSelector selector;
  };

  NodeInfo& node_entry(const std::string& name);
  void drop_node_if_unused(const std::string& name);
  void add_pod_locked(const std::string& key, PodState state);
  void remove_pod_locked(const std::string& key);
  void respread_locked();

  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<NodeInfo>> nodes_;  // guarded by mu_; ghosts included
  std::vector<const NodeInfo*> node_list_;                            // guarded by mu_; rebuilt when dirty
  bool node_list_dirty_ = true;                                       // guarded by mu_
  std::unordered_map<std::string, PodState> pods_;                    // guarded by mu_; key ns/name
  std::map<std::string, std::vector<Service>> services_;              // guarded by mu_; by namespace
};

}  // namespace kctl::scheduler
