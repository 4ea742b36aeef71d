// kubectl's describers for Pods, ReplicationControllers, ReplicaSets and Deployments (with their pod templates
// and containers); Services, Nodes and Namespaces are in describe_cluster.cc; everything else is generic.
#include <algorithm>
#include <map>
#include <set>

#include "api/quantity.h"
#include "api/resource_path.h"
#include "api/selector.h"
#include "cli/describe.h"
#include "cli/describe_internal.h"
#include "cli/jsonpath.h"
#include "cli/rest_client.h"
#include "cli/resource_args.h"

namespace kctl::cli {

using nlohmann::json;

std::string quantity_text(const json& q) {
  try {
    return api::Quantity::from_json(q).to_string();
  } catch (const std::exception&) {
    return go_sprint(q);
  }
}

namespace {

std::string join_ports(const json& ports, const char* key) {
  std::string out;
  for (const auto& p : ports)
    out += (out.empty() ? "" : ", ") + std::to_string(p.value(key, int64_t(0))) + "/" + p.value("protocol", "TCP");
  return out;
}

void describe_resources(DescribeWriter& w, const json& resources, int level) {
  for (const char* kind : {"limits", "requests"}) {
    const json list = resources.is_object() ? resources.value(kind, json::object()) : json::object();
    if (!list.is_object() || list.empty()) continue;
    w.write(level, std::string(kind == std::string("limits") ? "Limits" : "Requests") + ":\n");
    for (auto it = list.begin(); it != list.end(); ++it) w.write(level + 1, it.key() + ":\t" + quantity_text(*it) + "\n");
  }
}

void describe_state(DescribeWriter& w, const std::string& name, const json& state) {
  if (state.contains("running")) {
    w.write(2, name + ":\tRunning\n");
    w.write(3, "Started:\t" + rfc1123z(str(state, "/running/startedAt")) + "\n");
  } else if (state.contains("waiting")) {
    w.write(2, name + ":\tWaiting\n");
    if (!str(state, "/waiting/reason").empty()) w.write(3, "Reason:\t" + str(state, "/waiting/reason") + "\n");
  } else if (state.contains("terminated")) {
    const json& t = state["terminated"];
    w.write(2, name + ":\tTerminated\n");
    if (!str(t, "/reason").empty()) w.write(3, "Reason:\t" + str(t, "/reason") + "\n");
    if (!str(t, "/message").empty()) w.write(3, "Message:\t" + str(t, "/message") + "\n");
    w.write(3, "Exit Code:\t" + std::to_string(t.value("exitCode", 0)) + "\n");
    if (t.value("signal", 0) > 0) w.write(3, "Signal:\t" + std::to_string(t.value("signal", 0)) + "\n");
    w.write(3, "Started:\t" + rfc1123z(str(t, "/startedAt")) + "\n");
    w.write(3, "Finished:\t" + rfc1123z(str(t, "/finishedAt")) + "\n");
  } else {
    w.write(2, name + ":\tWaiting\n");
  }
}

std::string probe_text(const json& p) {
  std::string attrs = "delay=" + std::to_string(p.value("initialDelaySeconds", 0)) + "s timeout=" +
                      std::to_string(p.value("timeoutSeconds", 0)) + "s period=" + std::to_string(p.value("periodSeconds", 0)) +
                      "s #success=" + std::to_string(p.value("successThreshold", 0)) + " #failure=" +
                      std::to_string(p.value("failureThreshold", 0));
  if (p.contains("exec")) return "exec " + go_sprint(p["exec"].value("command", json::array())) + " " + attrs;
  if (p.contains("httpGet")) {
    const json& h = p["httpGet"];
    std::string scheme = str(h, "/scheme", "HTTP");
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
    return "http-get " + scheme + "://" + str(h, "/host") + ":" + str(h, "/port") + str(h, "/path") + " " + attrs;
  }
  if (p.contains("tcpSocket")) return "tcp-socket " + str(p, "/tcpSocket/host") + ":" + str(p, "/tcpSocket/port") + " " + attrs;
  return "unknown " + attrs;
}

void describe_env(DescribeWriter& w, const json& c) {
  const json env = c.value("env", json::array());
  w.write(2, std::string("Environment:") + (env.empty() ? "\t<none>" : "") + "\n");
  for (const auto& e : env) {
    std::string name = e.value("name", "");
    if (!e.contains("valueFrom")) {
      std::string value = e.value("value", "");
      size_t start = 0;
      for (bool first = true;; first = false) {
        size_t nl = value.find('\n', start);
        std::string s = value.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        w.write(3, (first ? name + ":" : "") + "\t" + s + "\n");
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      continue;
    }
    const json& vf = e["valueFrom"];
    if (vf.contains("fieldRef"))
      w.write(3, name + ":\t (" + str(vf, "/fieldRef/apiVersion") + ":" + str(vf, "/fieldRef/fieldPath") + ")\n");
    else if (vf.contains("resourceFieldRef"))
      w.write(3, name + ":\t (" + str(vf, "/resourceFieldRef/resource") + ")\n");
    else if (vf.contains("secretKeyRef"))
      w.write(3, name + ":\t<set to the key '" + str(vf, "/secretKeyRef/key") + "' in secret '" + str(vf, "/secretKeyRef/name") +
                     "'>\tOptional: " + (vf["secretKeyRef"].value("optional", false) ? "true" : "false") + "\n");
    else if (vf.contains("configMapKeyRef"))
      w.write(3, name + ":\t<set to the key '" + str(vf, "/configMapKeyRef/key") + "' of config map '" +
                     str(vf, "/configMapKeyRef/name") + "'>\tOptional: " +
                     (vf["configMapKeyRef"].value("optional", false) ? "true" : "false") + "\n");
  }
}

void describe_mounts(DescribeWriter& w, const json& c) {
  json mounts = c.value("volumeMounts", json::array());
  w.write(2, std::string("Mounts:") + (mounts.empty() ? "\t<none>" : "") + "\n");
  std::stable_sort(mounts.begin(), mounts.end(), [](const json& a, const json& b) { return a.value("mountPath", "") < b.value("mountPath", ""); });
  for (const auto& m : mounts) {
    std::string flags = m.value("readOnly", false) ? "ro" : "rw";
    if (!m.value("subPath", "").empty()) flags += ",path=\"" + m.value("subPath", "") + "\"";
    w.write(3, m.value("mountPath", "") + " from " + m.value("name", "") + " (" + flags + ")\n");
  }
}

void describe_containers(DescribeWriter& w, const std::string& label, const json& containers, const json& statuses,
                         const std::string& space) {
  w.write(0, space + label + ":" + (containers.empty() ? " <none>" : "") + "\n");
  for (const auto& c : containers) {
    const json* status = nullptr;
    for (const auto& s : statuses)
      if (s.value("name", "") == c.value("name", "")) status = &s;
    w.write(1, (space.empty() ? "" : " ") + c.value("name", "") + ":\n");
    if (status) w.write(2, "Container ID:\t" + str(*status, "/containerID") + "\n");
    w.write(2, "Image:\t" + c.value("image", "") + "\n");
    if (status) w.write(2, "Image ID:\t" + str(*status, "/imageID") + "\n");
    const json ports = c.value("ports", json::array());
    std::string p = join_ports(ports, "containerPort"), hp = join_ports(ports, "hostPort");
    w.write(2, (p.find(',') != std::string::npos ? "Ports:\t" : "Port:\t") + (p.empty() ? "<none>" : p) + "\n");
    w.write(2, (hp.find(',') != std::string::npos ? "Host Ports:\t" : "Host Port:\t") + (hp.empty() ? "<none>" : hp) + "\n");
    for (const char* which : {"command", "args"}) {
      const json list = c.value(which, json::array());
      if (list.empty()) continue;
      w.write(2, std::string(which == std::string("command") ? "Command" : "Args") + ":\n");
      for (const auto& part : list) {
        std::string s = part.get<std::string>();
        size_t start = 0;
        for (;;) {
          size_t nl = s.find('\n', start);
          w.write(3, s.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n");
          if (nl == std::string::npos) break;
          start = nl + 1;
        }
      }
    }
    if (status) {
      describe_state(w, "State", status->value("state", json::object()));
      if (status->contains("/lastState/terminated"_json_pointer)) describe_state(w, "Last State", (*status)["lastState"]);
      w.write(2, std::string("Ready:\t") + (status->value("ready", false) ? "True" : "False") + "\n");
      w.write(2, "Restart Count:\t" + std::to_string(status->value("restartCount", 0)) + "\n");
    }
    describe_resources(w, c.value("resources", json::object()), 2);
    if (c.contains("livenessProbe")) w.write(2, "Liveness:\t" + probe_text(c["livenessProbe"]) + "\n");
    if (c.contains("readinessProbe")) w.write(2, "Readiness:\t" + probe_text(c["readinessProbe"]) + "\n");
    if (c.contains("startupProbe")) w.write(2, "Startup:\t" + probe_text(c["startupProbe"]) + "\n");
    if (c.contains("envFrom") && !c["envFrom"].empty()) {
      w.write(2, "Environment Variables from:\n");
      for (const auto& e : c["envFrom"]) {
        bool cm = e.contains("configMapRef");
        const json& ref = cm ? e["configMapRef"] : e.value("secretRef", json::object());
        std::string prefix = e.value("prefix", "");
        w.write(3, ref.value("name", "") + "\t" + (cm ? "ConfigMap" : "Secret") + (prefix.empty() ? "" : " with prefix '" + prefix + "'") +
                       "\tOptional: " + (ref.value("optional", false) ? "true" : "false") + "\n");
      }
    }
    describe_env(w, c);
    describe_mounts(w, c);
  }
}

}  // namespace

void describe_volumes(DescribeWriter& w, const json& volumes, const std::string& space) {
  if (!volumes.is_array() || volumes.empty()) return w.write(0, space + "Volumes:\t<none>\n");
  w.write(0, space + "Volumes:\n");
  for (const auto& v : volumes) {
    w.write(1, (space.empty() ? "" : " ") + v.value("name", "") + ":\n");
    if (v.contains("hostPath")) {
      w.write(2, "Type:\tHostPath (bare host directory volume)\n    Path:\t" + str(v, "/hostPath/path") +
                     "\n    HostPathType:\t" + str(v, "/hostPath/type", "<none>") + "\n");
    } else if (v.contains("emptyDir")) {
      std::string limit = v["emptyDir"].contains("sizeLimit") ? quantity_text(v["emptyDir"]["sizeLimit"]) : "<unset>";
      w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t" +
                     str(v, "/emptyDir/medium") + "\n    SizeLimit:\t" + limit + "\n");
    } else if (v.contains("secret")) {
      w.write(2, "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t" + str(v, "/secret/secretName") +
                     "\n    Optional:\t" + (v["secret"].value("optional", false) ? "true" : "false") + "\n");
    } else if (v.contains("configMap")) {
      w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t" + str(v, "/configMap/name") +
                     "\n    Optional:\t" + (v["configMap"].value("optional", false) ? "true" : "false") + "\n");
    } else if (v.contains("persistentVolumeClaim")) {
      w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t" +
                     str(v, "/persistentVolumeClaim/claimName") + "\n    ReadOnly:\t" +
                     (v["persistentVolumeClaim"].value("readOnly", false) ? "true" : "false") + "\n");
    } else {
      w.write(1, "<unknown>\n");
    }
  }
}

