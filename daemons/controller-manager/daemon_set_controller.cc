// DaemonSetController: the informer handlers (which DaemonSet a pod or node change concerns, expectations observed),
// syncDaemonSet's steps (manage: what to create and delete per node; rollingUpdate: which old pods may go; status),
// and the daemon pod made from the template.
#include "daemons/controller-manager/daemon_set_controller.h"

#include <algorithm>
#include <set>

#include "api/selector.h"
#include "daemons/common/daemon.h"
#include "daemons/controller-manager/node_predicates.h"

namespace kctl::controllers {

using nlohmann::json;

namespace {

constexpr const char* kComponent = "daemonset-controller";
// At most this many pods are created or deleted in one sync (kube's BurstReplicas).
constexpr int kBurstReplicas = 250;
// Back-off before another failed daemon pod on the same node is replaced (failedPodsBackoff: 1 s doubling to 15 min).
constexpr auto kFailedPodBackoffInitial = std::chrono::seconds(1);
constexpr auto kFailedPodBackoffMax = std::chrono::seconds(15 * 60);
const json kNoItems = json::array();

std::string str_at(const json& obj, const char* pointer) {
  return obj.value(json::json_pointer(pointer), std::string());
}

api::EventRecorderOptions event_options() {
  api::EventRecorderOptions o;
  o.on_error = [](const std::string& m) { log(LogLevel::Warning, m); };
  return o;
}

// podByCreationTimestampAndPhase: bound pods first, then the oldest, then by name.
bool older(const api::ObjectPtr& a, const api::ObjectPtr& b) {
  bool ba = !str_at(*a, "/spec/nodeName").empty(), bb = !str_at(*b, "/spec/nodeName").empty();
  if (ba != bb) return ba;
  std::string ta = str_at(*a, "/metadata/creationTimestamp"), tb = str_at(*b, "/metadata/creationTimestamp");
  if (ta != tb) return ta < tb;
  return str_at(*a, "/metadata/name") < str_at(*b, "/metadata/name");
}

// GetScaledValueFromIntOrPercent with rounding up: 2, "25%".
int scaled_value(const json& v, int total, int fallback) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      int pct = std::atoi(s.c_str());
      return (pct * total + 99) / 100;
    }
    if (!s.empty()) return std::atoi(s.c_str());
  }
  return fallback;
}

bool same_toleration(const json& a, const json& b) {
  for (const char* f : {"key", "operator", "value", "effect"})
    if (a.value(f, "") != b.value(f, "")) return false;
  return true;
}

}  // namespace

