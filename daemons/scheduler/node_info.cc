// Reading a Node object, and the per-node aggregates of its pods.
#include "daemons/scheduler/node_info.h"

#include <algorithm>

namespace kctl::scheduler {

using nlohmann::json;

namespace {
constexpr const char* kTaintNotReady = "node.kubernetes.io/not-ready";
constexpr const char* kTaintUnreachable = "node.kubernetes.io/unreachable";
}  // namespace

NodeSpec parse_node(const json& node) {
  NodeSpec n;
  n.name = node.value("/metadata/name"_json_pointer, std::string());
  const json& labels = node.value("/metadata/labels"_json_pointer, json::object());
  if (labels.is_object())
    for (auto it = labels.begin(); it != labels.end(); ++it)
      if (it->is_string()) n.labels.emplace(it.key(), it->get<std::string>());
  const json spec = node.value("spec", json::object());
  if (spec.is_object()) {
    if (spec.contains("unschedulable") && spec["unschedulable"].is_boolean()) n.unschedulable = spec["unschedulable"];
    if (spec.contains("taints") && spec["taints"].is_array())
      for (const auto& t : spec["taints"])
        if (t.is_object())
          n.taints.push_back({t.value("key", ""), t.value("value", ""), t.value("effect", "")});
  }
  const json status = node.value("status", json::object());
  std::string ready = "Unknown";
  if (status.is_object() && status.contains("conditions") && status["conditions"].is_array())
    for (const auto& c : status["conditions"])
      if (c.is_object() && c.value("type", "") == "Ready") ready = c.value("status", "Unknown");
  n.ready = ready == "True";
  if (!n.ready) {
    // TaintNodesByCondition: False is not-ready, Unknown (or never reported) unreachable.
    std::string key = ready == "False" ? kTaintNotReady : kTaintUnreachable;
    bool present = std::any_of(n.taints.begin(), n.taints.end(),
                               [&](const Taint& t) { return t.key == key && t.effect == "NoSchedule"; });
    if (!present) n.taints.push_back({key, "", "NoSchedule"});
  }
  json alloc = status.is_object() ? status.value("allocatable", json()) : json();
  if (!alloc.is_object() && status.is_object()) alloc = status.value("capacity", json());
  if (alloc.is_object()) {
    n.allocatable.milli_cpu = milli_quantity(alloc.value("cpu", json()));
    n.allocatable.memory = quantity(alloc.value("memory", json()));
    n.allocatable.ephemeral_storage = quantity(alloc.value("ephemeral-storage", json()));
    n.allowed_pods = quantity(alloc.value("pods", json()));
  }
  return n;
}

void NodeInfo::add_pod(const PodInfo& pod) {
  ++pod_count_;
  requested_ += pod.requests;
  non_zero_requested_ += pod.non_zero;
  for (const auto& p : pod.host_ports) ++used_ports_[{p.protocol, p.port}][p.ip];
  add_spread_keys(pod.spread_keys, 1);
}

void NodeInfo::remove_pod(const PodInfo& pod) {
  --pod_count_;
  requested_ -= pod.requests;
  non_zero_requested_ -= pod.non_zero;
  for (const auto& p : pod.host_ports) {
    auto it = used_ports_.find({p.protocol, p.port});
    if (it == used_ports_.end()) continue;
    auto ip = it->second.find(p.ip);
    if (ip != it->second.end() && --ip->second <= 0) it->second.erase(ip);
    if (it->second.empty()) used_ports_.erase(it);
  }
  add_spread_keys(pod.spread_keys, -1);
}

bool NodeInfo::port_conflict(const std::vector<HostPort>& ports) const {
  for (const auto& p : ports) {
    auto it = used_ports_.find({p.protocol, p.port});
    if (it == used_ports_.end()) continue;
    if (p.ip == "0.0.0.0" || it->second.count("0.0.0.0") || it->second.count(p.ip)) return true;
  }
  return false;
}

int64_t NodeInfo::spread_count(const std::vector<std::string>& keys) const {
  int64_t n = 0;
  for (const auto& k : keys)
    if (auto it = spread_counts_.find(k); it != spread_counts_.end()) n += it->second;
  return n;
}

void NodeInfo::add_spread_keys(const std::vector<std::string>& keys, int delta) {
  for (const auto& k : keys) {
    auto& c = spread_counts_[k];
    c += delta;
    if (c <= 0) spread_counts_.erase(k);
  }
}

}  // namespace kctl::scheduler
