// ReplicaSetController: the informer handlers that feed the queue and the expectations, and sync(): claim, manage
// replicas (create in slow-start batches, delete in kube's order), report status.
#include "daemons/controller-manager/replica_set_controller.h"

#include <algorithm>
#include <set>

#include "daemons/common/daemon.h"
#include "daemons/controller-manager/controller_utils.h"

namespace kctl::controllers {

using nlohmann::json;
using api::ObjectPtr;

namespace {

std::string str_at(const json& obj, const char* pointer) {
  const json::json_pointer p(pointer);
  return obj.contains(p) && obj[p].is_string() ? obj[p].get<std::string>() : "";
}

int64_t int_at(const json& obj, const char* pointer, int64_t fallback = 0) {
  const json::json_pointer p(pointer);
  return obj.contains(p) && obj[p].is_number_integer() ? obj[p].get<int64_t>() : fallback;
}

// Sets `field` to n, or leaves it out when zero, as Go's omitempty writes these counts.
void set_count(json& status, const char* field, int64_t n) {
  if (n != 0)
    status[field] = n;
  else
    status.erase(field);
}

bool namespace_terminating(const api::StatusError& e) {
  return std::any_of(e.status().causes.begin(), e.status().causes.end(),
                     [](const api::StatusCause& c) { return c.reason == "NamespaceTerminating"; });
}

}  // namespace

ControllerPtr ReplicaSetController::for_replica_sets(ControllerContext& context) {
  return std::make_unique<ReplicaSetController>(
      "replicaset", context, ReplicaSetKind{"replicasets", "apps/v1", "ReplicaSet", "replicaset-controller", false});
}

ControllerPtr ReplicaSetController::for_replication_controllers(ControllerContext& context) {
  return std::make_unique<ReplicaSetController>(
      "replicationcontroller", context,
      ReplicaSetKind{"replicationcontrollers", "v1", "ReplicationController", "replication-controller", true});
}

ReplicaSetController::ReplicaSetController(std::string name, ControllerContext& context, ReplicaSetKind kind)
    : Controller(std::move(name), context),
      kind_(std::move(kind)),
      replica_sets_(context.informer(kind_.resource)),
      pods_(context.informer("pods")),
      rs_client_(context.client(kind_.resource)),
      pod_client_(context.client("pods")) {
  api::EventRecorderOptions eo;
  eo.on_error = [this](const std::string& m) { log(LogLevel::Warning, this->name() + ": events: " + m); };
  events_ = std::make_unique<api::EventRecorder>(context.transport, api::EventSource{kind_.component, ""}, eo);
  replica_sets_.add_handler({
      [this](const ObjectPtr& rs) { enqueue_obj(*rs); },
      [this](const ObjectPtr& old_rs, const ObjectPtr& cur) {
        // A new object under the old name: the old one's expectations are void.
        if (str_at(*old_rs, "/metadata/uid") != str_at(*cur, "/metadata/uid"))
          expectations_.forget(key_of(*old_rs));
        enqueue_obj(*cur);
      },
      [this](const ObjectPtr& rs) {
        expectations_.forget(key_of(*rs));
        enqueue_obj(*rs);
      },
  });
  pods_.add_handler({
      [this](const ObjectPtr& p) { on_pod_add(p); },
      [this](const ObjectPtr& o, const ObjectPtr& c) { on_pod_update(o, c); },
      [this](const ObjectPtr& p) { on_pod_delete(p); },
  });
}

ReplicaSetController::~ReplicaSetController() {
  stop();  // the workers use the members below: they end first
  events_->stop();
}

void ReplicaSetController::resync() {
  for (const auto& rs : replica_sets_.list()) enqueue_obj(*rs);
}

api::LabelSelector ReplicaSetController::selector_of(const json& rs) const {
  json sel = rs.value("/spec/selector"_json_pointer, json());
  if (!kind_.map_selector) return api::LabelSelector::from_json(sel);
  std::map<std::string, std::string> set;
  if (sel.is_object())
    for (auto it = sel.begin(); it != sel.end(); ++it)
      if (it->is_string()) set[it.key()] = it->get<std::string>();
  return api::LabelSelector::from_set(set);
}

ObjectPtr ReplicaSetController::resolve_controller_ref(const std::string& ns, const json& ref) const {
  if (!ref.is_object() || ref.value("kind", "") != kind_.kind) return nullptr;
  ObjectPtr rs = replica_sets_.get(ns + "/" + ref.value("name", ""));
  if (!rs || str_at(*rs, "/metadata/uid") != ref.value("uid", "")) return nullptr;
  return rs;
}

std::vector<ObjectPtr> ReplicaSetController::replica_sets_matching(const json& pod) const {
  std::vector<ObjectPtr> out;
  json labels = pod.value("/metadata/labels"_json_pointer, json());
  for (const auto& rs : replica_sets_.by_index(api::index::kNamespace, str_at(pod, "/metadata/namespace"))) {
    try {
      api::LabelSelector s = selector_of(*rs);
      if (!s.empty() && !s.matches_nothing() && s.matches(labels)) out.push_back(rs);
    } catch (const std::exception&) {
    }
  }
  return out;
}

void ReplicaSetController::on_pod_add(const ObjectPtr& pod) {
  if (being_deleted(*pod)) {
    // Seen for the first time already being deleted (after a restart, say): a deletion as far as we care.
    on_pod_delete(pod);
    return;
  }
  json ref = controller_ref(*pod);
  if (!ref.is_null()) {
    ObjectPtr rs = resolve_controller_ref(str_at(*pod, "/metadata/namespace"), ref);
    if (!rs) return;
    expectations_.creation_observed(key_of(*rs));
    enqueue_obj(*rs);
    return;
  }
  // An orphan: whoever matches may adopt it.
  for (const auto& rs : replica_sets_matching(*pod)) enqueue_obj(*rs);
}

void ReplicaSetController::on_pod_update(const ObjectPtr& old_pod, const ObjectPtr& cur) {
  if (str_at(*old_pod, "/metadata/resourceVersion") == str_at(*cur, "/metadata/resourceVersion")) return;  // resync
  bool labels_changed = old_pod->value("/metadata/labels"_json_pointer, json()) !=
                        cur->value("/metadata/labels"_json_pointer, json());
  if (being_deleted(*cur)) {
    // Graceful deletion: the pod is as good as gone, and waiting for the kubelet would hold up its replacement.
    on_pod_delete(cur);
    if (labels_changed) on_pod_delete(old_pod);
    return;
  }
  json cur_ref = controller_ref(*cur), old_ref = controller_ref(*old_pod);
  std::string ns = str_at(*cur, "/metadata/namespace");
  bool ref_changed = cur_ref != old_ref;
  if (ref_changed && !old_ref.is_null())
    if (ObjectPtr rs = resolve_controller_ref(ns, old_ref)) enqueue_obj(*rs);
  if (!cur_ref.is_null()) {
    ObjectPtr rs = resolve_controller_ref(ns, cur_ref);
    if (!rs) return;
    enqueue_obj(*rs);
    // Available only minReadySeconds after Ready: look again then, as no event will say so.
    int64_t min_ready = int_at(*rs, "/spec/minReadySeconds");
    if (!pod_ready(*old_pod) && pod_ready(*cur) && min_ready > 0)
      enqueue_after(key_of(*rs), std::chrono::seconds(min_ready + 1));
    return;
  }
  if (labels_changed || ref_changed)
    for (const auto& rs : replica_sets_matching(*cur)) enqueue_obj(*rs);
}

void ReplicaSetController::on_pod_delete(const ObjectPtr& pod) {
  json ref = controller_ref(*pod);
  if (ref.is_null()) return;
  ObjectPtr rs = resolve_controller_ref(str_at(*pod, "/metadata/namespace"), ref);
  if (!rs) return;
  expectations_.deletion_observed(key_of(*rs), str_at(*pod, "/metadata/uid"));
  enqueue_obj(*rs);
}

void ReplicaSetController::sync(const std::string& key) {
  ObjectPtr cached = replica_sets_.get(key);
  if (!cached) {
    expectations_.forget(key);
    return;
  }
  const json& rs = *cached;
  api::LabelSelector selector;
  try {
    selector = selector_of(rs);
  } catch (const std::exception& e) {
    // Retrying cannot fix it; the next change of the object brings it back.
    log(LogLevel::Warning, name() + ": " + key + ": invalid selector: " + e.what());
    return;
  }
  // Read before the pods: a creation observed after this still finds its pod in the list read below.
  bool needs_sync = expectations_.satisfied(key);
  std::string ns = str_at(rs, "/metadata/namespace");
  std::vector<ObjectPtr> active;
  for (const auto& p : pods_.by_index(api::index::kNamespace, ns))
    if (pod_active(*p)) active.push_back(p);
  ClaimOptions claim{rs, make_controller_ref(rs, kind_.api_version, kind_.kind), selector,
                     recheck_deletion_timestamp(rs_client_, rs)};
  std::vector<ObjectPtr> pods = claim_objects(pod_client_, claim, active);

  std::exception_ptr manage_error;
  std::string manage_message;
  if (needs_sync && !being_deleted(rs)) {
    try {
      manage_replicas(pods, rs, key);
    } catch (const std::exception& e) {
      manage_error = std::current_exception();
      manage_message = e.what();
    }
  }
  json updated = update_status(rs, calculate_status(rs, pods, manage_message));
  if (manage_error) std::rethrow_exception(manage_error);
  int64_t min_ready = int_at(updated, "/spec/minReadySeconds");
  int64_t replicas = int_at(updated, "/spec/replicas", 1);
  if (min_ready > 0 && int_at(updated, "/status/readyReplicas") == replicas &&
      int_at(updated, "/status/availableReplicas") != replicas)
    enqueue_after(key, std::chrono::seconds(min_ready));
}

void ReplicaSetController::manage_replicas(const std::vector<ObjectPtr>& pods, const json& rs, const std::string& key) {
  int64_t diff = static_cast<int64_t>(pods.size()) - int_at(rs, "/spec/replicas", 1);
  if (diff < 0) {
    create_pods(static_cast<int>(std::min<int64_t>(-diff, kBurstReplicas)), rs, key);
  } else if (diff > 0) {
    size_t n = static_cast<size_t>(std::min<int64_t>(diff, kBurstReplicas));
    delete_pods(pods_to_delete(pods, related_pods(rs), n, SysClock::now()), rs, key);
  }
}

void ReplicaSetController::create_pods(int count, const json& rs, const std::string& key) {
  // Expect them all before the first create: its watch event may come back before the next line runs.
  expectations_.expect(key, count, {});
  json pod = pod_from_template(rs.value("/spec/template"_json_pointer, json::object()), rs,
                               make_controller_ref(rs, kind_.api_version, kind_.kind));
  api::ResourceClient client = pod_client_.in(str_at(rs, "/metadata/namespace"));
  std::exception_ptr error;
  int created = slow_start_batch(count, kSlowStartInitialBatchSize, [&] {
    try {
      json made = client.create(pod);
      record(rs, api::EventType::Normal, "SuccessfulCreate", "Created pod: " + str_at(made, "/metadata/name"));
    } catch (const api::StatusError& e) {
      // In a namespace being deleted every create fails, and nothing needs doing.
      if (namespace_terminating(e)) return;
      record(rs, api::EventType::Warning, "FailedCreate", std::string("Error creating: ") + e.what());
      throw;
    }
  }, error);
  // What was not created (a failed batch, and the batches never started) will never be observed.
  if (created < count) expectations_.lower_creations(key, count - created);
  if (error) std::rethrow_exception(error);
}

void ReplicaSetController::delete_pods(std::vector<ObjectPtr> pods, const json& rs, const std::string& key) {
  std::vector<std::string> uids;
  for (const auto& p : pods) uids.push_back(str_at(*p, "/metadata/uid"));
  expectations_.expect(key, 0, std::set<std::string>(uids.begin(), uids.end()));
  api::ResourceClient client = pod_client_.in(str_at(rs, "/metadata/namespace"));
  std::exception_ptr error = parallel_for(static_cast<int>(pods.size()), [&](int i) {
    std::string name = str_at(*pods[i], "/metadata/name");
    try {
      client.remove(name);
      record(rs, api::EventType::Normal, "SuccessfulDelete", "Deleted pod: " + name);
    } catch (const api::StatusError& e) {
      // The informer will not see a deletion that did not happen (or already did).
      expectations_.lower_deletion(key, uids[i]);
      if (e.status().code == 404) return;
      record(rs, api::EventType::Warning, "FailedDelete", std::string("Error deleting: ") + e.what());
      throw;
    }
  });
  if (error) std::rethrow_exception(error);
}

std::vector<ObjectPtr> ReplicaSetController::related_pods(const json& rs) const {
  // The pods of every ReplicaSet with the same controller (a Deployment's old and new ones): a node crowded with
  // them is where to scale down first. Without a controller, kube ranks no pod above another on this count.
  std::vector<ObjectPtr> out;
  json ref = controller_ref(rs);
  if (ref.is_null()) return out;
  std::string ns = str_at(rs, "/metadata/namespace");
  std::vector<ObjectPtr> in_ns = pods_.by_index(api::index::kNamespace, ns);
  std::set<std::string> seen;
  for (const auto& sibling : replica_sets_.by_index(api::index::kOwner, ref.value("uid", ""))) {
    json sref = controller_ref(*sibling);
    if (sref.is_null() || sref.value("uid", "") != ref.value("uid", "")) continue;
    api::LabelSelector sel;
    try {
      sel = selector_of(*sibling);
    } catch (const std::exception&) {
      continue;
    }
    for (const auto& p : in_ns)
      if (sel.matches(p->value("/metadata/labels"_json_pointer, json())) &&
          seen.insert(str_at(*p, "/metadata/uid")).second)
        out.push_back(p);
  }
  return out;
}

json ReplicaSetController::calculate_status(const json& rs, const std::vector<ObjectPtr>& pods,
                                            const std::string& manage_error) const {
  json status = rs.value("status", json::object());
  if (!status.is_object()) status = json::object();
  api::LabelSelector template_labels =
      api::LabelSelector::from_set(labels_of(rs.value("/spec/template"_json_pointer, json::object())));
  int min_ready = static_cast<int>(int_at(rs, "/spec/minReadySeconds"));
  auto now = SysClock::now();
  int64_t fully_labeled = 0, ready = 0, available = 0;
  for (const auto& p : pods) {
    if (template_labels.matches(p->value("/metadata/labels"_json_pointer, json()))) ++fully_labeled;
    if (pod_ready(*p)) ++ready;
    if (pod_available(*p, min_ready, now)) ++available;
  }
  status["replicas"] = static_cast<int64_t>(pods.size());
  set_count(status, "fullyLabeledReplicas", fully_labeled);
  set_count(status, "readyReplicas", ready);
  set_count(status, "availableReplicas", available);
  set_count(status, "observedGeneration", int_at(rs, "/metadata/generation"));

  // ReplicaFailure: set while creating or deleting fails, removed once it works again.
  json conditions = json::array();
  bool had_failure = false;
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == "ReplicaFailure") {
      had_failure = true;
      if (!manage_error.empty()) conditions.push_back(c);
      continue;
    }
    conditions.push_back(c);
  }
  if (!manage_error.empty() && !had_failure) {
    int64_t diff = static_cast<int64_t>(pods.size()) - int_at(rs, "/spec/replicas", 1);
    std::string reason = diff < 0 ? "FailedCreate" : diff > 0 ? "FailedDelete" : "";
    conditions.push_back({{"type", "ReplicaFailure"},
                          {"status", "True"},
                          {"lastTransitionTime", format_time(SysClock::now())},
                          {"reason", reason},
                          {"message", manage_error}});
  }
  if (conditions.empty())
    status.erase("conditions");
  else
    status["conditions"] = conditions;
  return status;
}

json ReplicaSetController::update_status(const json& rs, json status) {
  if (rs.value("status", json()) == status) return rs;
  json copy = rs;
  copy["status"] = status;
  api::ResourceClient client = rs_client_.in(str_at(rs, "/metadata/namespace"));
  try {
    return client.update_status(copy);
  } catch (const api::StatusError& e) {
    if (e.status().code != 409) throw;
  }
  // Once more on what the server has now (kube's statusUpdateRetries); a second conflict goes back to the queue.
  json fresh = client.get(str_at(rs, "/metadata/name"));
  fresh["status"] = status;
  return client.update_status(fresh);
}

void ReplicaSetController::record(const json& rs, api::EventType type, const std::string& reason,
                                  const std::string& message) {
  json ref = api::object_reference(rs);
  ref["kind"] = kind_.kind;
  ref["apiVersion"] = kind_.api_version;
  events_->record_reference(ref, type, reason, message);
}

}  // namespace kctl::controllers