std::string pod_template_hash(const json& pod_template, const json& collision_count) {
  uint32_t h = 2166136261u;
  auto feed = [&h](unsigned char c) {
    h ^= c;
    h *= 16777619u;
  };
  for (unsigned char c : pod_template.dump()) feed(c);
  if (collision_count.is_number_integer()) {
    uint32_t n = collision_count.get<uint32_t>();
    for (int i = 0; i < 4; ++i) feed((n >> (8 * i)) & 0xff);
  }
  // rand.SafeEncodeString: every character of the decimal number mapped into an alphabet without vowels.
  static const char kAlphanums[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out = std::to_string(h);
  for (auto& c : out) c = kAlphanums[static_cast<unsigned char>(c) % (sizeof kAlphanums - 1)];
  return out;
}

std::string target_node_name(const json& pod) {
  std::string name = str_at(pod, "/spec/nodeName");
  if (!name.empty()) return name;
  json terms = pod.value("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"_json_pointer,
                         json::array());
  for (const auto& term : terms.is_array() ? terms : kNoItems)
    for (const auto& req : term.value("matchFields", json::array()))
      if (req.value("key", "") == "metadata.name" && req.value("operator", "") == "In") {
        json values = req.value("values", json::array());
        if (values.is_array() && values.size() == 1 && values[0].is_string()) return values[0];
      }
  return "";
}

void add_daemon_pod_tolerations(json& spec) {
  if (!spec.contains("tolerations") || !spec["tolerations"].is_array()) spec["tolerations"] = json::array();
  json& tolerations = spec["tolerations"];
  auto add = [&](const char* key, const char* effect) {
    json t = {{"key", key}, {"operator", "Exists"}, {"effect", effect}};
    for (auto& existing : tolerations)
      if (existing.is_object() && same_toleration(existing, t)) {
        existing = t;  // AddOrUpdateTolerationInPodSpec: the daemon's own (without tolerationSeconds) wins
        return;
      }
    tolerations.push_back(t);
  };
  // Node problems must not evict daemon pods, and node pressure must not keep them off a node.
  add(taint::kNotReady, "NoExecute");
  add(taint::kUnreachable, "NoExecute");
  add(taint::kDiskPressure, "NoSchedule");
  add(taint::kMemoryPressure, "NoSchedule");
  add(taint::kPidPressure, "NoSchedule");
  add(taint::kUnschedulable, "NoSchedule");
  if (spec.value("hostNetwork", false)) add(taint::kNetworkUnavailable, "NoSchedule");
}

DaemonPlacement node_should_run_daemon_pod(const json& node, const json& ds) {
  json spec = ds.value("/spec/template/spec"_json_pointer, json::object());
  std::string pinned = spec.value("nodeName", "");
  if (!pinned.empty() && pinned != str_at(node, "/metadata/name")) return {};
  if (!matches_required_node_affinity(spec, node)) return {};
  add_daemon_pod_tolerations(spec);
  json taints = node.value("/spec/taints"_json_pointer, json::array());
  if (find_untolerated_taint(taints, spec["tolerations"], is_no_schedule_or_no_execute)) {
    // A pod already there stays unless a NoExecute taint would evict it anyway.
    return {false, !find_untolerated_taint(taints, spec["tolerations"], is_no_execute)};
  }
  return {true, true};
}

DaemonSetController::DaemonSetController(ControllerContext& context)
    : Controller("daemonset", context),
      daemon_sets_(context.informer("daemonsets")),
      pods_(context.informer("pods")),
      nodes_(context.informer("nodes")),
      events_(context.transport, {kComponent, ""}, event_options()) {
  auto ds_changed = [this](const api::ObjectPtr& ds) { enqueue(key_of(*ds)); };
  daemon_sets_.add_handler(
      {ds_changed, [ds_changed](const api::ObjectPtr&, const api::ObjectPtr& ds) { ds_changed(ds); }, ds_changed});

  pods_.add_handler({
      [this](const api::ObjectPtr& p) {
        json ref = controller_ref(*p);
        if (ref.is_null() || ref.value("kind", "") != "DaemonSet") return;
        std::string owner = str_at(*p, "/metadata/namespace") + "/" + ref.value("name", "");
        if (being_deleted(*p))
          expectations_.deletion_observed(owner, str_at(*p, "/metadata/uid"));
        else
          expectations_.creation_observed(owner);
        enqueue(owner);
      },
      [this](const api::ObjectPtr& old, const api::ObjectPtr& p) {
        if (being_deleted(*p) && !being_deleted(*old)) {
          json ref = controller_ref(*p);
          if (!ref.is_null() && ref.value("kind", "") == "DaemonSet")
            expectations_.deletion_observed(str_at(*p, "/metadata/namespace") + "/" + ref.value("name", ""),
                                            str_at(*p, "/metadata/uid"));
        }
        enqueue_owner(p);
      },
      [this](const api::ObjectPtr& p) {
        json ref = controller_ref(*p);
        if (!ref.is_null() && ref.value("kind", "") == "DaemonSet")
          expectations_.deletion_observed(str_at(*p, "/metadata/namespace") + "/" + ref.value("name", ""),
                                          str_at(*p, "/metadata/uid"));
        enqueue_owner(p);
      },
  });

  nodes_.add_handler({
      [this](const api::ObjectPtr&) { enqueue_all(); },
      [this](const api::ObjectPtr& old, const api::ObjectPtr& n) {
        // Status heartbeats change nothing a DaemonSet looks at; only those whose placement changes are synced.
        if (old->value("/metadata/labels"_json_pointer, json()) == n->value("/metadata/labels"_json_pointer, json()) &&
            old->value("spec", json()) == n->value("spec", json()))
          return;
        for (const auto& ds : daemon_sets_.list()) {
          DaemonPlacement a = node_should_run_daemon_pod(*old, *ds), b = node_should_run_daemon_pod(*n, *ds);
          if (a.should_run != b.should_run || a.should_continue != b.should_continue) enqueue(key_of(*ds));
        }
      },
      [this](const api::ObjectPtr&) { enqueue_all(); },
  });
}

DaemonSetController::~DaemonSetController() {
  stop();
  events_.stop();
}

void DaemonSetController::resync() { enqueue_all(); }

void DaemonSetController::enqueue_all() {
  for (const auto& ds : daemon_sets_.list()) enqueue(key_of(*ds));
}

void DaemonSetController::enqueue_owner(const api::ObjectPtr& pod) {
  json ref = controller_ref(*pod);
  if (!ref.is_null() && ref.value("kind", "") == "DaemonSet")
    enqueue(str_at(*pod, "/metadata/namespace") + "/" + ref.value("name", ""));
}

DaemonSetController::PodsByNode DaemonSetController::pods_by_node(const json& ds) const {
  PodsByNode out;
  std::string uid = str_at(ds, "/metadata/uid");
  for (const auto& p : pods_.by_index(api::index::kOwner, uid)) {
    json ref = controller_ref(*p);
    if (ref.is_null() || ref.value("uid", "") != uid) continue;
    std::string node = target_node_name(*p);
    if (!node.empty()) out[node].push_back(p);
  }
  for (auto& [node, pods] : out) std::sort(pods.begin(), pods.end(), older);
  return out;
}

void DaemonSetController::sync(const std::string& key) {
  api::ObjectPtr cached = daemon_sets_.get(key);
  if (!cached) {
    expectations_.forget(key);
    return;
  }
  const json& ds = *cached;
  // Its pods may be going or staying with it (foreground or orphan deletion): no status can be trusted.
  if (being_deleted(ds)) return;
  json selector = ds.value("/spec/selector"_json_pointer, json());
  if (selector.is_object() && selector.empty()) {
    events_.record(ds, api::EventType::Warning, "SelectingAll",
                   "This daemon set is selecting all pods. A non-empty selector is required.");
    return;
  }
  std::string hash = pod_template_hash(ds.value("/spec/template"_json_pointer, json::object()),
                                       ds.value("/status/collisionCount"_json_pointer, json()));
  std::vector<api::ObjectPtr> nodes = nodes_.list();
  std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return key_of(*a) < key_of(*b); });
  PodsByNode by_node = pods_by_node(ds);

  // Until the pods it created or deleted last time show in the cache, it would act on a stale picture.
  if (!expectations_.satisfied(key)) return update_status(ds, nodes, by_node, hash, false);
  manage(ds, nodes, by_node, hash);
  if (expectations_.satisfied(key) && ds.value("/spec/updateStrategy/type"_json_pointer, std::string()) == "RollingUpdate")
    rolling_update(ds, nodes, by_node, hash);
  update_status(ds, nodes, by_node, hash, true);
}

