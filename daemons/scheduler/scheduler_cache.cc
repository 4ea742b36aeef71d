// The cache: nodes, bound and assumed pods, Services for spreading.
#include "daemons/scheduler/scheduler_cache.h"

#include <algorithm>

namespace kctl::scheduler {

using nlohmann::json;

NodeInfo& SchedulerCache::node_entry(const std::string& name) {
  auto& slot = nodes_[name];
  if (!slot) slot = std::make_unique<NodeInfo>(name);
  return *slot;
}

void SchedulerCache::drop_node_if_unused(const std::string& name) {
  auto it = nodes_.find(name);
  if (it != nodes_.end() && !it->second->has_node() && it->second->pod_count() == 0) nodes_.erase(it);
}

bool SchedulerCache::update_node(const json& node) {
  NodeSpec spec = parse_node(node);
  if (spec.name.empty()) return false;
  std::lock_guard lock(mu_);
  NodeInfo& n = node_entry(spec.name);
  bool changed = !n.has_node() || !(n.spec() == spec);
  if (!n.has_node()) node_list_dirty_ = true;
  if (changed) n.set_spec(std::move(spec));
  return changed;
}

bool SchedulerCache::remove_node(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end() || !it->second->has_node()) return false;
  it->second->clear_spec();
  node_list_dirty_ = true;
  drop_node_if_unused(name);
  return true;
}

const std::vector<const NodeInfo*>& SchedulerCache::nodes_locked() {
  if (node_list_dirty_) {
    node_list_.clear();
    for (const auto& [name, n] : nodes_)
      if (n->has_node()) node_list_.push_back(n.get());
    std::sort(node_list_.begin(), node_list_.end(),
              [](const NodeInfo* a, const NodeInfo* b) { return a->name() < b->name(); });
    node_list_dirty_ = false;
  }
  return node_list_;
}

const NodeInfo* SchedulerCache::node_locked(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() || !it->second->has_node() ? nullptr : it->second.get();
}

std::vector<std::string> SchedulerCache::spread_keys_locked(const PodInfo& pod) const {
  std::vector<std::string> keys = pod.spread_keys;
  auto it = services_.find(pod.ns);
  if (it != services_.end())
    for (const auto& s : it->second)
      if (s.selector.matches(pod.labels)) keys.push_back("service:" + pod.ns + "/" + s.name);
  return keys;
}

void SchedulerCache::add_pod_locked(const std::string& key, PodState state) {
  state.info->spread_keys = spread_keys_locked(*state.info);
  node_entry(state.node).add_pod(*state.info);
  pods_[key] = std::move(state);
}

void SchedulerCache::remove_pod_locked(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  std::string node = it->second.node;
  node_entry(node).remove_pod(*it->second.info);
  pods_.erase(it);
  drop_node_if_unused(node);
}

bool SchedulerCache::update_bound_pod(const json& pod) {
  PodInfoPtr parsed = parse_pod(pod);
  if (parsed->node_name.empty() || parsed->terminal) return remove_bound_pod(pod);
  std::lock_guard lock(mu_);
  auto it = pods_.find(parsed->key);
  bool freed = false;
  if (it != pods_.end()) {
    const PodInfo& old = *it->second.info;
    // A confirmed assumption or an unchanged pod costs nothing; anything else is re-counted.
    if (old.uid == parsed->uid && it->second.node == parsed->node_name && !it->second.assumed &&
        old.requests == parsed->requests && old.labels == parsed->labels &&
        old.host_ports.size() == parsed->host_ports.size())
      return false;
    freed = !it->second.assumed || it->second.node != parsed->node_name;
    remove_pod_locked(parsed->key);
  }
  add_pod_locked(parsed->key, PodState{std::make_shared<PodInfo>(*parsed), parsed->node_name});
  return freed;
}

bool SchedulerCache::remove_bound_pod(const json& pod) {
  std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = pod.value("/metadata/name"_json_pointer, std::string());
  std::string uid = pod.value("/metadata/uid"_json_pointer, std::string());
  std::string key = ns.empty() ? name : ns + "/" + name;
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  // A newer pod of the same name (assumed by us) is not the one that went away.
  if (it == pods_.end() || (!uid.empty() && it->second.info->uid != uid)) return false;
  remove_pod_locked(key);
  return true;
}

void SchedulerCache::assume_locked(const PodInfo& pod, const std::string& node) {
  remove_pod_locked(pod.key);
  add_pod_locked(pod.key, PodState{std::make_shared<PodInfo>(pod), node, true});
}

void SchedulerCache::finish_binding(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.assumed) return;
  it->second.binding_finished = true;
  it->second.deadline = Clock::now() + kAssumedPodExpiry;
}

void SchedulerCache::forget(const std::string& key, const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.assumed || it->second.info->uid != uid) return;
  remove_pod_locked(key);
}

void SchedulerCache::expire_assumed(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<std::string> expired;
  for (const auto& [key, st] : pods_)
    if (st.assumed && st.binding_finished && st.deadline <= now) expired.push_back(key);
  for (const auto& key : expired) remove_pod_locked(key);
}

void SchedulerCache::respread_locked() {
  for (auto& [key, st] : pods_) {
    NodeInfo& n = node_entry(st.node);
    n.add_spread_keys(st.info->spread_keys, -1);
    st.info->spread_keys = spread_keys_locked(*st.info);
    n.add_spread_keys(st.info->spread_keys, 1);
  }
}

void SchedulerCache::update_service(const json& service) {
  std::string ns = service.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = service.value("/metadata/name"_json_pointer, std::string());
  json sel = service.value("/spec/selector"_json_pointer, json());
  std::map<std::string, std::string> set;
  if (sel.is_object())
    for (auto it = sel.begin(); it != sel.end(); ++it)
      if (it->is_string()) set.emplace(it.key(), it->get<std::string>());
  std::lock_guard lock(mu_);
  auto& list = services_[ns];
  auto it = std::find_if(list.begin(), list.end(), [&](const Service& s) { return s.name == name; });
  // A Service without a selector selects no pods (its Endpoints are managed by hand).
  if (set.empty()) {
    if (it == list.end()) return;
    list.erase(it);
  } else {
    auto selector = api::LabelSelector::from_set(set);
    if (it != list.end() && it->selector.to_string() == selector.to_string()) return;
    if (it != list.end()) it->selector = selector;
    else list.push_back({name, selector});
  }
  respread_locked();
}

void SchedulerCache::remove_service(const json& service) {
  std::string ns = service.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = service.value("/metadata/name"_json_pointer, std::string());
  std::lock_guard lock(mu_);
  auto& list = services_[ns];
  auto it = std::find_if(list.begin(), list.end(), [&](const Service& s) { return s.name == name; });
  if (it == list.end()) return;
  list.erase(it);
  respread_locked();
}

size_t SchedulerCache::node_count() {
  std::lock_guard lock(mu_);
  return nodes_locked().size();
}

size_t SchedulerCache::assumed_count() {
  std::lock_guard lock(mu_);
  return size_t(std::count_if(pods_.begin(), pods_.end(), [](const auto& kv) { return kv.second.assumed; }));
}

}  // namespace kctl::scheduler
