// The smaller kinds: Namespace, Node, Event, ConfigMap, Secret, ServiceAccount (core/v1) and Lease
// (coordination.k8s.io/v1): registry entries, defaults, validation and Table rows.
#include <regex>

#include "api/registry.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

// ConfigMap and Secret: the keys of data are file names (IsConfigMapKey) and all values together are at most 1 MiB.
constexpr size_t kMaxConfigDataBytes = 1024 * 1024;

void validate_config_keys(const json& obj, const char* field, std::vector<StatusCause>& causes, size_t& total) {
  static const std::regex kKey("^[-._a-zA-Z0-9]+$");
  json data = obj.value(field, json::object());
  if (!data.is_object()) return;
  for (auto it = data.begin(); it != data.end(); ++it) {
    const std::string& key = it.key();
    if (key.size() > 253 || !std::regex_match(key, kKey) || key == "." || key == ".." || key.rfind("..", 0) == 0)
      causes.push_back(cause_invalid(std::string(field), key,
                                     "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                                     "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                                     "'[-._a-zA-Z0-9]+')"));
    if (it->is_string()) total += it->get<std::string>().size();
  }
}

std::string ready_status(const json& node) {
  std::string status = "Unknown";
  json conds = node.value("/status/conditions"_json_pointer, json::array());
  bool found = false;
  for (const auto& c : conds)
    if (c.value("type", "") == "Ready") {
      found = true;
      status = c.value("status", "") == "True" ? "Ready" : "NotReady";
    }
  if (!found) status = "Unknown";
  if (node.value("/spec/unschedulable"_json_pointer, false)) status += ",SchedulingDisabled";
  return status;
}

std::vector<TableCell> node_cells(const json& node) {
  std::vector<std::string> roles;
  json labels = node.value("/metadata/labels"_json_pointer, json::object());
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    const std::string prefix = "node-role.kubernetes.io/";
    if (it.key().rfind(prefix, 0) == 0 && it.key().size() > prefix.size()) roles.push_back(it.key().substr(prefix.size()));
    else if (it.key() == "kubernetes.io/role" && it->is_string()) roles.push_back(it->get<std::string>());
  }
  std::string internal = "<none>", external = "<none>";
  for (const auto& a : node.value("/status/addresses"_json_pointer, json::array())) {
    if (a.value("type", "") == "InternalIP" && internal == "<none>") internal = a.value("address", "");
    if (a.value("type", "") == "ExternalIP" && external == "<none>") external = a.value("address", "");
  }
  json info = node.value("/status/nodeInfo"_json_pointer, json::object());
  auto or_unknown = [](const std::string& s) { return TableCell::str(s.empty() ? "<unknown>" : s); };
  return {name_cell(node),
          TableCell::str(ready_status(node)),
          TableCell::str(roles.empty() ? "<none>" : join(roles, ",")),
          age_cell(node),
          TableCell::str(info.value("kubeletVersion", "")),
          TableCell::str(internal),
          TableCell::str(external),
          or_unknown(info.value("osImage", "")),
          or_unknown(info.value("kernelVersion", "")),
          or_unknown(info.value("containerRuntimeVersion", ""))};
}

void node_defaults(json& node) {
  // Allocatable defaults to capacity (SetDefaults_NodeStatus).
  if (node.contains("status") && node["status"].is_object() && node["status"].contains("capacity") &&
      !node["status"].contains("allocatable"))
    node["status"]["allocatable"] = node["status"]["capacity"];
}

void node_validate(const json& node, const ValidationContext&, std::vector<StatusCause>& causes) {
  std::string cidr = node.value("/spec/podCIDR"_json_pointer, std::string());
  if (!cidr.empty())
    for (const auto& m : is_valid_cidr(cidr)) causes.push_back(cause_invalid("spec.podCIDR", cidr, m));
  json taints = node.value("/spec/taints"_json_pointer, json::array());
  for (size_t i = 0; taints.is_array() && i < taints.size(); ++i) {
    std::string effect = taints[i].value("effect", "");
    if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      causes.push_back(cause_not_supported("spec.taints[" + std::to_string(i) + "].effect", effect,
                                           {"NoExecute", "NoSchedule", "PreferNoSchedule"}));
  }
}

