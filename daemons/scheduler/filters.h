// The Filter plugins of kube-scheduler's default profile that kctl has (NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit), run in that order, and the FitError message
// kube-scheduler 1.33 writes when no node passes ("0/3 nodes are available: ... preemption: ...").
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "daemons/scheduler/node_info.h"
#include "daemons/scheduler/pod_info.h"

namespace kctl::scheduler {

// The reasons exactly as kube-scheduler's plugins word them.
namespace reason {
inline constexpr const char* kUnschedulable = "node(s) were unschedulable";
inline constexpr const char* kNodeName = "node(s) didn't match the requested node name";
inline constexpr const char* kNodeAffinity = "node(s) didn't match Pod's node affinity/selector";
inline constexpr const char* kNodeAffinityPreFilter = "node(s) didn't satisfy plugin(s) [NodeAffinity]";
inline constexpr const char* kNodePorts = "node(s) didn't have free ports for the requested pod ports";
inline constexpr const char* kTooManyPods = "Too many pods";
inline constexpr const char* kInsufficientCpu = "Insufficient cpu";
inline constexpr const char* kInsufficientMemory = "Insufficient memory";
inline constexpr const char* kInsufficientEphemeralStorage = "Insufficient ephemeral-storage";
inline constexpr const char* kNoNodesAvailable = "no nodes available to schedule pods";
// The PostFilter (DefaultPreemption) reasons per node.
inline constexpr const char* kPreemptionNotHelpful = "Preemption is not helpful for scheduling";
inline constexpr const char* kNoPreemptionVictims = "No preemption victims found for incoming pod";
}  // namespace reason

// "node(s) had untolerated taint {key: value}"
std::string untolerated_taint_reason(const Taint& t);

struct FilterStatus {
  // Unresolvable: preemption could not help (the node can never take the pod as it is).
  enum class Code { Success, Unschedulable, UnschedulableAndUnresolvable };
  Code code = Code::Success;
  std::vector<std::string> reasons;
  bool ok() const { return code == Code::Success; }
};

// Every filter, stopping at the first plugin that rejects the node (as the framework does).
FilterStatus run_filters(const PodInfo& pod, const NodeInfo& node);

// Why no node took a pod: reasons counted over nodes, and how many nodes preemption could have helped on.
struct Diagnosis {
  size_t num_all_nodes = 0;
  std::map<std::string, int> reasons;
  int resolvable_nodes = 0;    // rejected as Unschedulable
  int unresolvable_nodes = 0;  // rejected as UnschedulableAndUnresolvable
  void add(const FilterStatus& s);
  void add_unresolvable(const std::string& reason, int nodes);
};

// FitError.Error() plus the DefaultPreemption PostFilter message for a pod that cannot preempt (kctl has no
// preemption: every node is either "not helpful" or has no victims).
std::string fit_error_message(const PodInfo& pod, const Diagnosis& d);

// percentageOfNodesToScore's adaptive default: how many feasible nodes are enough to stop filtering.
size_t num_feasible_nodes_to_find(size_t num_all_nodes);

}  // namespace kctl::scheduler