void describe_pod_template(DescribeWriter& w, const json& tmpl) {
  w.write(0, "Pod Template:\n");
  const json meta = tmpl.value("metadata", json::object()), spec = tmpl.value("spec", json::object());
  print_labels_multiline(w, "  Labels", meta.value("labels", json::object()));
  if (meta.contains("annotations") && !meta["annotations"].empty()) print_annotations_multiline(w, "  Annotations", meta["annotations"]);
  if (!str(spec, "/serviceAccountName").empty()) w.write(1, "Service Account:\t" + str(spec, "/serviceAccountName") + "\n");
  if (spec.contains("initContainers") && !spec["initContainers"].empty())
    describe_containers(w, "Init Containers", spec["initContainers"], json::array(), "  ");
  describe_containers(w, "Containers", spec.value("containers", json::array()), json::array(), "  ");
  describe_volumes(w, spec.value("volumes", json::array()), "  ");
  if (!str(spec, "/priorityClassName").empty()) w.write(1, "Priority Class Name:\t" + str(spec, "/priorityClassName") + "\n");
  print_labels_multiline(w, "  Node-Selectors", spec.value("nodeSelector", json::object()));
  print_tolerations_multiline(w, "  Tolerations", spec.value("tolerations", json::array()));
}

std::string pod_qos(const json& pod) {
  if (!str(pod, "/status/qosClass").empty()) return str(pod, "/status/qosClass");
  std::map<std::string, api::Quantity> requests, limits;
  bool guaranteed = true;
  const json spec = pod.value("spec", json::object());
  json all = spec.value("containers", json::array());
  for (const auto& c : spec.value("initContainers", json::array())) all.push_back(c);
  auto add = [](std::map<std::string, api::Quantity>& into, const json& list, std::set<std::string>* found) {
    if (!list.is_object()) return;
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (it.key() != "cpu" && it.key() != "memory") continue;
      auto q = api::Quantity::try_parse(it->is_string() ? it->get<std::string>() : it->dump());
      if (!q || q->sign() <= 0) continue;
      if (found) found->insert(it.key());
      if (into.count(it.key())) into[it.key()] = api::Quantity::from_milli(into[it.key()].milli_value() + q->milli_value());
      else into[it.key()] = *q;
    }
  };
  for (const auto& c : all) {
    const json r = c.value("resources", json::object());
    add(requests, r.value("requests", json::object()), nullptr);
    std::set<std::string> found;
    add(limits, r.value("limits", json::object()), &found);
    if (!found.count("cpu") || !found.count("memory")) guaranteed = false;
  }
  if (requests.empty() && limits.empty()) return "BestEffort";
  if (guaranteed)
    for (const auto& [name, req] : requests)
      if (!limits.count(name) || limits[name].compare(req) != 0) guaranteed = false;
  return guaranteed && requests.size() == limits.size() ? "Guaranteed" : "Burstable";
}

