// The controller kinds with a pod template: ReplicationController (core/v1), ReplicaSet, Deployment and DaemonSet
// (apps/v1): defaults, validation (selector must match the template) and Table rows.
#include "api/kinds/pod_spec.h"
#include "api/registry.h"
#include "api/selector.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

json labels_of_template(const json& obj) {
  json t = obj.value("/spec/template/metadata/labels"_json_pointer, json());
  return t.is_object() ? t : json::object();
}

TableCell int_at(const json& obj, const char* pointer) {
  json v = obj.value(json::json_pointer(pointer), json(0));
  return TableCell::integer(v.is_number_integer() ? v.get<int64_t>() : 0);
}

void validate_replicas(const json& obj, std::vector<StatusCause>& causes) {
  json r = obj.value("/spec/replicas"_json_pointer, json(0));
  if (!r.is_number_integer() || r.get<int64_t>() < 0)
    causes.push_back(cause_invalid("spec.replicas", r, "must be greater than or equal to 0"));
}

// apps/v1: the selector is required, non-empty, immutable, and must select the template's labels.
void validate_apps_selector(const json& obj, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
  json sel = obj.value("/spec/selector"_json_pointer, json());
  if (!sel.is_object()) {
    causes.push_back(cause_required("spec.selector", ""));
    return;
  }
  if (sel.value("matchLabels", json::object()).empty() && sel.value("matchExpressions", json::array()).empty()) {
    causes.push_back(cause_invalid("spec.selector", sel, "empty selector is invalid for deployment"));
    return;
  }
  try {
    LabelSelector s = LabelSelector::from_json(sel);
    if (!s.matches(labels_of_template(obj)))
      causes.push_back(cause_invalid("spec.template.metadata.labels", labels_of_template(obj),
                                     "`selector` does not match template `labels`"));
  } catch (const StatusError& e) {
    causes.push_back(cause_invalid("spec.selector", sel, e.status().message));
  }
  if (ctx.old && ctx.old->value("/spec/selector"_json_pointer, json()) != sel)
    causes.push_back(cause_invalid("spec.selector", sel, "field is immutable"));
}

std::vector<TableCell> wide_template_cells(const json& obj, const std::string& selector_text) {
  auto [containers, images] = containers_and_images(obj.value("/spec/template/spec"_json_pointer, json::object()));
  return {TableCell::str(containers), TableCell::str(images), TableCell::str(selector_text)};
}

std::vector<TableColumn> wide_template_columns() {
  return {{"Containers", "string", "", "Names of each container in the template.", 1},
          {"Images", "string", "", "Images referenced by each container in the template.", 1},
          {"Selector", "string", "", "Label selector for pods.", 1}};
}

// ---- ReplicationController and ReplicaSet share their Table and most of their rules.

std::vector<TableColumn> replica_columns() {
  std::vector<TableColumn> c = {name_column(),
                                {"Desired", "integer", "", "Number of desired pods.", 0},
                                {"Current", "integer", "", "Number of actual pods.", 0},
                                {"Ready", "integer", "", "Number of ready pods.", 0},
                                age_column()};
  for (auto& w : wide_template_columns()) c.push_back(w);
  return c;
}

std::vector<TableCell> replica_cells(const json& obj, const std::string& selector_text) {
  std::vector<TableCell> c = {name_cell(obj), int_at(obj, "/spec/replicas"), int_at(obj, "/status/replicas"),
                              int_at(obj, "/status/readyReplicas"), age_cell(obj)};
  for (auto& w : wide_template_cells(obj, selector_text)) c.push_back(w);
  return c;
}

void rc_defaults(json& rc) {
  if (!rc.contains("spec") || !rc["spec"].is_object()) rc["spec"] = json::object();
  auto& spec = rc["spec"];
  json tlabels = labels_of_template(rc);
  if ((!spec.contains("selector") || !spec["selector"].is_object() || spec["selector"].empty()) && !tlabels.empty())
    spec["selector"] = tlabels;
  if (!rc["metadata"].contains("labels") || rc["metadata"]["labels"].empty()) {
    if (!tlabels.empty()) rc["metadata"]["labels"] = tlabels;
  }
  if (!spec.contains("replicas") || spec["replicas"].is_null()) spec["replicas"] = 1;
  if (spec.contains("template")) default_pod_template(spec["template"]);
  if (!rc.contains("status") || !rc["status"].is_object()) rc["status"] = json::object();
  if (!rc["status"].contains("replicas")) rc["status"]["replicas"] = 0;
}

