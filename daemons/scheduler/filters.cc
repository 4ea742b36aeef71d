// The filters, the diagnosis of a pod no node takes, and its message.
#include "daemons/scheduler/filters.h"

#include <algorithm>

namespace kctl::scheduler {

namespace {

using Code = FilterStatus::Code;

// kube-scheduler's defaults: below 100 nodes every node is checked; above, 50% less 1% per 125 nodes, at least 5%,
// and never fewer than 100 nodes.
constexpr size_t kMinFeasibleNodesToFind = 100;
constexpr size_t kMinFeasibleNodesPercentageToFind = 5;

FilterStatus reject(Code code, std::string reason) { return {code, {std::move(reason)}}; }

const Taint kUnschedulableTaint{"node.kubernetes.io/unschedulable", "", "NoSchedule"};

}  // namespace

std::string untolerated_taint_reason(const Taint& t) {
  return "node(s) had untolerated taint {" + t.key + ": " + t.value + "}";
}

FilterStatus run_filters(const PodInfo& pod, const NodeInfo& node) {
  const NodeSpec& n = node.spec();
  // NodeUnschedulable
  if (n.unschedulable && !tolerated(pod.tolerations, kUnschedulableTaint))
    return reject(Code::UnschedulableAndUnresolvable, reason::kUnschedulable);
  // NodeName
  if (!pod.node_name.empty() && pod.node_name != n.name)
    return reject(Code::UnschedulableAndUnresolvable, reason::kNodeName);
  // TaintToleration: the first NoSchedule/NoExecute taint not tolerated
  for (const auto& t : n.taints)
    if ((t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(pod.tolerations, t))
      return reject(Code::UnschedulableAndUnresolvable, untolerated_taint_reason(t));
  // NodeAffinity (nodeSelector and required node affinity)
  if (!pod.matches_node_selector(n.name, n.labels))
    return reject(Code::UnschedulableAndUnresolvable, reason::kNodeAffinity);
  // NodePorts
  if (!pod.host_ports.empty() && node.port_conflict(pod.host_ports))
    return reject(Code::Unschedulable, reason::kNodePorts);
  // NodeResourcesFit: every resource that does not fit is a reason
  FilterStatus fit;
  if (node.pod_count() + 1 > n.allowed_pods) fit.reasons.push_back(reason::kTooManyPods);
  const Resources& want = pod.requests;
  const Resources& used = node.requested();
  if (want.milli_cpu > 0 && want.milli_cpu > n.allocatable.milli_cpu - used.milli_cpu)
    fit.reasons.push_back(reason::kInsufficientCpu);
  if (want.memory > 0 && want.memory > n.allocatable.memory - used.memory)
    fit.reasons.push_back(reason::kInsufficientMemory);
  if (want.ephemeral_storage > 0 && want.ephemeral_storage > n.allocatable.ephemeral_storage - used.ephemeral_storage)
    fit.reasons.push_back(reason::kInsufficientEphemeralStorage);
  if (!fit.reasons.empty()) fit.code = Code::Unschedulable;
  return fit;
}

void Diagnosis::add(const FilterStatus& s) {
  for (const auto& r : s.reasons) ++reasons[r];
  if (s.code == Code::Unschedulable) ++resolvable_nodes;
  if (s.code == Code::UnschedulableAndUnresolvable) ++unresolvable_nodes;
}

void Diagnosis::add_unresolvable(const std::string& r, int nodes) {
  if (nodes <= 0) return;
  reasons[r] += nodes;
  unresolvable_nodes += nodes;
}

namespace {

// "N reason" entries sorted as strings (sort.Strings), joined with ", ".
std::string histogram(const std::map<std::string, int>& reasons) {
  std::vector<std::string> entries;
  for (const auto& [r, n] : reasons) entries.push_back(std::to_string(n) + " " + r);
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const auto& e : entries) out += (out.empty() ? "" : ", ") + e;
  return out;
}

}  // namespace

std::string fit_error_message(const PodInfo& pod, const Diagnosis& d) {
  std::string nodes = "0/" + std::to_string(d.num_all_nodes) + " nodes are available";
  std::string msg = nodes + ":";
  if (std::string h = histogram(d.reasons); !h.empty()) msg += " " + h + ".";
  // DefaultPreemption's PostFilter, prefixed "preemption: ".
  if (pod.preemption_policy == "Never") return msg + " preemption: not eligible due to preemptionPolicy=Never.";
  std::map<std::string, int> preemption;
  if (d.unresolvable_nodes) preemption[reason::kPreemptionNotHelpful] = d.unresolvable_nodes;
  if (d.resolvable_nodes) preemption[reason::kNoPreemptionVictims] = d.resolvable_nodes;
  msg += " preemption: " + nodes + ":";
  if (std::string h = histogram(preemption); !h.empty()) msg += " " + h + ".";
  return msg;
}

size_t num_feasible_nodes_to_find(size_t n) {
  if (n < kMinFeasibleNodesToFind) return n;
  size_t percentage = 50 > n / 125 ? 50 - n / 125 : 0;
  percentage = std::max(percentage, kMinFeasibleNodesPercentageToFind);
  size_t num = n * percentage / 100;
  return std::max(num, kMinFeasibleNodesToFind);
}

}  // namespace kctl::scheduler
