// TaintEvictionController: per pod, the NoExecute taints of its node against its tolerations (processPodOnNode),
// a wake-up when the shortest toleration runs out, and the eviction itself: the DisruptionTarget condition, the
// TaintManagerEviction event, and the delete. An eviction that is no longer due is cancelled with an event.
#include "daemons/controller-manager/taint_eviction_controller.h"

#include <algorithm>
#include <limits>

#include "daemons/common/daemon.h"
#include "daemons/controller-manager/node_predicates.h"

namespace kctl::controllers {

using nlohmann::json;

namespace {

constexpr const char* kComponent = "taint-eviction-controller";
constexpr auto kWakeMargin = std::chrono::milliseconds(100);

json no_execute_taints(const json& node) {
  json out = json::array();
  for (const auto& t : node.value("/spec/taints"_json_pointer, json::array()))
    if (t.is_object() && t.value("effect", "") == "NoExecute") out.push_back(t);
  return out;
}

api::EventRecorderOptions event_options() {
  api::EventRecorderOptions o;
  o.on_error = [](const std::string& m) { log(LogLevel::Warning, m); };
  return o;
}

}  // namespace

TaintEvictionController::TaintEvictionController(ControllerContext& context)
    : Controller("taint-eviction-controller", context),
      nodes_(context.informer("nodes")),
      pods_(context.informer("pods")),
      events_(context.transport, {kComponent, ""}, event_options()) {
  auto node_changed = [this](const api::ObjectPtr& old, const api::ObjectPtr& n) {
    json before = old ? no_execute_taints(*old) : json::array(), after = n ? no_execute_taints(*n) : json::array();
    if (old && n && before == after) return;
    std::string name = (n ? n : old)->value("/metadata/name"_json_pointer, std::string());
    if (after.empty()) {
      std::lock_guard lock(mutex_);
      first_seen_.erase(name);
    }
    enqueue_pods_on(name);
  };
  nodes_.add_handler({[node_changed](const api::ObjectPtr& n) { node_changed(nullptr, n); }, node_changed,
                      [node_changed](const api::ObjectPtr& n) { node_changed(n, nullptr); }});
  auto bound = [](const api::ObjectPtr& p) { return p && !p->value("/spec/nodeName"_json_pointer, std::string()).empty(); };
  pods_.add_handler({[this, bound](const api::ObjectPtr& p) {
                       if (bound(p)) enqueue(key_of(*p));
                     },
                     [this, bound](const api::ObjectPtr& old, const api::ObjectPtr& p) {
                       if (!bound(p)) return;
                       if (old->value("/spec/nodeName"_json_pointer, std::string()) !=
                               p->value("/spec/nodeName"_json_pointer, std::string()) ||
                           old->value("/spec/tolerations"_json_pointer, json()) !=
                               p->value("/spec/tolerations"_json_pointer, json()) ||
                           being_deleted(*p) != being_deleted(*old))
                         enqueue(key_of(*p));
                     },
                     [this](const api::ObjectPtr& p) { enqueue(key_of(*p)); }});
}

TaintEvictionController::~TaintEvictionController() {
  stop();
  events_.stop();
}

void TaintEvictionController::resync() {
  for (const auto& n : nodes_.list())
    if (!no_execute_taints(*n).empty()) enqueue_pods_on(key_of(*n));
}

void TaintEvictionController::enqueue_pods_on(const std::string& node_name) {
  for (const auto& p : pods_.by_index(api::index::kNodeName, node_name)) enqueue(key_of(*p));
}

TaintEvictionController::WallClock::time_point TaintEvictionController::taints_since(const std::string& node_name,
                                                                                     const json& taints) {
  std::optional<WallClock::time_point> earliest;
  for (const auto& t : taints)
    if (auto added = parse_time(t.value("timeAdded", "")))
      if (!earliest || *added < *earliest) earliest = *added;
  std::lock_guard lock(mutex_);
  auto [it, inserted] = first_seen_.try_emplace(node_name, WallClock::now());
  if (earliest && *earliest < it->second) return *earliest;
  return it->second;
}

void TaintEvictionController::cancel(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    if (!scheduled_.erase(key)) return;
  }
  auto slash = key.find('/');
  json ref = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"namespace", key.substr(0, slash)},
                                                                  {"name", key.substr(slash + 1)}}}};
  events_.record(ref, api::EventType::Normal, "TaintManagerEviction", "Cancelling deletion of Pod " + key);
}

