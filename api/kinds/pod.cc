// The Pod kind: registry entry, defaults (including the status a new pod starts with), validation, and the Table
// row kubectl shows (the READY/STATUS/RESTARTS logic of Kubernetes' printPod).
#include "api/kinds/pod_spec.h"
#include "api/registry.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

std::string qos_class(const json& spec) {
  // BestEffort: no requests/limits anywhere; Guaranteed: every container has equal cpu and memory limits/requests.
  bool any = false, guaranteed = true;
  if (!spec.contains("containers") || !spec["containers"].is_array()) return "BestEffort";
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (const auto& c : spec[list]) {
      json res = c.value("resources", json::object());
      json lim = res.value("limits", json::object()), req = res.value("requests", json::object());
      if (!lim.empty() || !req.empty()) any = true;
      for (const char* r : {"cpu", "memory"}) {
        if (!lim.contains(r)) guaranteed = false;
        else if (req.contains(r) && req[r] != lim[r]) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

void defaults(json& pod) {
  if (!pod.contains("spec") || !pod["spec"].is_object()) return;
  auto& spec = pod["spec"];
  default_pod_spec(spec);
  // What the ServiceAccount, Priority and DefaultTolerationSeconds admission plugins add to every pod.
  if (!spec.contains("serviceAccountName") || spec["serviceAccountName"] == "")
    spec["serviceAccountName"] = spec.value("serviceAccount", std::string("default"));
  if (!spec.contains("serviceAccount")) spec["serviceAccount"] = spec["serviceAccountName"];
  if (!spec.contains("priority")) spec["priority"] = 0;
  if (!spec.contains("preemptionPolicy")) spec["preemptionPolicy"] = "PreemptLowerPriority";
  if (!spec.contains("tolerations") || !spec["tolerations"].is_array()) spec["tolerations"] = json::array();
  for (const char* taint : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool present = false;
    for (const auto& t : spec["tolerations"])
      if (t.is_object() && t.value("key", "") == taint) present = true;
    if (!present)
      spec["tolerations"].push_back(
          {{"key", taint}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}});
  }
  if (!pod.contains("status") || !pod["status"].is_object()) pod["status"] = json::object();
  if (!pod["status"].contains("phase")) pod["status"]["phase"] = "Pending";
  if (!pod["status"].contains("qosClass")) pod["status"]["qosClass"] = qos_class(spec);
}

void validate(const json& pod, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
  validate_pod_spec(pod.value("spec", json()), "spec", causes);
  // Binding sets spec.nodeName and status writes do not touch the spec: only plain updates are restricted.
  if (!ctx.old || !ctx.subresource.empty()) return;
  // Pod updates may change only a few fields (ValidatePodUpdate): images, activeDeadlineSeconds, tolerations
  // (added), terminationGracePeriodSeconds (for graceful deletion) and schedulingGates (removed).
  json a = pod.value("spec", json::object()), b = ctx.old->value("spec", json::object());
  for (auto* s : {&a, &b}) {
    for (const char* list : {"containers", "initContainers"})
      if (s->contains(list) && (*s)[list].is_array())
        for (auto& c : (*s)[list])
          if (c.is_object()) c.erase("image");
    for (const char* f : {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"})
      s->erase(f);
  }
  if (a != b)
    causes.push_back(cause_forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
        "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"));
}

std::string signal_or_exit(const json& term, const std::string& prefix) {
  if (term.contains("reason") && term["reason"].is_string() && !term["reason"].get<std::string>().empty())
    return prefix + term["reason"].get<std::string>();
  if (term.value("signal", 0) != 0) return prefix + "Signal:" + std::to_string(term.value("signal", 0));
  return prefix + "ExitCode:" + std::to_string(term.value("exitCode", 0));
}

bool condition_true(const json& status, const std::string& type) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) return false;
  for (const auto& c : status["conditions"])
    if (c.value("type", "") == type) return c.value("status", "") == "True";
  return false;
}

std::vector<TableCell> cells(const json& pod) {
  json spec = pod.value("spec", json::object()), status = pod.value("status", json::object());
  int64_t restarts = 0, last_restart = 0;
  size_t total = spec.contains("containers") && spec["containers"].is_array() ? spec["containers"].size() : 0;
  size_t ready = 0;
  std::string reason = status.value("phase", "");
  if (status.contains("reason") && status["reason"].is_string() && !status["reason"].get<std::string>().empty())
    reason = status["reason"];
  auto note_restart = [&](const json& cs) {
    restarts += cs.value("restartCount", 0);
    if (cs.contains("lastState") && cs["lastState"].contains("terminated")) {
      int64_t t = parse_time(cs["lastState"]["terminated"].value("finishedAt", ""));
      if (t > last_restart) last_restart = t;
    }
  };
  bool initializing = false;
  size_t n_init = spec.contains("initContainers") && spec["initContainers"].is_array() ? spec["initContainers"].size() : 0;
  if (status.contains("initContainerStatuses") && status["initContainerStatuses"].is_array()) {
    size_t i = 0;
    for (const auto& cs : status["initContainerStatuses"]) {
      note_restart(cs);
      json state = cs.value("state", json::object());
      if (state.contains("terminated") && state["terminated"].value("exitCode", 0) == 0) {
        ++i;
        continue;
      }
      initializing = true;
      if (state.contains("terminated"))
        reason = signal_or_exit(state["terminated"], "Init:");
      else if (state.contains("waiting") && !state["waiting"].value("reason", "").empty() &&
               state["waiting"].value("reason", "") != "PodInitializing")
        reason = "Init:" + state["waiting"].value("reason", "");
      else
        reason = "Init:" + std::to_string(i) + "/" + std::to_string(n_init);
      break;
    }
  }
  if (!initializing || condition_true(status, "Initialized")) {
    restarts = 0;
    bool has_running = false;
    if (status.contains("containerStatuses") && status["containerStatuses"].is_array()) {
      const auto& list = status["containerStatuses"];
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        const auto& cs = *it;
        note_restart(cs);
        json state = cs.value("state", json::object());
        if (state.contains("waiting") && !state["waiting"].value("reason", "").empty())
          reason = state["waiting"].value("reason", "");
        else if (state.contains("terminated"))
          reason = signal_or_exit(state["terminated"], "");
        else if (cs.value("ready", false) && state.contains("running")) {
          has_running = true;
          ++ready;
        }
      }
    }
    if (reason == "Completed" && has_running) reason = condition_true(status, "Ready") ? "Running" : "NotReady";
  }
  if (pod["metadata"].contains("deletionTimestamp") && !pod["metadata"]["deletionTimestamp"].is_null())
    reason = status.value("reason", "") == "NodeLost" ? "Unknown" : "Terminating";

  auto or_none = [](const json& o, const char* k) {
    std::string v = o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : "";
    return TableCell::str(v.empty() ? "<none>" : v);
  };
  std::string gates = "<none>";
  if (spec.contains("readinessGates") && spec["readinessGates"].is_array() && !spec["readinessGates"].empty()) {
    size_t true_gates = 0;
    for (const auto& g : spec["readinessGates"])
      if (condition_true(status, g.value("conditionType", ""))) ++true_gates;
    gates = std::to_string(true_gates) + "/" + std::to_string(spec["readinessGates"].size());
  }
  TableCell restart_cell = last_restart ? TableCell::text_with_age(std::to_string(restarts) + " ({age} ago)", last_restart)
                                        : TableCell::str(std::to_string(restarts));
  return {name_cell(pod),
          TableCell::str(std::to_string(ready) + "/" + std::to_string(total)),
          TableCell::str(reason),
          restart_cell,
          age_cell(pod),
          or_none(status, "podIP"),
          or_none(spec, "nodeName"),
          or_none(status, "nominatedNodeName"),
          TableCell::str(gates)};
}

}  // namespace

KindInfo pod_kind() {
  KindInfo k = make_kind("", "v1", "Pod", "pods", {"po"});
  k.categories = {"all"};
  k.subresources = {"status", "binding", "log", "exec", "portforward"};
  k.selectable_fields = {"spec.nodeName",     "spec.restartPolicy",     "spec.schedulerName",
                         "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                         "status.podIP",      "status.nominatedNodeName"};
  k.columns = {name_column(),
               {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
               {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
               {"Restarts", "string", "",
                "The number of times the containers in this pod have been restarted and when the last container in "
                "this pod has restarted.",
                0},
               age_column(),
               {"IP", "string", "", "IP address allocated to the pod.", 1},
               {"Node", "string", "", "Name of the node assigned to the pod.", 1},
               {"Nominated Node", "string", "", "Name of the node nominated for the pod.", 1},
               {"Readiness Gates", "string", "", "The readiness gates of the pod.", 1}};
  k.apply_defaults = defaults;
  k.validate = validate;
  k.table_cells = cells;
  return k;
}

}  // namespace kctl::api::kinds
