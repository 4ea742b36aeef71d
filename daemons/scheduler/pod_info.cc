// Reading a pod's scheduling requirements from its JSON, and matching tolerations and node selector terms.
#include "daemons/scheduler/pod_info.h"

#include <algorithm>
#include <charconv>

#include "api/quantity.h"

namespace kctl::scheduler {

using nlohmann::json;

namespace {

const json& member(const json& obj, const char* name) {
  static const json null;
  if (!obj.is_object()) return null;
  auto it = obj.find(name);
  return it == obj.end() ? null : *it;
}

std::string str(const json& obj, const char* name) {
  const json& v = member(obj, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::map<std::string, std::string> string_map(const json& obj) {
  std::map<std::string, std::string> out;
  if (!obj.is_object()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (it->is_string()) out.emplace(it.key(), it->get<std::string>());
  return out;
}

std::vector<NodeSelectorRequirement> requirements(const json& list) {
  std::vector<NodeSelectorRequirement> out;
  if (!list.is_array()) return out;
  for (const auto& r : list) {
    NodeSelectorRequirement req{str(r, "key"), str(r, "operator"), {}};
    for (const auto& v : member(r, "values"))
      if (v.is_string()) req.values.push_back(v.get<std::string>());
    out.push_back(std::move(req));
  }
  return out;
}

NodeSelectorTerm selector_term(const json& t) {
  return {requirements(member(t, "matchExpressions")), requirements(member(t, "matchFields"))};
}

Resources container_requests(const json& container) {
  const json& req = member(member(container, "resources"), "requests");
  return {milli_quantity(member(req, "cpu")), quantity(member(req, "memory")),
          quantity(member(req, "ephemeral-storage"))};
}

bool parse_int(const std::string& s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool requirement_matches(const NodeSelectorRequirement& r, const std::map<std::string, std::string>& labels) {
  auto it = labels.find(r.key);
  bool has = it != labels.end();
  auto in_values = [&] { return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end(); };
  if (r.op == "In") return in_values();
  if (r.op == "NotIn") return !in_values();
  if (r.op == "Exists") return has;
  if (r.op == "DoesNotExist") return !has;
  if (r.op == "Gt" || r.op == "Lt") {
    int64_t label = 0, value = 0;
    if (!has || r.values.size() != 1 || !parse_int(it->second, label) || !parse_int(r.values[0], value)) return false;
    return r.op == "Gt" ? label > value : label < value;
  }
  return false;
}

bool field_matches(const NodeSelectorRequirement& r, const std::string& node_name) {
  // metadata.name is the only field a node selector term may name.
  if (r.key != "metadata.name") return false;
  bool in = std::find(r.values.begin(), r.values.end(), node_name) != r.values.end();
  if (r.op == "In") return in;
  if (r.op == "NotIn") return !in;
  return false;
}

}  // namespace

int64_t milli_quantity(const json& q) {
  if (q.is_null()) return 0;
  try {
    return api::Quantity::from_json(q).milli_value();
  } catch (const std::exception&) {
    return 0;
  }
}

int64_t quantity(const json& q) {
  if (q.is_null()) return 0;
  try {
    return api::Quantity::from_json(q).value();
  } catch (const std::exception&) {
    return 0;
  }
}

bool Toleration::tolerates(const Taint& t) const {
  if (!effect.empty() && effect != t.effect) return false;
  if (!key.empty() && key != t.key) return false;
  if (op == "Exists") return true;
  if (op.empty() || op == "Equal") return value == t.value;
  return false;
}

bool tolerated(const std::vector<Toleration>& tolerations, const Taint& t) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const Toleration& tol) { return tol.tolerates(t); });
}

bool NodeSelectorTerm::matches(const std::string& node_name, const std::map<std::string, std::string>& labels) const {
  if (match_expressions.empty() && match_fields.empty()) return false;
  for (const auto& r : match_expressions)
    if (!requirement_matches(r, labels)) return false;
  for (const auto& r : match_fields)
    if (!field_matches(r, node_name)) return false;
  return true;
}

std::optional<std::vector<std::string>> PodInfo::affinity_node_names() const {
  if (!required_affinity || required_affinity->empty()) return std::nullopt;
  // Only when every term names its nodes can the others be ruled out up front.
  std::vector<std::string> names;
  for (const auto& term : *required_affinity) {
    const NodeSelectorRequirement* by_name = nullptr;
    for (const auto& f : term.match_fields)
      if (f.key == "metadata.name" && f.op == "In") by_name = &f;
    if (!by_name) return std::nullopt;
    names.insert(names.end(), by_name->values.begin(), by_name->values.end());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

bool PodInfo::matches_node_selector(const std::string& node_name,
                                    const std::map<std::string, std::string>& labels) const {
  for (const auto& [k, v] : node_selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  if (!required_affinity) return true;
  return std::any_of(required_affinity->begin(), required_affinity->end(),
                     [&](const NodeSelectorTerm& t) { return t.matches(node_name, labels); });
}

PodInfoPtr parse_pod(const json& pod) {
  auto p = std::make_shared<PodInfo>();
  const json& meta = member(pod, "metadata");
  const json& spec = member(pod, "spec");
  p->ns = str(meta, "namespace");
  p->name = str(meta, "name");
  p->key = p->ns.empty() ? p->name : p->ns + "/" + p->name;
  p->uid = str(meta, "uid");
  p->resource_version = str(meta, "resourceVersion");
  p->being_deleted = member(meta, "deletionTimestamp").is_string();
  p->labels = string_map(member(meta, "labels"));
  for (const auto& ref : member(meta, "ownerReferences"))
    if (member(ref, "controller").is_boolean() && member(ref, "controller").get<bool>() && !str(ref, "uid").empty())
      p->spread_keys.push_back("owner:" + str(ref, "uid"));

  p->scheduler_name = str(spec, "schedulerName");
  if (p->scheduler_name.empty()) p->scheduler_name = "default-scheduler";
  p->node_name = str(spec, "nodeName");
  p->preemption_policy = str(spec, "preemptionPolicy");
  if (member(spec, "priority").is_number_integer()) p->priority = member(spec, "priority").get<int64_t>();
  std::string phase = str(member(pod, "status"), "phase");
  p->terminal = phase == "Succeeded" || phase == "Failed";
  p->gated = member(spec, "schedulingGates").is_array() && !member(spec, "schedulingGates").empty();

  // Containers run together (sum); init containers one at a time before them (max); overhead on top.
  for (const auto& c : member(spec, "containers")) {
    Resources r = container_requests(c);
    p->requests += r;
    p->non_zero += Resources{r.milli_cpu ? r.milli_cpu : kDefaultMilliCpuRequest,
                             r.memory ? r.memory : kDefaultMemoryRequest, r.ephemeral_storage};
    for (const auto& port : member(c, "ports")) {
      const json& hp = member(port, "hostPort");
      if (!hp.is_number_integer() || hp.get<int64_t>() <= 0) continue;
      HostPort h{str(port, "hostIP"), str(port, "protocol"), int(hp.get<int64_t>())};
      if (h.ip.empty()) h.ip = "0.0.0.0";
      if (h.protocol.empty()) h.protocol = "TCP";
      p->host_ports.push_back(std::move(h));
    }
  }
  for (const auto& c : member(spec, "initContainers")) {
    Resources r = container_requests(c);
    p->requests.milli_cpu = std::max(p->requests.milli_cpu, r.milli_cpu);
    p->requests.memory = std::max(p->requests.memory, r.memory);
    p->requests.ephemeral_storage = std::max(p->requests.ephemeral_storage, r.ephemeral_storage);
    p->non_zero.milli_cpu = std::max(p->non_zero.milli_cpu, r.milli_cpu);
    p->non_zero.memory = std::max(p->non_zero.memory, r.memory);
  }
  const json& overhead = member(spec, "overhead");
  Resources oh{milli_quantity(member(overhead, "cpu")), quantity(member(overhead, "memory")),
               quantity(member(overhead, "ephemeral-storage"))};
  p->requests += oh;
  p->non_zero += oh;

  p->node_selector = string_map(member(spec, "nodeSelector"));
  const json& na = member(member(spec, "affinity"), "nodeAffinity");
  const json& required = member(na, "requiredDuringSchedulingIgnoredDuringExecution");
  if (required.is_object()) {
    std::vector<NodeSelectorTerm> terms;
    for (const auto& t : member(required, "nodeSelectorTerms")) terms.push_back(selector_term(t));
    p->required_affinity = std::move(terms);
  }
  for (const auto& t : member(na, "preferredDuringSchedulingIgnoredDuringExecution")) {
    const json& w = member(t, "weight");
    if (!w.is_number_integer() || w.get<int64_t>() == 0) continue;
    p->preferred_affinity.push_back({w.get<int64_t>(), selector_term(member(t, "preference"))});
  }
  for (const auto& t : member(spec, "tolerations"))
    p->tolerations.push_back({str(t, "key"), str(t, "operator"), str(t, "value"), str(t, "effect")});
  return p;
}

}  // namespace kctl::scheduler