bool DaemonSetController::failed_pod_backoff_over(const std::string& key) {
  std::lock_guard lock(backoff_mutex_);
  auto now = std::chrono::steady_clock::now();
  Backoff& b = failed_backoff_[key];
  if (now < b.until) return false;
  b.delay = b.delay.count() == 0 ? kFailedPodBackoffInitial : std::min(b.delay * 2, kFailedPodBackoffMax);
  b.until = now + b.delay;
  return true;
}

void DaemonSetController::manage(const json& ds, const std::vector<api::ObjectPtr>& nodes, const PodsByNode& by_node,
                                 const std::string& hash) {
  std::vector<std::string> to_create;
  std::vector<api::ObjectPtr> to_delete;
  std::set<std::string> node_names;
  std::string ds_key = key_of(ds);
  for (const auto& node : nodes) {
    std::string name = key_of(*node);
    node_names.insert(name);
    DaemonPlacement place = node_should_run_daemon_pod(*node, ds);
    auto it = by_node.find(name);
    bool exists = it != by_node.end();
    if (place.should_run && !exists) {
      to_create.push_back(name);
    } else if (place.should_continue && exists) {
      std::vector<api::ObjectPtr> running;
      for (const auto& p : it->second) {
        if (being_deleted(*p)) continue;
        std::string phase = str_at(*p, "/status/phase");
        std::string pod_key = key_of(*p);
        if (phase == "Failed") {
          if (!failed_pod_backoff_over(str_at(ds, "/metadata/uid") + "/" + name)) {
            enqueue_after(ds_key, std::chrono::seconds(1));
            continue;
          }
          events_.record(ds, api::EventType::Warning, "FailedDaemonPod",
                         "Found failed daemon pod " + pod_key + " on node " + name + ", will try to kill it");
          to_delete.push_back(p);
        } else if (phase == "Succeeded") {
          events_.record(ds, api::EventType::Normal, "SucceededDaemonPod",
                         "Found succeeded daemon pod " + pod_key + " on node " + name + ", will try to delete it");
          to_delete.push_back(p);
        } else {
          running.push_back(p);
        }
      }
      // Without surge one pod per node: all but the oldest go.
      for (size_t i = 1; i < running.size(); ++i) to_delete.push_back(running[i]);
    } else if (!place.should_continue && exists) {
      for (const auto& p : it->second)
        if (!being_deleted(*p)) to_delete.push_back(p);
    }
  }
  // Pods for nodes that are gone. kube leaves bound ones to the pod garbage collector, which kctl does not have.
  for (const auto& [node, pods] : by_node)
    if (!node_names.count(node))
      for (const auto& p : pods)
        if (!being_deleted(*p)) to_delete.push_back(p);
  sync_nodes(ds, to_delete, to_create, hash);
}

