// The Score plugins: NodeResourcesFit's LeastAllocated, NodeResourcesBalancedAllocation, spreading the pods of one
// owner or Service over nodes, preferred node affinity and PreferNoSchedule taints, each normalized to 0..100 and
// summed with kube-scheduler's default weights.
#pragma once

#include <cstdint>
#include <vector>

#include "daemons/scheduler/node_info.h"
#include "daemons/scheduler/pod_info.h"

namespace kctl::scheduler {

inline constexpr int64_t kMaxNodeScore = 100;

// The default profile's plugin weights (PodTopologySpread's 2 for spreading).
struct ScoreWeights {
  int64_t least_allocated = 1;
  int64_t balanced_allocation = 1;
  int64_t spread = 2;
  int64_t node_affinity = 2;
  int64_t taint_toleration = 3;
};

// Each feasible node's total score, in the order of `nodes`.
std::vector<int64_t> score_nodes(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                 const ScoreWeights& weights = {});

// The per-plugin scores, exposed for tests.
int64_t least_allocated_score(const PodInfo& pod, const NodeInfo& node);
int64_t balanced_allocation_score(const PodInfo& pod, const NodeInfo& node);

}  // namespace kctl::scheduler