std::vector<TableCell> event_cells(const json& ev) {
  int64_t last = parse_time(ev.value("lastTimestamp", ""));
  if (!last) last = parse_time(ev.value("eventTime", ""));
  int64_t first = parse_time(ev.value("firstTimestamp", ""));
  if (!first) first = parse_time(ev.value("eventTime", ""));
  if (!last) last = parse_time(ev.value("/metadata/creationTimestamp"_json_pointer, std::string()));
  json io = ev.value("involvedObject", json::object());
  std::string kind = io.value("kind", "");
  for (auto& ch : kind) ch = char(std::tolower(ch));
  std::string source = ev.value("/source/component"_json_pointer, std::string());
  std::string host = ev.value("/source/host"_json_pointer, std::string());
  if (source.empty()) source = ev.value("reportingComponent", "");
  if (!host.empty()) source += ", " + host;
  return {TableCell::age(last),
          TableCell::str(ev.value("type", "")),
          TableCell::str(ev.value("reason", "")),
          TableCell::str(kind + "/" + io.value("name", "")),
          TableCell::str(io.value("fieldPath", "")),
          TableCell::str(source),
          TableCell::str(ev.value("message", "")),
          TableCell::age(first),
          TableCell::integer(ev.value("count", 1)),
          name_cell(ev)};
}

void event_validate(const json& ev, const ValidationContext&, std::vector<StatusCause>& causes) {
  std::string ns = ev.value("/metadata/namespace"_json_pointer, std::string());
  std::string io_ns = ev.value("/involvedObject/namespace"_json_pointer, std::string());
  if (!io_ns.empty() && io_ns != ns)
    causes.push_back(cause_invalid("involvedObject.namespace", io_ns, "does not match event.namespace"));
}

}  // namespace

KindInfo namespace_kind() {
  KindInfo k = make_kind("", "v1", "Namespace", "namespaces", {"ns"});
  k.namespaced = false;
  k.subresources = {"status", "finalize"};
  k.selectable_fields = {"status.phase"};
  k.validate_name = name_is_dns_label;
  k.columns = {name_column(), {"Status", "string", "", "The status of the namespace", 0}, age_column()};
  k.apply_defaults = [](json& ns) {
    if (!ns.contains("spec") || !ns["spec"].is_object()) ns["spec"] = json::object();
    if (!ns["spec"].contains("finalizers")) ns["spec"]["finalizers"] = json::array({"kubernetes"});
    if (!ns.contains("status") || !ns["status"].is_object()) ns["status"] = json::object();
    if (!ns["status"].contains("phase")) ns["status"]["phase"] = "Active";
  };
  k.table_cells = [](const json& ns) {
    return std::vector<TableCell>{name_cell(ns),
                                  TableCell::str(ns.value("/status/phase"_json_pointer, std::string("Active"))),
                                  age_cell(ns)};
  };
  return k;
}

