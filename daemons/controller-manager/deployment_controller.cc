// DeploymentController: informer handlers, sync()'s dispatch, claiming ReplicaSets, finding or creating the new
// ReplicaSet (with its revision), scaling a ReplicaSet with its event, and writing the Deployment back.
#include "daemons/controller-manager/deployment_controller.h"

#include "daemons/common/daemon.h"
#include "daemons/controller-manager/controller_utils.h"

namespace kctl::controllers {

using nlohmann::json;
using api::ObjectPtr;
using namespace deployment;

namespace {

std::string str_at(const json& obj, const char* pointer) {
  const json::json_pointer p(pointer);
  return obj.contains(p) && obj[p].is_string() ? obj[p].get<std::string>() : "";
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

DeploymentController::DeploymentController(ControllerContext& context)
    : Controller("deployment", context),
      deployments_(context.informer("deployments")),
      replica_sets_(context.informer("replicasets")),
      pods_(context.informer("pods")),
      deployment_client_(context.client("deployments")),
      rs_client_(context.client("replicasets")) {
  api::EventRecorderOptions eo;
  eo.on_error = [this](const std::string& m) { log(LogLevel::Warning, name() + ": events: " + m); };
  events_ = std::make_unique<api::EventRecorder>(context.transport, api::EventSource{"deployment-controller", ""}, eo);
  deployments_.add_handler({
      [this](const ObjectPtr& d) { enqueue(key_of(*d)); },
      [this](const ObjectPtr&, const ObjectPtr& d) { enqueue(key_of(*d)); },
      [this](const ObjectPtr& d) { enqueue(key_of(*d)); },
  });
  replica_sets_.add_handler({
      [this](const ObjectPtr& rs) { on_rs_add(rs); },
      [this](const ObjectPtr& o, const ObjectPtr& c) { on_rs_update(o, c); },
      [this](const ObjectPtr& rs) { on_rs_delete(rs); },
  });
  pods_.add_handler({nullptr, nullptr, [this](const ObjectPtr& p) { on_pod_delete(p); }});
}

DeploymentController::~DeploymentController() {
  stop();  // the workers use the members below: they end first
  events_->stop();
}

void DeploymentController::resync() {
  for (const auto& d : deployments_.list()) enqueue(key_of(*d));
}

// ---- event handlers ---------------------------------------------------------------------------------------------

ObjectPtr DeploymentController::resolve_controller_ref(const std::string& ns, const json& ref) const {
  if (!ref.is_object() || ref.value("kind", "") != "Deployment") return nullptr;
  ObjectPtr d = deployments_.get(ns + "/" + ref.value("name", ""));
  if (!d || str_at(*d, "/metadata/uid") != ref.value("uid", "")) return nullptr;
  return d;
}

std::vector<ObjectPtr> DeploymentController::deployments_for(const json& rs) const {
  std::vector<ObjectPtr> out;
  json labels = rs.value("/metadata/labels"_json_pointer, json());
  for (const auto& d : deployments_.by_index(api::index::kNamespace, str_at(rs, "/metadata/namespace"))) {
    try {
      api::LabelSelector s = api::LabelSelector::from_json(d->value("/spec/selector"_json_pointer, json()));
      if (!s.empty() && !s.matches_nothing() && s.matches(labels)) out.push_back(d);
    } catch (const std::exception&) {
    }
  }
  return out;
}

void DeploymentController::on_rs_add(const ObjectPtr& rs) {
  if (being_deleted(*rs)) {
    on_rs_delete(rs);
    return;
  }
  json ref = controller_ref(*rs);
  if (!ref.is_null()) {
    if (ObjectPtr d = resolve_controller_ref(str_at(*rs, "/metadata/namespace"), ref)) enqueue(key_of(*d));
    return;
  }
  for (const auto& d : deployments_for(*rs)) enqueue(key_of(*d));
}

void DeploymentController::on_rs_update(const ObjectPtr& old_rs, const ObjectPtr& cur) {
  if (str_at(*old_rs, "/metadata/resourceVersion") == str_at(*cur, "/metadata/resourceVersion")) return;
  std::string ns = str_at(*cur, "/metadata/namespace");
  json cur_ref = controller_ref(*cur), old_ref = controller_ref(*old_rs);
  bool ref_changed = cur_ref != old_ref;
  if (ref_changed && !old_ref.is_null())
    if (ObjectPtr d = resolve_controller_ref(ns, old_ref)) enqueue(key_of(*d));
  if (!cur_ref.is_null()) {
    if (ObjectPtr d = resolve_controller_ref(ns, cur_ref)) enqueue(key_of(*d));
    return;
  }
  bool labels_changed =
      old_rs->value("/metadata/labels"_json_pointer, json()) != cur->value("/metadata/labels"_json_pointer, json());
  if (labels_changed || ref_changed)
    for (const auto& d : deployments_for(*cur)) enqueue(key_of(*d));
}

void DeploymentController::on_rs_delete(const ObjectPtr& rs) {
  json ref = controller_ref(*rs);
  if (ref.is_null()) return;
  if (ObjectPtr d = resolve_controller_ref(str_at(*rs, "/metadata/namespace"), ref)) enqueue(key_of(*d));
}

void DeploymentController::on_pod_delete(const ObjectPtr& pod) {
  // Recreate waits for the old pods to be gone before it scales the new ReplicaSet up: their deletion is news.
  json ref = controller_ref(*pod);
  if (ref.is_null() || ref.value("kind", "") != "ReplicaSet") return;
  std::string ns = str_at(*pod, "/metadata/namespace");
  ObjectPtr rs = replica_sets_.get(ns + "/" + ref.value("name", ""));
  if (!rs || str_at(*rs, "/metadata/uid") != ref.value("uid", "")) return;
  ObjectPtr d = resolve_controller_ref(ns, controller_ref(*rs));
  if (d && !is_rolling_update(*d)) enqueue(key_of(*d));
}

// ---- sync -------------------------------------------------------------------------------------------------------

void DeploymentController::sync(const std::string& key) {
  ObjectPtr cached = deployments_.get(key);
  if (!cached) return;
  State s;
  s.key = key;
  s.d = *cached;
  s.server_revision = annotation(s.d, kRevisionAnnotation);
  json& d = s.d;
  if (d.value("/spec/selector"_json_pointer, json()) == json::object()) {
    record(d, api::EventType::Warning, "SelectingAll",
           "This deployment is selecting all pods. A non-empty selector is required.");
    if (d.value("/status/observedGeneration"_json_pointer, 0) < d.value("/metadata/generation"_json_pointer, 0)) {
      d["status"]["observedGeneration"] = d["metadata"]["generation"];
      write_deployment(s);
    }
    return;
  }
  claim_replica_sets(s);
  map_pods(s);
  if (being_deleted(d)) {
    sync_status_only(s);
    return;
  }
  check_paused_conditions(s);
  if (d.value("/spec/paused"_json_pointer, false)) {
    sync_scaling(s);
    return;
  }
  if (is_scaling_event(s)) {
    sync_scaling(s);
    return;
  }
  if (is_rolling_update(d))
    rollout_rolling(s);
  else
    rollout_recreate(s);
}

void DeploymentController::claim_replica_sets(State& s) {
  api::LabelSelector selector = api::LabelSelector::from_json(s.d.value("/spec/selector"_json_pointer, json()));
  ClaimOptions claim{s.d, make_controller_ref(s.d, "apps/v1", "Deployment"), selector,
                     recheck_deletion_timestamp(deployment_client_, s.d)};
  auto in_ns = replica_sets_.by_index(api::index::kNamespace, str_at(s.d, "/metadata/namespace"));
  for (const auto& rs : claim_objects(rs_client_, claim, in_ns)) {
    s.store.push_back(*rs);
    s.rs_list.push_back(&s.store.back());
  }
}

void DeploymentController::map_pods(State& s) {
  for (const json* rs : s.rs_list) s.pods[str_at(*rs, "/metadata/uid")];
  api::LabelSelector selector = api::LabelSelector::from_json(s.d.value("/spec/selector"_json_pointer, json()));
  for (const auto& p : pods_.by_index(api::index::kNamespace, str_at(s.d, "/metadata/namespace"))) {
    if (!selector.matches(p->value("/metadata/labels"_json_pointer, json()))) continue;
    json ref = controller_ref(*p);
    if (ref.is_null()) continue;
    auto it = s.pods.find(ref.value("uid", ""));
    if (it != s.pods.end()) it->second.push_back(p);
  }
}

std::pair<json*, deployment::RsList> DeploymentController::all_replica_sets(State& s, bool create) {
  RsList old_rss = find_old_replica_sets(s.rs_list, find_new_replica_set(s.d, s.rs_list));
  json* new_rs = new_replica_set(s, old_rss, create);
  return {new_rs, old_rss};
}

json* DeploymentController::new_replica_set(State& s, const RsList& old_rss, bool create) {
  json& d = s.d;
  json* existing = find_new_replica_set(d, s.rs_list);
  std::string new_revision = std::to_string(max_revision(old_rss) + 1);
  if (existing) {
    // The template came back (a rollback) or annotations changed: the ReplicaSet takes the newest revision.
    json copy = *existing;
    bool annotations_updated = set_new_replica_set_annotations(d, copy, new_revision, true);
    json min_ready = d.value("/spec/minReadySeconds"_json_pointer, json(0));
    bool min_ready_update = copy.value("/spec/minReadySeconds"_json_pointer, json(0)) != min_ready;
    if (annotations_updated || min_ready_update) {
      copy["spec"]["minReadySeconds"] = min_ready;
      *existing = rs_client_.in(str_at(copy, "/metadata/namespace")).update(copy);
      return existing;
    }
    bool needs_update = set_deployment_revision(d, annotation(*existing, kRevisionAnnotation));
    if (has_progress_deadline(d) && !get_condition(status_of(d), kProgressing)) {
      set_condition(d["status"], new_condition(kProgressing, "True", kFoundNewRSReason,
                                               "Found new replica set " + quoted(name_of(*existing)),
                                               SysClock::now()));
      needs_update = true;
    }
    if (needs_update) write_deployment(s);
    return existing;
  }
  if (!create) return nullptr;
  return create_new_replica_set(s, old_rss, new_revision);
}

json* DeploymentController::create_new_replica_set(State& s, const RsList& old_rss, const std::string& new_revision) {
  json& d = s.d;
  std::string ns = str_at(d, "/metadata/namespace");
  std::optional<int32_t> collisions;
  if (d.contains("/status/collisionCount"_json_pointer) && d["status"]["collisionCount"].is_number_integer())
    collisions = d["status"]["collisionCount"].get<int32_t>();
  json tmpl = d.value("/spec/template"_json_pointer, json::object());
  std::string hash = compute_hash(tmpl, collisions);
  tmpl["metadata"]["labels"][kUniqueLabelKey] = hash;
  json selector = d.value("/spec/selector"_json_pointer, json::object());
  selector["matchLabels"][kUniqueLabelKey] = hash;
  json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", name_of(d) + "-" + hash},
               {"namespace", ns},
               {"ownerReferences", json::array({make_controller_ref(d, "apps/v1", "Deployment")})},
               {"labels", tmpl["metadata"]["labels"]}}},
             {"spec",
              {{"replicas", 0},
               {"minReadySeconds", d.value("/spec/minReadySeconds"_json_pointer, json(0))},
               {"selector", selector},
               {"template", tmpl}}}};
  int32_t new_replicas = new_rs_new_replicas(d, with(old_rss, &rs), rs);
  rs["spec"]["replicas"] = new_replicas;
  set_new_replica_set_annotations(d, rs, new_revision, false);