void DaemonSetController::sync_nodes(const json& ds, const std::vector<api::ObjectPtr>& to_delete_all,
                                     const std::vector<std::string>& nodes_all, const std::string& hash) {
  if (to_delete_all.empty() && nodes_all.empty()) return;
  std::string key = key_of(ds);
  std::vector<std::string> nodes(nodes_all.begin(), nodes_all.begin() + std::min<size_t>(nodes_all.size(), kBurstReplicas));
  std::vector<api::ObjectPtr> to_delete(to_delete_all.begin(),
                                        to_delete_all.begin() + std::min<size_t>(to_delete_all.size(), kBurstReplicas));
  std::set<std::string> delete_uids;
  for (const auto& p : to_delete) delete_uids.insert(str_at(*p, "/metadata/uid"));
  expectations_.expect(key, int(nodes.size()), delete_uids);

  std::string ns = str_at(ds, "/metadata/namespace");
  api::ResourceClient pods = context_.client("pods", ns);
  std::string first_error;

  // The pod of the template (CreatePodTemplate), pinned to its node (ReplaceDaemonSetPodNodeNameNodeAffinity).
  json tmpl = ds.value("/spec/template"_json_pointer, json::object());
  json base = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", tmpl.value("metadata", json::object())},
               {"spec", tmpl.value("spec", json::object())}};
  json& meta = base["metadata"];
  for (const char* f : {"name", "uid", "resourceVersion", "creationTimestamp", "ownerReferences"}) meta.erase(f);
  meta["namespace"] = ns;
  meta["generateName"] = str_at(ds, "/metadata/name") + "-";
  meta["labels"][kControllerRevisionHashLabel] = hash;
  meta["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"},
                                          {"kind", "DaemonSet"},
                                          {"name", str_at(ds, "/metadata/name")},
                                          {"uid", str_at(ds, "/metadata/uid")},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}});
  add_daemon_pod_tolerations(base["spec"]);

  // Created one after another, stopping at the first failure: the rest would most likely fail the same way (kube's
  // slow start batches serve the same end).
  for (size_t i = 0; i < nodes.size(); ++i) {
    json pod = base;
    json& affinity = pod["spec"]["affinity"];
    if (!affinity.is_object()) affinity = json::object();
    json& required = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    required["nodeSelectorTerms"] = json::array(
        {{{"matchFields", json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {nodes[i]}}}})}}});
    try {
      json created = pods.create(pod);
      events_.record(ds, api::EventType::Normal, "SuccessfulCreate",
                     "Created pod: " + created.value("/metadata/name"_json_pointer, std::string()));
    } catch (const api::StatusError& e) {
      events_.record(ds, api::EventType::Warning, "FailedCreate", std::string("Error creating: ") + e.what());
      expectations_.lower_creations(key, int(nodes.size() - i));
      first_error = std::string("creating a pod for node ") + nodes[i] + ": " + e.what();
      break;
    }
  }
  for (const auto& p : to_delete) {
    std::string name = str_at(*p, "/metadata/name");
    try {
      pods.remove(name);
      events_.record(ds, api::EventType::Normal, "SuccessfulDelete", "Deleted pod: " + name);
    } catch (const api::StatusError& e) {
      expectations_.lower_deletion(key, str_at(*p, "/metadata/uid"));
      if (e.status().code == 404) continue;
      events_.record(ds, api::EventType::Warning, "FailedDelete", std::string("Error deleting: ") + e.what());
      if (first_error.empty()) first_error = "deleting pod " + name + ": " + e.what();
    }
  }
  if (!first_error.empty()) throw std::runtime_error(first_error);
}