KindInfo node_kind() {
  KindInfo k = make_kind("", "v1", "Node", "nodes", {"no"});
  k.namespaced = false;
  k.subresources = {"status"};
  k.selectable_fields = {"spec.unschedulable"};
  k.columns = {name_column(),
               {"Status", "string", "", "The status of the node", 0},
               {"Roles", "string", "", "The roles of the node", 0},
               age_column(),
               {"Version", "string", "", "Kubelet Version reported by the node.", 0},
               {"Internal-IP", "string", "", "List of addresses reachable to the node.", 1},
               {"External-IP", "string", "", "List of addresses reachable to the node.", 1},
               {"OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1},
               {"Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1},
               {"Container-Runtime", "string", "", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1}};
  k.apply_defaults = node_defaults;
  k.validate = node_validate;
  k.table_cells = node_cells;
  return k;
}

KindInfo event_kind() {
  KindInfo k = make_kind("", "v1", "Event", "events", {"ev"});
  k.selectable_fields = {"involvedObject.kind",      "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid",       "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason",                    "reportingComponent",
                         "source",                   "type"};
  k.columns = {{"Last Seen", "string", "", "The last time the event was seen.", 0},
               {"Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future.", 0},
               {"Reason", "string", "", "The reason for the transition into the object's current status.", 0},
               {"Object", "string", "", "The object that this event is about.", 0},
               {"Subobject", "string", "", "The sub-object of the involved object.", 1},
               {"Source", "string", "", "The component reporting this event.", 1},
               {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
               {"First Seen", "string", "", "The time at which the event was first recorded.", 1},
               {"Count", "integer", "", "The number of times this event has occurred.", 1},
               {"Name", "string", "name", "Name of the event.", 1}};
  k.validate = event_validate;
  k.table_cells = event_cells;
  return k;
}

KindInfo config_map_kind() {
  KindInfo k = make_kind("", "v1", "ConfigMap", "configmaps", {"cm"});
  k.columns = {name_column(), {"Data", "integer", "", "Number of data entries.", 0}, age_column()};
  k.validate = [](const json& cm, const ValidationContext&, std::vector<StatusCause>& causes) {
    size_t total = 0;
    validate_config_keys(cm, "data", causes, total);
    validate_config_keys(cm, "binaryData", causes, total);
    if (total > kMaxConfigDataBytes)
      causes.push_back(cause_too_long("data", kMaxConfigDataBytes));
  };
  k.table_cells = [](const json& cm) {
    size_t n = cm.value("data", json::object()).size() + cm.value("binaryData", json::object()).size();
    return std::vector<TableCell>{name_cell(cm), TableCell::integer(int64_t(n)), age_cell(cm)};
  };
  return k;
}

KindInfo secret_kind() {
  KindInfo k = make_kind("", "v1", "Secret", "secrets", {});
  k.selectable_fields = {"type"};
  k.columns = {name_column(),
               {"Type", "string", "", "The type of the secret", 0},
               {"Data", "integer", "", "Number of data entries.", 0},
               age_column()};
  k.apply_defaults = [](json& s) {
    if (!s.contains("type") || s["type"] == "") s["type"] = "Opaque";
  };
  k.validate = [](const json& s, const ValidationContext&, std::vector<StatusCause>& causes) {
    size_t total = 0;
    validate_config_keys(s, "data", causes, total);
    validate_config_keys(s, "stringData", causes, total);
    if (total > kMaxConfigDataBytes) causes.push_back(cause_too_long("data", kMaxConfigDataBytes));
  };
  k.table_cells = [](const json& s) {
    return std::vector<TableCell>{name_cell(s), TableCell::str(s.value("type", "Opaque")),
                                  TableCell::integer(int64_t(s.value("data", json::object()).size())), age_cell(s)};
  };
  return k;
}

KindInfo service_account_kind() {
  KindInfo k = make_kind("", "v1", "ServiceAccount", "serviceaccounts", {"sa"});
  k.subresources = {"token"};  // TokenRequest (authentication.k8s.io/v1), create only
  k.columns = {name_column(), {"Secrets", "integer", "", "Number of secrets.", 0}, age_column()};
  k.table_cells = [](const json& sa) {
    return std::vector<TableCell>{name_cell(sa), TableCell::integer(int64_t(sa.value("secrets", json::array()).size())),
                                  age_cell(sa)};
  };
  return k;
}

KindInfo lease_kind() {
  KindInfo k = make_kind("coordination.k8s.io", "v1", "Lease", "leases", {});
  k.columns = {name_column(), {"Holder", "string", "", "The holder of the lease.", 0}, age_column()};
  k.table_cells = [](const json& l) {
    return std::vector<TableCell>{name_cell(l), TableCell::str(l.value("/spec/holderIdentity"_json_pointer, std::string())),
                                  age_cell(l)};
  };
  return k;
}

}  // namespace kctl::api::kinds
