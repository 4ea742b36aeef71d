// A node as the scheduler sees it: what its Node object says (labels, taints, allocatable, readiness) and the
// aggregates of the pods bound or assumed on it, kept up to date pod by pod so a scheduling cycle never walks pods.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/scheduler/pod_info.h"

namespace kctl::scheduler {

// What a Node object says that scheduling depends on.
struct NodeSpec {
  std::string name;
  std::map<std::string, std::string> labels;
  // spec.taints, plus the taint the node lifecycle controller puts on a node that is not Ready
  // (node.kubernetes.io/not-ready or /unreachable, NoSchedule), so pods that tolerate it may still go there.
  std::vector<Taint> taints;
  bool unschedulable = false;
  bool ready = false;
  Resources allocatable;
  int64_t allowed_pods = 0;
  bool operator==(const NodeSpec&) const = default;
};
NodeSpec parse_node(const nlohmann::json& node);

class NodeInfo {
 public:
  explicit NodeInfo(std::string name) { spec_.name = std::move(name); }

  const std::string& name() const { return spec_.name; }
  const NodeSpec& spec() const { return spec_; }
  // False for a node only known from the pods bound to it (its Node object not seen, or deleted).
  bool has_node() const { return has_node_; }
  void set_spec(NodeSpec spec) {
    spec_ = std::move(spec);
    has_node_ = true;
  }
  void clear_spec() { has_node_ = false; }

  void add_pod(const PodInfo& pod);
  void remove_pod(const PodInfo& pod);

  int64_t pod_count() const { return pod_count_; }
  const Resources& requested() const { return requested_; }
  const Resources& non_zero_requested() const { return non_zero_requested_; }
  // True when one of `ports` is taken on this node (same protocol and port, and either address is 0.0.0.0 or
  // both are the same).
  bool port_conflict(const std::vector<HostPort>& ports) const;
  // Pods on this node that share one of `keys` (counted once per key they carry).
  int64_t spread_count(const std::vector<std::string>& keys) const;
  // Spread keys come from Services too, which change apart from pods: the cache recomputes them.
  void add_spread_keys(const std::vector<std::string>& keys, int delta);

 private:
  NodeSpec spec_;
  bool has_node_ = false;
  int64_t pod_count_ = 0;
  Resources requested_, non_zero_requested_;
  // (protocol, port) -> address -> number of pods using it
  std::map<std::pair<std::string, int>, std::map<std::string, int>> used_ports_;
  std::unordered_map<std::string, int64_t> spread_counts_;
};

}  // namespace kctl::scheduler
