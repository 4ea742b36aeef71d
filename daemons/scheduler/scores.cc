// Scoring feasible nodes.
#include "daemons/scheduler/scores.h"

#include <algorithm>
#include <cmath>

namespace kctl::scheduler {

namespace {

// (allocatable - requested) / allocatable, in 0..100; a node without the resource scores 0 for it.
int64_t least_requested(int64_t requested, int64_t allocatable) {
  if (allocatable <= 0 || requested > allocatable) return 0;
  return (allocatable - requested) * kMaxNodeScore / allocatable;
}

double fraction(int64_t requested, int64_t allocatable) {
  if (allocatable <= 0) return 1;
  return std::min(1.0, double(requested) / double(allocatable));
}

// Raw scores where more is better, scaled so the best node gets 100 (NodeAffinity's DefaultNormalizeScore).
void normalize(std::vector<int64_t>& raw, bool reverse) {
  int64_t max = 0;
  for (auto v : raw) max = std::max(max, v);
  for (auto& v : raw) {
    if (max == 0) {
      v = reverse ? kMaxNodeScore : 0;
      continue;
    }
    v = v * kMaxNodeScore / max;
    if (reverse) v = kMaxNodeScore - v;
  }
}

}  // namespace

int64_t least_allocated_score(const PodInfo& pod, const NodeInfo& node) {
  const Resources& alloc = node.spec().allocatable;
  Resources used = node.non_zero_requested();
  used += pod.non_zero;
  // cpu and memory, weight 1 each
  return (least_requested(used.milli_cpu, alloc.milli_cpu) + least_requested(used.memory, alloc.memory)) / 2;
}

int64_t balanced_allocation_score(const PodInfo& pod, const NodeInfo& node) {
  const Resources& alloc = node.spec().allocatable;
  Resources used = node.requested();
  used += pod.requests;
  // The standard deviation of the two fractions is half their difference.
  double std_dev = std::fabs(fraction(used.milli_cpu, alloc.milli_cpu) - fraction(used.memory, alloc.memory)) / 2;
  return int64_t((1 - std_dev) * double(kMaxNodeScore));
}

std::vector<int64_t> score_nodes(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                 const ScoreWeights& w) {
  size_t n = nodes.size();
  std::vector<int64_t> total(n, 0), spread(n, 0), affinity(n, 0), taints(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const NodeInfo& node = *nodes[i];
    total[i] = w.least_allocated * least_allocated_score(pod, node) +
               w.balanced_allocation * balanced_allocation_score(pod, node);
    if (!pod.spread_keys.empty()) spread[i] = node.spread_count(pod.spread_keys);
    for (const auto& term : pod.preferred_affinity)
      if (term.preference.matches(node.name(), node.spec().labels)) affinity[i] += term.weight;
    for (const auto& t : node.spec().taints)
      if (t.effect == "PreferNoSchedule" && !tolerated(pod.tolerations, t)) ++taints[i];
  }
  // Fewer pods of the same owner or Service is better: (max - count) / max.
  normalize(spread, true);
  normalize(affinity, false);
  normalize(taints, true);
  for (size_t i = 0; i < n; ++i)
    total[i] += w.spread * spread[i] + w.node_affinity * affinity[i] + w.taint_toleration * taints[i];
  return total;
}

}  // namespace kctl::scheduler