std::string controller_of(const json& obj) {
  for (const auto& ref : obj.value("/metadata/ownerReferences"_json_pointer, json::array()))
    if (ref.value("controller", false)) return ref.value("kind", "") + "/" + ref.value("name", "");
  return "";
}

std::string describe_pod(const json& pod, const json* events) {
  std::string out;
  DescribeWriter w(out);
  const json spec = pod.value("spec", json::object()), status = pod.value("status", json::object());
  w.write(0, "Name:\t" + str(pod, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + str(pod, "/metadata/namespace") + "\n");
  if (spec.contains("priority")) w.write(0, "Priority:\t" + str(spec, "/priority") + "\n");
  if (!str(spec, "/priorityClassName").empty()) w.write(0, "Priority Class Name:\t" + str(spec, "/priorityClassName") + "\n");
  if (!str(spec, "/runtimeClassName").empty()) w.write(0, "Runtime Class Name:\t" + str(spec, "/runtimeClassName") + "\n");
  if (!str(spec, "/serviceAccountName").empty()) w.write(0, "Service Account:\t" + str(spec, "/serviceAccountName") + "\n");
  w.write(0, "Node:\t" + (str(spec, "/nodeName").empty() ? "<none>" : str(spec, "/nodeName") + "/" + str(status, "/hostIP")) + "\n");
  if (!str(status, "/startTime").empty()) w.write(0, "Start Time:\t" + rfc1123z(str(status, "/startTime")) + "\n");
  print_labels_multiline(w, "Labels", pod.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", pod.value("/metadata/annotations"_json_pointer, json::object()));
  std::string phase = str(status, "/phase");
  if (!str(pod, "/metadata/deletionTimestamp").empty() && phase != "Failed" && phase != "Succeeded") {
    w.write(0, "Status:\tTerminating (lasts " + age_since_text(str(pod, "/metadata/deletionTimestamp")) + ")\n");
    w.write(0, "Termination Grace Period:\t" + str(pod, "/metadata/deletionGracePeriodSeconds", "0") + "s\n");
  } else {
    w.write(0, "Status:\t" + phase + "\n");
  }
  if (!str(status, "/reason").empty()) w.write(0, "Reason:\t" + str(status, "/reason") + "\n");
  if (!str(status, "/message").empty()) w.write(0, "Message:\t" + str(status, "/message") + "\n");
  w.write(0, "IP:\t" + str(status, "/podIP") + "\n");
  const json ips = status.value("podIPs", json::array());
  if (ips.empty()) {
    w.write(0, "IPs:\t<none>\n");
  } else {
    w.write(0, "IPs:\n");
    for (const auto& ip : ips) w.write(1, "IP:\t" + ip.value("ip", "") + "\n");
  }
  if (std::string c = controller_of(pod); !c.empty()) w.write(0, "Controlled By:\t" + c + "\n");
  if (!str(status, "/nominatedNodeName").empty()) w.write(0, "NominatedNodeName:\t" + str(status, "/nominatedNodeName") + "\n");
  if (spec.contains("initContainers") && !spec["initContainers"].empty())
    describe_containers(w, "Init Containers", spec["initContainers"], status.value("initContainerStatuses", json::array()), "");
  describe_containers(w, "Containers", spec.value("containers", json::array()), status.value("containerStatuses", json::array()), "");
  if (status.contains("conditions") && !status["conditions"].empty()) {
    w.write(0, "Conditions:\n  Type\tStatus\n");
    for (const auto& c : status["conditions"]) w.write(1, c.value("type", "") + " \t" + c.value("status", "") + " \n");
  }
  describe_volumes(w, spec.value("volumes", json::array()), "");
  w.write(0, "QoS Class:\t" + pod_qos(pod) + "\n");
  print_labels_multiline(w, "Node-Selectors", spec.value("nodeSelector", json::object()));
  print_tolerations_multiline(w, "Tolerations", spec.value("tolerations", json::array()));
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

// getPodStatusForController: pods matching the selector and controlled by `uid`, counted by phase.
std::string pods_status(RestClient& rest, const std::string& ns, const std::string& selector, const std::string& uid) {
  int running = 0, waiting = 0, succeeded = 0, failed = 0;
  json pods = rest.call("GET", api::collection_path(resolve_kind("pods"), ns) + Query().add("labelSelector", selector).str())
                  .value("items", json::array());
  for (const auto& p : pods) {
    bool owned = false;
    for (const auto& ref : p.value("/metadata/ownerReferences"_json_pointer, json::array()))
      if (ref.value("controller", false) && ref.value("uid", "") == uid) owned = true;
    if (!owned) continue;
    std::string phase = str(p, "/status/phase");
    running += phase == "Running";
    waiting += phase == "Pending";
    succeeded += phase == "Succeeded";
    failed += phase == "Failed";
  }
  return std::to_string(running) + " Running / " + std::to_string(waiting) + " Waiting / " + std::to_string(succeeded) +
         " Succeeded / " + std::to_string(failed) + " Failed";
}

std::string describe_replicas(RestClient& rest, const json& obj, const json* events, bool is_rs) {
  std::string out;
  DescribeWriter w(out);
  std::string ns = str(obj, "/metadata/namespace");
  std::string selector = is_rs ? api::LabelSelector::from_json(obj.value("/spec/selector"_json_pointer, json::object())).to_string()
                               : format_labels(obj.value("/spec/selector"_json_pointer, json::object()));
  w.write(0, "Name:\t" + str(obj, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + ns + "\n");
  w.write(0, "Selector:\t" + (is_rs ? api::kinds::format_label_selector(obj.value("/spec/selector"_json_pointer, json::object())) : selector) + "\n");
  print_labels_multiline(w, "Labels", obj.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", obj.value("/metadata/annotations"_json_pointer, json::object()));
  if (std::string c = controller_of(obj); is_rs && !c.empty()) w.write(0, "Controlled By:\t" + c + "\n");
  w.write(0, "Replicas:\t" + str(obj, "/status/replicas", "0") + " current / " + str(obj, "/spec/replicas", "1") + " desired\n");
  w.write(0, "Pods Status:\t" + pods_status(rest, ns, selector == "<none>" ? "" : selector, str(obj, "/metadata/uid")) + "\n");
  describe_pod_template(w, obj.value("/spec/template"_json_pointer, json::object()));
  const json conds = obj.value("/status/conditions"_json_pointer, json::array());
  if (!conds.empty()) {
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n");
    w.write(1, "----\t------\t------\n");
    for (const auto& c : conds) w.write(1, c.value("type", "") + " \t" + c.value("status", "") + "\t" + c.value("reason", "") + "\n");
  }
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

}  // namespace kctl::cli