void TaintEvictionController::sync(const std::string& key) {
  api::ObjectPtr pod = pods_.get(key);
  if (pod && being_deleted(*pod)) {
    std::lock_guard lock(mutex_);
    scheduled_.erase(key);
    return;
  }
  std::string node_name = pod ? pod->value("/spec/nodeName"_json_pointer, std::string()) : "";
  api::ObjectPtr node = node_name.empty() ? nullptr : nodes_.get(node_name);
  json taints = node ? no_execute_taints(*node) : json::array();
  if (taints.empty()) return cancel(key);

  // Each taint is tolerated by the first toleration that matches it (GetMatchingTolerations).
  json tolerations = pod->value("/spec/tolerations"_json_pointer, json::array());
  if (!tolerations.is_array()) tolerations = json::array();
  std::vector<json> used;
  for (const auto& t : taints) {
    const json* match = nullptr;
    for (const auto& tol : tolerations)
      if (tol.is_object() && tolerates(tol, t)) {
        match = &tol;
        break;
      }
    if (!match) return evict(*pod);
    used.push_back(*match);
  }
  // getMinTolerationTime: the shortest tolerationSeconds of the tolerations used; none at all means for ever.
  int64_t min_seconds = std::numeric_limits<int64_t>::max();
  for (const auto& tol : used)
    if (tol.contains("tolerationSeconds") && tol["tolerationSeconds"].is_number_integer())
      min_seconds = std::min(min_seconds, std::max<int64_t>(0, tol["tolerationSeconds"].get<int64_t>()));
  if (min_seconds == std::numeric_limits<int64_t>::max()) return cancel(key);

  auto due = taints_since(node_name, taints) + std::chrono::seconds(min_seconds);
  auto now = WallClock::now();
  if (now >= due) return evict(*pod);
  {
    std::lock_guard lock(mutex_);
    scheduled_[key] = due;
  }
  enqueue_after(key, std::chrono::duration_cast<std::chrono::milliseconds>(due - now) + kWakeMargin);
}

void TaintEvictionController::evict(const json& cached) {
  std::string key = key_of(cached);
  std::string ns = cached.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = cached.value("/metadata/name"_json_pointer, std::string());
  {
    std::lock_guard lock(mutex_);
    scheduled_.erase(key);
  }
  log(LogLevel::Info, "taint-eviction-controller: deleting pod " + key);
  events_.record(cached, api::EventType::Normal, "TaintManagerEviction", "Marking for deletion Pod " + key);
  api::ResourceClient pods = context_.client("pods", ns);
  try {
    // The pod says why it goes (addConditionAndDeletePod): a DisruptionTarget condition, written before the delete.
    json pod = pods.get(name);
    json& conds = pod["status"]["conditions"];
    if (!conds.is_array()) conds = json::array();
    bool present = std::any_of(conds.begin(), conds.end(), [](const json& c) {
      return c.value("type", "") == "DisruptionTarget" && c.value("status", "") == "True";
    });
    if (!present) {
      conds.push_back({{"type", "DisruptionTarget"},
                       {"status", "True"},
                       {"reason", "DeletionByTaintManager"},
                       {"message", "Taint manager: deleting due to NoExecute taint"},
                       {"lastTransitionTime", format_time(WallClock::now())}});
      pods.update_status(pod);
    }
    pods.remove(name);
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;  // gone already: nothing left to do
  }
}

}  // namespace kctl::controllers