void rc_validate(const json& rc, const ValidationContext&, std::vector<StatusCause>& causes) {
  validate_replicas(rc, causes);
  json sel = rc.value("/spec/selector"_json_pointer, json::object());
  if (!sel.is_object() || sel.empty()) causes.push_back(cause_required("spec.selector", ""));
  json t = rc.value("/spec/template"_json_pointer, json());
  if (!t.is_object()) {
    causes.push_back(cause_required("spec.template", ""));
    return;
  }
  json tl = labels_of_template(rc);
  for (auto it = sel.begin(); sel.is_object() && it != sel.end(); ++it)
    if (!tl.contains(it.key()) || tl[it.key()] != *it) {
      causes.push_back(cause_invalid("spec.template.metadata.labels", tl, "`selector` does not match template `labels`"));
      break;
    }
  validate_pod_template(t, "spec.template", true, causes);
}

void apps_template_defaults(json& obj) {
  if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = json::object();
  if (obj["spec"].contains("template")) default_pod_template(obj["spec"]["template"]);
  if (!obj.contains("status") || !obj["status"].is_object()) obj["status"] = json::object();
}

void rs_defaults(json& rs) {
  apps_template_defaults(rs);
  if (!rs["spec"].contains("replicas") || rs["spec"]["replicas"].is_null()) rs["spec"]["replicas"] = 1;
  if (!rs["status"].contains("replicas")) rs["status"]["replicas"] = 0;
}

void apps_validate(const json& obj, const ValidationContext& ctx, std::vector<StatusCause>& causes, bool replicas) {
  if (replicas) validate_replicas(obj, causes);
  validate_apps_selector(obj, ctx, causes);
  validate_pod_template(obj.value("/spec/template"_json_pointer, json()), "spec.template", true, causes);
}

// ---- Deployment

void deployment_defaults(json& d) {
  apps_template_defaults(d);
  auto& spec = d["spec"];
  if (!spec.contains("replicas") || spec["replicas"].is_null()) spec["replicas"] = 1;
  if (!spec.contains("strategy") || !spec["strategy"].is_object()) spec["strategy"] = json::object();
  auto& st = spec["strategy"];
  if (!st.contains("type")) st["type"] = "RollingUpdate";
  if (st["type"] == "RollingUpdate") {
    if (!st.contains("rollingUpdate") || !st["rollingUpdate"].is_object()) st["rollingUpdate"] = json::object();
    if (!st["rollingUpdate"].contains("maxUnavailable")) st["rollingUpdate"]["maxUnavailable"] = "25%";
    if (!st["rollingUpdate"].contains("maxSurge")) st["rollingUpdate"]["maxSurge"] = "25%";
  }
  if (!spec.contains("revisionHistoryLimit")) spec["revisionHistoryLimit"] = 10;
  if (!spec.contains("progressDeadlineSeconds")) spec["progressDeadlineSeconds"] = 600;
}

