// NodeLifecycleController: health from Lease renewals and status heartbeats (what tryUpdateNodeHealth does), the
// condition-to-taint mapping of doNoScheduleTaintingPass and processTaintBaseEviction, MarkPodsNotReady, and the
// events node-controller records. Level-driven: each sync computes the taints the node should carry from what it
// shows, and asks to be woken when its grace period would run out.
#include "daemons/controller-manager/node_lifecycle_controller.h"

#include <algorithm>

#include "daemons/common/daemon.h"
#include "daemons/controller-manager/node_predicates.h"

namespace kctl::controllers {

using nlohmann::json;

namespace {

constexpr const char* kComponent = "node-controller";
constexpr const char* kLeaseNamespace = "kube-node-lease";
// Nodes with this label are left out when deciding whether every node is down (labelNodeDisruptionExclusion).
constexpr const char* kExcludeDisruption = "node.kubernetes.io/exclude-disruption";
// Woken this much after a grace period would end, so that the deadline has surely passed.
constexpr auto kWakeMargin = std::chrono::milliseconds(100);

// The conditions the controller sets to Unknown when the kubelet goes quiet (NetworkUnavailable belongs to the
// network provider and is left alone).
const char* const kKubeletConditions[] = {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"};

// nodeConditionToTaintKeyStatusMap: the NoSchedule taint each condition status calls for.
const char* no_schedule_taint_for(const std::string& type, const std::string& status) {
  if (type == "Ready") return status == "False" ? taint::kNotReady : status == "Unknown" ? taint::kUnreachable : nullptr;
  if (status != "True") return nullptr;
  if (type == "MemoryPressure") return taint::kMemoryPressure;
  if (type == "DiskPressure") return taint::kDiskPressure;
  if (type == "NetworkUnavailable") return taint::kNetworkUnavailable;
  if (type == "PIDPressure") return taint::kPidPressure;
  return nullptr;
}

// The taints this controller owns: anything else on a node is left as it is.
bool managed_taint(const json& t) {
  std::string key = t.value("key", ""), effect = t.value("effect", "");
  if (effect == "NoExecute") return key == taint::kNotReady || key == taint::kUnreachable;
  if (effect != "NoSchedule") return false;
  for (const char* k : {taint::kNotReady, taint::kUnreachable, taint::kUnschedulable, taint::kMemoryPressure,
                        taint::kDiskPressure, taint::kNetworkUnavailable, taint::kPidPressure})
    if (key == k) return true;
  return false;
}

std::string ready_status(const json& node) {
  const json* c = node_condition(node, "Ready");
  return c ? c->value("status", "Unknown") : "Unknown";
}

api::EventRecorderOptions event_options() {
  api::EventRecorderOptions o;
  o.on_error = [](const std::string& m) { log(LogLevel::Warning, m); };
  return o;
}

}  // namespace

NodeLifecycleController::NodeLifecycleController(ControllerContext& context)
    : Controller("nodelifecycle", context),
      nodes_(context.informer("nodes")),
      leases_(context.informer("leases")),
      pods_(context.informer("pods")),
      events_(context.transport, {kComponent, ""}, event_options()) {
  auto node_changed = [this](const api::ObjectPtr& n) { enqueue(key_of(*n)); };
  nodes_.add_handler({node_changed, [node_changed](const api::ObjectPtr&, const api::ObjectPtr& n) { node_changed(n); },
                      node_changed});
  auto lease_changed = [this](const api::ObjectPtr& l) {
    if (l->value("/metadata/namespace"_json_pointer, std::string()) == kLeaseNamespace)
      enqueue(l->value("/metadata/name"_json_pointer, std::string()));
  };
  leases_.add_handler({lease_changed, [lease_changed](const api::ObjectPtr&, const api::ObjectPtr& l) { lease_changed(l); },
                       nullptr});
  // A pod bound to a node that is not Ready is marked not Ready too (processPod).
  auto node_of = [](const api::ObjectPtr& p) { return p ? p->value("/spec/nodeName"_json_pointer, std::string()) : ""; };
  pods_.add_handler({[this, node_of](const api::ObjectPtr& p) {
                       if (!node_of(p).empty()) enqueue(key_of(*p));
                     },
                     [this, node_of](const api::ObjectPtr& old, const api::ObjectPtr& p) {
                       if (!node_of(p).empty() && node_of(p) != node_of(old)) enqueue(key_of(*p));
                     },
                     nullptr});
}

NodeLifecycleController::~NodeLifecycleController() {
  stop();
  events_.stop();
}

void NodeLifecycleController::resync() {
  for (const auto& n : nodes_.list()) enqueue(key_of(*n));
}

void NodeLifecycleController::sync(const std::string& key) {
  if (key.find('/') != std::string::npos)
    sync_pod(key);
  else
    sync_node(key);
}

bool NodeLifecycleController::all_nodes_not_ready(const std::string& self, bool self_ready) const {
  int counted = 0;
  for (const auto& n : nodes_.list()) {
    if (n->contains("/metadata/labels"_json_pointer) && (*n)["metadata"]["labels"].contains(kExcludeDisruption)) continue;
    ++counted;
    // The node being synced counts as it is now, not as the cache last showed it.
    bool ready = key_of(*n) == self ? self_ready : ready_status(*n) == "True";
    if (ready) return false;
  }
  return counted > 0;
}

void NodeLifecycleController::sync_node(const std::string& name) {
  api::ObjectPtr cached = nodes_.get(name);
  if (!cached) {
    std::lock_guard lock(mutex_);
    health_.erase(name);
    mark_pods_.erase(name);
    return;
  }
  std::string observed = ready_status(*cached);
  json current = update_health(*cached);
  std::string now_ready = ready_status(current);

  // Entering or leaving the mode where every node is down changes what every node should carry.
  bool disrupted = all_nodes_not_ready(name, now_ready == "True");
  bool flipped = false;
  {
    std::lock_guard lock(mutex_);
    if (disrupted != full_disruption_) {
      full_disruption_ = disrupted;
      flipped = true;
      // Back from a disruption, every kubelet gets a full grace period again before it is judged.
      if (!disrupted)
        for (auto& [n, h] : health_) h.probe = Clock::now();
    }
  }
  if (flipped) {
    log(LogLevel::Info, disrupted ? "nodelifecycle: no node is Ready; not tainting any for eviction (disruption mode)"
                                  : "nodelifecycle: a node is Ready again; leaving disruption mode");
    for (const auto& n : nodes_.list())
      if (key_of(*n) != name) enqueue(key_of(*n));
  }
  bool mark = false;
  {
    std::lock_guard lock(mutex_);
    if (observed == "True" && now_ready != "True") mark_pods_.insert(name);
    if (now_ready == "True") mark_pods_.erase(name);
    mark = mark_pods_.count(name) > 0;
  }
  if (observed == "True" && now_ready != "True")
    events_.record(current, api::EventType::Normal, "NodeNotReady", "Node " + name + " status is now: NodeNotReady");
  if (mark) {
    mark_pods_not_ready(name, pods_.by_index(api::index::kNodeName, name));
    std::lock_guard lock(mutex_);
    mark_pods_.erase(name);
  }
  reconcile_taints(current, disrupted);
}

json NodeLifecycleController::update_health(const json& node) {
  const std::string name = node.value("/metadata/name"_json_pointer, std::string());
  const json* ready = node_condition(node, "Ready");
  auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(context_.options.node_monitor_grace_period);
  if (!ready) grace = std::max(grace, std::chrono::duration_cast<std::chrono::milliseconds>(kNodeStartupGracePeriod));
  api::ObjectPtr lease = leases_.get(std::string(kLeaseNamespace) + "/" + name);
  std::string renew = lease ? lease->value("/spec/renewTime"_json_pointer, std::string()) : "";
  std::string heartbeat = ready ? ready->value("lastHeartbeatTime", "") : "";
  Clock::time_point probe;
  bool registered = false;
  {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    auto [it, inserted] = health_.try_emplace(name);
    Health& h = it->second;
    // A node seen for the first time (or after a restart of ours) gets a full grace period from now.
    if (inserted || heartbeat != h.heartbeat || (!renew.empty() && renew != h.lease_renew)) h.probe = now;
    h.heartbeat = heartbeat;
    h.lease_renew = renew;
    probe = h.probe;
    registered = inserted;
  }
  if (registered)
    events_.record(node, api::EventType::Normal, "RegisteredNode",
                   "Node " + name + " event: Registered Node " + name + " in Controller");

  auto deadline = probe + grace;
  if (Clock::now() < deadline) {
    enqueue_after(name, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) + kWakeMargin);
    return node;
  }
  json updated = node;
  json& conds = updated["status"]["conditions"];
  if (!conds.is_array()) conds = json::array();
  std::string now = format_time(std::chrono::system_clock::now());
  for (const char* type : kKubeletConditions) {
    json* c = nullptr;
    for (auto& x : conds)
      if (x.is_object() && x.value("type", "") == type) c = &x;
    if (!c) {
      conds.push_back({{"type", type},
                       {"status", "Unknown"},
                       {"reason", "NodeStatusNeverUpdated"},
                       {"message", "Kubelet never posted node status."},
                       {"lastHeartbeatTime", node.value("/metadata/creationTimestamp"_json_pointer, now)},
                       {"lastTransitionTime", now}});
    } else if (c->value("status", "") != "Unknown") {
      (*c)["status"] = "Unknown";
      (*c)["reason"] = "NodeStatusUnknown";
      (*c)["message"] = "Kubelet stopped posting node status.";
      (*c)["lastTransitionTime"] = now;
    }
  }
  const json* before = node_condition(node, "Ready");
  const json* after = node_condition(updated, "Ready");
  if (before && after && *before == *after) return node;
  log(LogLevel::Info, "nodelifecycle: node " + name + " has not been heard from for " +
                          std::to_string(grace.count() / 1000) + " s: its conditions are Unknown");
  return context_.client("nodes").update_status(updated);
}

void NodeLifecycleController::reconcile_taints(const json& node, bool full_disruption) {
  std::vector<std::pair<std::string, std::string>> want;  // key, effect
  for (const auto& c : node.value("/status/conditions"_json_pointer, json::array()))
    if (const char* key = no_schedule_taint_for(c.value("type", ""), c.value("status", "")))
      want.emplace_back(key, "NoSchedule");
  if (node.value("/spec/unschedulable"_json_pointer, false)) want.emplace_back(taint::kUnschedulable, "NoSchedule");
  // "unreachable" and "not ready" mirror the Ready condition and exclude each other. A node that never posted
  // one is judged once its startup grace period has run out and it has an Unknown one.
  std::string ready = node_condition(node, "Ready") ? ready_status(node) : "";
  if (!full_disruption && ready == "False") want.emplace_back(taint::kNotReady, "NoExecute");
  if (!full_disruption && ready == "Unknown") want.emplace_back(taint::kUnreachable, "NoExecute");

  json taints = node.value("/spec/taints"_json_pointer, json::array());
  if (!taints.is_array()) taints = json::array();
  json next = json::array();
  auto wanted = [&](const json& t) {
    return std::find(want.begin(), want.end(), std::make_pair(t.value("key", ""), t.value("effect", ""))) != want.end();
  };
  for (const auto& t : taints)
    if (!managed_taint(t) || wanted(t)) next.push_back(t);
  std::string now = format_time(std::chrono::system_clock::now());
  for (const auto& [key, effect] : want) {
    bool present = std::any_of(next.begin(), next.end(), [&, &key = key, &effect = effect](const json& t) {
      return t.value("key", "") == key && t.value("effect", "") == effect;
    });
    if (!present) next.push_back({{"key", key}, {"effect", effect}, {"timeAdded", now}});
  }
  if (next == taints) return;
  json updated = node;
  if (next.empty())
    updated["spec"].erase("taints");
  else
    updated["spec"]["taints"] = next;
  context_.client("nodes").update(updated);
}

void NodeLifecycleController::mark_pods_not_ready(const std::string& node_name, const std::vector<api::ObjectPtr>& pods) {
  api::ResourceClient client = context_.client("pods");
  std::string first_error;
  for (const auto& p : pods) {
    if (p->value("/spec/nodeName"_json_pointer, std::string()) != node_name) continue;
    json pod = *p;
    json& conds = pod["status"]["conditions"];
    if (!conds.is_array()) continue;
    bool changed = false;
    for (auto& c : conds)
      if (c.is_object() && c.value("type", "") == "Ready" && c.value("status", "") != "False") {
        c["status"] = "False";
        c["lastTransitionTime"] = format_time(std::chrono::system_clock::now());
        changed = true;
      }
    if (!changed) continue;
    try {
      client.in(pod.value("/metadata/namespace"_json_pointer, std::string())).update_status(pod);
      events_.record(pod, api::EventType::Warning, "NodeNotReady", "Node is not ready");
    } catch (const api::StatusError& e) {
      if (e.status().code == 404) continue;  // gone already
      if (first_error.empty()) first_error = key_of(pod) + ": " + e.what();
    }
  }
  if (!first_error.empty())
    throw std::runtime_error("cannot mark every pod on node " + node_name + " not Ready: " + first_error);
}

void NodeLifecycleController::sync_pod(const std::string& key) {
  api::ObjectPtr pod = pods_.get(key);
  if (!pod) return;
  std::string node_name = pod->value("/spec/nodeName"_json_pointer, std::string());
  api::ObjectPtr node = node_name.empty() ? nullptr : nodes_.get(node_name);
  if (!node || !node_condition(*node, "Ready")) return;  // handled when the node's health is next looked at
  {
    std::lock_guard lock(mutex_);
    if (!health_.count(node_name)) return;
  }
  if (ready_status(*node) != "True") mark_pods_not_ready(node_name, {pod});
}

}  // namespace kctl::controllers