void DaemonSetController::rolling_update(const json& ds, const std::vector<api::ObjectPtr>& nodes,
                                         const PodsByNode& by_node, const std::string& hash) {
  std::vector<std::string> desired;
  for (const auto& n : nodes)
    if (node_should_run_daemon_pod(*n, ds).should_run) desired.push_back(key_of(*n));
  json ru = ds.value("/spec/updateStrategy/rollingUpdate"_json_pointer, json::object());
  int max_unavailable = scaled_value(ru.value("maxUnavailable", json(1)), int(desired.size()), 1);
  int max_surge = scaled_value(ru.value("maxSurge", json(0)), int(desired.size()), 0);
  if (max_unavailable == 0 && max_surge == 0) max_unavailable = 1;
  int min_ready = ds.value("/spec/minReadySeconds"_json_pointer, 0);
  auto now = std::chrono::system_clock::now();

  int unavailable = 0;
  std::vector<api::ObjectPtr> replace_now, candidates;
  for (const auto& node : desired) {
    api::ObjectPtr new_pod, old_pod;
    bool ok = true;
    auto it = by_node.find(node);
    static const std::vector<api::ObjectPtr> kNone;
    for (const auto& p : it == by_node.end() ? kNone : it->second) {
      if (being_deleted(*p)) continue;
      bool updated = p->value("/metadata/labels"_json_pointer, json::object()).value(kControllerRevisionHashLabel, "") == hash;
      api::ObjectPtr& slot = updated ? new_pod : old_pod;
      if (slot) ok = false;  // several: manage() prunes them first
      slot = p;
    }
    if (!ok || (new_pod && old_pod) || (!new_pod && !old_pod)) {
      ++unavailable;  // being replaced, or about to be created
    } else if (new_pod) {
      if (!pod_available(*new_pod, min_ready, now)) ++unavailable;
    } else if (!pod_available(*old_pod, min_ready, now)) {
      replace_now.push_back(old_pod);  // not serving anyway
    } else if (unavailable < max_unavailable) {
      candidates.push_back(old_pod);
    }
  }
  int room = std::clamp(max_unavailable - unavailable, 0, int(candidates.size()));
  std::vector<api::ObjectPtr> to_delete = replace_now;
  to_delete.insert(to_delete.end(), candidates.begin(), candidates.begin() + room);
  sync_nodes(ds, to_delete, {}, hash);
}

void DaemonSetController::update_status(const json& ds, const std::vector<api::ObjectPtr>& nodes,
                                        const PodsByNode& by_node, const std::string& hash, bool observed_generation) {
  int desired = 0, current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0;
  int min_ready = ds.value("/spec/minReadySeconds"_json_pointer, 0);
  auto now = std::chrono::system_clock::now();
  for (const auto& node : nodes) {
    auto it = by_node.find(key_of(*node));
    bool scheduled = it != by_node.end() && !it->second.empty();
    if (!node_should_run_daemon_pod(*node, ds).should_run) {
      if (scheduled) ++misscheduled;
      continue;
    }
    ++desired;
    if (!scheduled) continue;
    ++current;
    const json& pod = *it->second.front();  // the oldest
    if (pod_ready(pod)) {
      ++ready;
      if (pod_available(pod, min_ready, now)) ++available;
    }
    if (pod.value("/metadata/labels"_json_pointer, json::object()).value(kControllerRevisionHashLabel, "") == hash)
      ++updated;
  }
  json status = ds.value("status", json::object());
  json want = status;
  want["desiredNumberScheduled"] = desired;
  want["currentNumberScheduled"] = current;
  want["numberMisscheduled"] = misscheduled;
  want["numberReady"] = ready;
  want["updatedNumberScheduled"] = updated;
  want["numberAvailable"] = available;
  want["numberUnavailable"] = desired - available;
  int64_t generation = ds.value("/metadata/generation"_json_pointer, int64_t(0));
  if (observed_generation) want["observedGeneration"] = generation;
  bool up_to_date = status.value("observedGeneration", int64_t(0)) >= generation;
  if (want != status || (observed_generation && !up_to_date)) {
    json copy = ds;
    copy["status"] = want;
    context_.client("daemonsets", str_at(ds, "/metadata/namespace")).update_status(copy);
  }
  // Pods turn available minReadySeconds after they are ready, with no event to say so.
  if (min_ready > 0 && ready != available) enqueue_after(key_of(ds), std::chrono::seconds(min_ready));
}

}  // namespace kctl::controllers