  bool already_exists = false;
  json created;
  try {
    created = rs_client_.in(ns).create(rs);
  } catch (const api::StatusError& e) {
    if (e.status().code == 409 && e.status().reason == "AlreadyExists") {
      ObjectPtr found = replica_sets_.get(ns + "/" + name_of(rs));
      if (!found) throw;  // not in the cache yet: the next sync finds it
      json ref = controller_ref(*found);
      if (!ref.is_null() && ref.value("uid", "") == str_at(d, "/metadata/uid") &&
          equal_ignore_hash(d.value("/spec/template"_json_pointer, json::object()),
                            found->value("/spec/template"_json_pointer, json::object()))) {
        created = *found;
        already_exists = true;
      } else {
        // Another template hashed to this name: count the collision, and the next sync hashes differently.
        d["status"]["collisionCount"] = collisions.value_or(0) + 1;
        write_deployment(s);
        throw;
      }
    } else {
      std::string msg = "Failed to create new replica set " + quoted(name_of(rs)) + ": " + e.what();
      if (has_progress_deadline(d)) {
        set_condition(d["status"], new_condition(kProgressing, "False", kFailedRSCreateReason, msg, SysClock::now()));
        write_deployment(s);
      }
      record(d, api::EventType::Warning, kFailedRSCreateReason, msg);
      throw;
    }
  }
  if (!already_exists && new_replicas > 0)
    record(d, api::EventType::Normal, "ScalingReplicaSet",
           "Scaled up replica set " + name_of(created) + " from 0 to " + std::to_string(new_replicas));
  bool needs_update = set_deployment_revision(d, new_revision);
  if (!already_exists && has_progress_deadline(d)) {
    set_condition(d["status"], new_condition(kProgressing, "True", kNewRSReason,
                                             "Created new replica set " + quoted(name_of(created)), SysClock::now()));
    needs_update = true;
  }
  if (needs_update) write_deployment(s);
  s.store.push_back(std::move(created));
  s.rs_list.push_back(&s.store.back());
  return &s.store.back();
}