void deployment_validate(const json& d, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
  apps_validate(d, ctx, causes, true);
  std::string type = d.value("/spec/strategy/type"_json_pointer, std::string("RollingUpdate"));
  if (type != "RollingUpdate" && type != "Recreate")
    causes.push_back(cause_not_supported("spec.strategy.type", type, {"Recreate", "RollingUpdate"}));
  if (type == "Recreate" && d.contains("/spec/strategy/rollingUpdate"_json_pointer) &&
      !d["spec"]["strategy"]["rollingUpdate"].is_null())
    causes.push_back(cause_forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
}

std::vector<TableCell> deployment_cells(const json& d) {
  json spec = d.value("spec", json::object()), status = d.value("status", json::object());
  std::string ready = std::to_string(status.value("readyReplicas", 0)) + "/" + std::to_string(spec.value("replicas", 0));
  std::vector<TableCell> c = {name_cell(d), TableCell::str(ready), int_at(d, "/status/updatedReplicas"),
                              int_at(d, "/status/availableReplicas"), age_cell(d)};
  for (auto& w : wide_template_cells(d, format_label_selector(spec.value("selector", json())))) c.push_back(w);
  return c;
}

// ---- DaemonSet

void daemon_set_defaults(json& ds) {
  apps_template_defaults(ds);
  auto& spec = ds["spec"];
  if (!spec.contains("updateStrategy") || !spec["updateStrategy"].is_object()) spec["updateStrategy"] = json::object();
  auto& st = spec["updateStrategy"];
  if (!st.contains("type")) st["type"] = "RollingUpdate";
  if (st["type"] == "RollingUpdate") {
    if (!st.contains("rollingUpdate") || !st["rollingUpdate"].is_object()) st["rollingUpdate"] = json::object();
    if (!st["rollingUpdate"].contains("maxUnavailable")) st["rollingUpdate"]["maxUnavailable"] = 1;
    if (!st["rollingUpdate"].contains("maxSurge")) st["rollingUpdate"]["maxSurge"] = 0;
  }
  if (!spec.contains("revisionHistoryLimit")) spec["revisionHistoryLimit"] = 10;
  auto& status = ds["status"];
  for (const char* f : {"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"})
    if (!status.contains(f)) status[f] = 0;
}

std::vector<TableCell> daemon_set_cells(const json& ds) {
  json spec = ds.value("spec", json::object());
  std::vector<TableCell> c = {name_cell(ds),
                              int_at(ds, "/status/desiredNumberScheduled"),
                              int_at(ds, "/status/currentNumberScheduled"),
                              int_at(ds, "/status/numberReady"),
                              int_at(ds, "/status/updatedNumberScheduled"),
                              int_at(ds, "/status/numberAvailable"),
                              TableCell::str(format_labels(spec.value("/template/spec/nodeSelector"_json_pointer, json()))),
                              age_cell(ds)};
  for (auto& w : wide_template_cells(ds, format_label_selector(spec.value("selector", json())))) c.push_back(w);
  return c;
}

}  // namespace

KindInfo replication_controller_kind() {
  KindInfo k = make_kind("", "v1", "ReplicationController", "replicationcontrollers", {"rc"});
  k.categories = {"all"};
  k.subresources = {"status", "scale"};
  k.selectable_fields = {"status.replicas"};
  k.columns = replica_columns();
  k.apply_defaults = rc_defaults;
  k.validate = rc_validate;
  k.table_cells = [](const json& rc) {
    return replica_cells(rc, format_labels(rc.value("/spec/selector"_json_pointer, json())));
  };
  return k;
}

KindInfo replica_set_kind() {
  KindInfo k = make_kind("apps", "v1", "ReplicaSet", "replicasets", {"rs"});
  k.categories = {"all"};
  k.subresources = {"status", "scale"};
  k.selectable_fields = {"status.replicas"};
  k.columns = replica_columns();
  k.apply_defaults = rs_defaults;
  k.validate = [](const json& o, const ValidationContext& c, std::vector<StatusCause>& causes) {
    apps_validate(o, c, causes, true);
  };
  k.table_cells = [](const json& rs) {
    return replica_cells(rs, format_label_selector(rs.value("/spec/selector"_json_pointer, json())));
  };
  return k;
}

KindInfo deployment_kind() {
  KindInfo k = make_kind("apps", "v1", "Deployment", "deployments", {"deploy"});
  k.categories = {"all"};
  k.subresources = {"status", "scale"};
  k.columns = {name_column(),
               {"Ready", "string", "", "Number of the pod with ready state.", 0},
               {"Up-to-date", "integer", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0},
               {"Available", "integer", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0},
               age_column()};
  for (auto& w : wide_template_columns()) k.columns.push_back(w);
  k.apply_defaults = deployment_defaults;
  k.validate = deployment_validate;
  k.table_cells = deployment_cells;
  return k;
}

KindInfo daemon_set_kind() {
  KindInfo k = make_kind("apps", "v1", "DaemonSet", "daemonsets", {"ds"});
  k.categories = {"all"};
  k.subresources = {"status"};
  k.columns = {name_column(),
               {"Desired", "integer", "", "The total number of nodes that should be running the daemon pod.", 0},
               {"Current", "integer", "", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", 0},
               {"Ready", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.", 0},
               {"Up-to-date", "integer", "", "The total number of nodes that are running updated daemon pod.", 0},
               {"Available", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.", 0},
               {"Node Selector", "string", "", "NodeSelector is a selector which must be true for the pod to fit on a node.", 0},
               age_column()};
  for (auto& w : wide_template_columns()) k.columns.push_back(w);
  k.apply_defaults = daemon_set_defaults;
  k.validate = [](const json& o, const ValidationContext& c, std::vector<StatusCause>& causes) {
    apps_validate(o, c, causes, false);
  };
  k.table_cells = daemon_set_cells;
  return k;
}

}  // namespace kctl::api::kinds
