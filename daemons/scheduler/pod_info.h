// What the scheduler needs to know of a pod, read once from its JSON: resource requests, node selection
// (nodeSelector, node affinity, tolerations, nodeName), host ports and the keys its pods are spread by.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::scheduler {

// The requests the scheduler accounts for. Extended resources are not (yet) counted.
struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  Resources& operator+=(const Resources& o) {
    milli_cpu += o.milli_cpu;
    memory += o.memory;
    ephemeral_storage += o.ephemeral_storage;
    return *this;
  }
  Resources& operator-=(const Resources& o) {
    milli_cpu -= o.milli_cpu;
    memory -= o.memory;
    ephemeral_storage -= o.ephemeral_storage;
    return *this;
  }
  bool operator==(const Resources&) const = default;
};

// What kube-scheduler assumes a container without a request uses, for scoring only (schedutil.DefaultMilliCPURequest
// and DefaultMemoryRequest): otherwise many request-less pods would all land on one node.
inline constexpr int64_t kDefaultMilliCpuRequest = 100;
inline constexpr int64_t kDefaultMemoryRequest = 200 * 1024 * 1024;

struct Taint {
  std::string key, value, effect;
  bool operator==(const Taint&) const = default;
};

struct Toleration {
  std::string key, op, value, effect;  // op "" means Equal
  bool tolerates(const Taint& t) const;
};
bool tolerated(const std::vector<Toleration>& tolerations, const Taint& t);

// One requirement of a NodeSelectorTerm (matchExpressions or matchFields).
struct NodeSelectorRequirement {
  std::string key, op;
  std::vector<std::string> values;
};

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;
  // A term matches when all its requirements do; a term without any matches no node.
  bool matches(const std::string& node_name, const std::map<std::string, std::string>& labels) const;
};

struct PreferredSchedulingTerm {
  int64_t weight = 0;
  NodeSelectorTerm preference;
};

struct HostPort {
  std::string ip;  // "0.0.0.0" when not given
  std::string protocol;
  int port = 0;
};

struct PodInfo {
  std::string key;  // namespace/name
  std::string ns, name, uid, resource_version;
  std::string scheduler_name, node_name;
  std::string preemption_policy;
  int64_t priority = 0;
  bool being_deleted = false;
  bool terminal = false;  // phase Succeeded or Failed: holds no resources
  bool gated = false;     // spec.schedulingGates not empty: not to be scheduled yet
  std::map<std::string, std::string> labels;
  Resources requests;  // what the pod asks for (NodeResourcesFit)
  Resources non_zero;  // the same with the defaults above for containers that ask for nothing (scoring)
  std::map<std::string, std::string> node_selector;
  std::optional<std::vector<NodeSelectorTerm>> required_affinity;  // nullopt: no required node affinity
  std::vector<PreferredSchedulingTerm> preferred_affinity;
  std::vector<Toleration> tolerations;
  std::vector<HostPort> host_ports;
  // The keys pods are spread by: "owner:<uid>" of the controller ownerReference; Services are added by the cache.
  std::vector<std::string> spread_keys;

  // The node names the required affinity's matchFields (metadata.name In) restrict the pod to, as node affinity's
  // PreFilter computes them (DaemonSet pods); nullopt when every node may pass.
  std::optional<std::vector<std::string>> affinity_node_names() const;
  // nodeSelector and required node affinity.
  bool matches_node_selector(const std::string& node_name, const std::map<std::string, std::string>& labels) const;
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

// Never throws: fields of the wrong type or unparsable quantities count as absent (the apiserver validates pods).
PodInfoPtr parse_pod(const nlohmann::json& pod);

// "100m", "2" (JSON string or number) in thousandths / units; 0 when absent or invalid.
int64_t milli_quantity(const nlohmann::json& q);
int64_t quantity(const nlohmann::json& q);

}  // namespace kctl::scheduler