bool DeploymentController::scale_replica_set_and_record_event(State& s, json& rs, int32_t new_scale) {
  if (spec_replicas(rs) == new_scale) return false;
  return scale_replica_set(s, rs, new_scale);
}

bool DeploymentController::scale_replica_set(State& s, json& rs, int32_t new_scale) {
  int32_t desired = spec_replicas(s.d), max = desired + max_surge(s.d);
  bool size_needs_update = spec_replicas(rs) != new_scale;
  if (!size_needs_update && !replicas_annotations_need_update(rs, desired, max)) return false;
  int32_t old_scale = spec_replicas(rs);
  json copy = rs;
  copy["spec"]["replicas"] = new_scale;
  set_replicas_annotations(copy, desired, max);
  rs = rs_client_.in(str_at(copy, "/metadata/namespace")).update(copy);
  if (!size_needs_update) return false;
  record(s.d, api::EventType::Normal, "ScalingReplicaSet",
         std::string("Scaled ") + (old_scale < new_scale ? "up" : "down") + " replica set " + name_of(rs) + " from " +
             std::to_string(old_scale) + " to " + std::to_string(new_scale));
  return true;
}

void DeploymentController::write_deployment(State& s) {
  api::ResourceClient client = deployment_client_.in(str_at(s.d, "/metadata/namespace"));
  json status = s.d.value("status", json::object());
  std::string revision = annotation(s.d, kRevisionAnnotation);
  if (revision != s.server_revision) {
    // kube-apiserver takes the annotation with the status; kctl's status subresource writes status only, so the
    // annotation goes by a patch of metadata, which leaves the generation alone.
    json patch = {{"metadata", {{"annotations", {{kRevisionAnnotation, revision}}}}}};
    patch["metadata"]["resourceVersion"] = str_at(s.d, "/metadata/resourceVersion");
    s.d = client.patch(name_of(s.d), api::PatchType::Merge, patch);
    s.server_revision = revision;
  }
  s.d["status"] = status;
  s.d = client.update_status(s.d);
}

void DeploymentController::record(const json& d, api::EventType type, const std::string& reason,
                                  const std::string& message) {
  json ref = api::object_reference(d);
  ref["kind"] = "Deployment";
  ref["apiVersion"] = "apps/v1";
  events_->record_reference(ref, type, reason, message);
}

}  // namespace kctl::controllers
