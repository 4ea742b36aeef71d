// Taints against tolerations, node selectors against nodes, and the condition helpers, as Kubernetes' scheduling
// helpers evaluate them (an operator or field they do not know selects nothing rather than everything).
#include "daemons/controller-manager/node_predicates.h"

#include <cstdlib>

#include "api/go_json.h"

namespace kctl::controllers {

using nlohmann::json;

namespace {

// An absent or malformed list reads as this one (an lvalue, so choosing between the two copies nothing).
const json kNoItems = json::array();

std::string str(const json& obj, const char* field) {
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool has_value(const json& values, const std::string& v) {
  if (!values.is_array()) return false;
  for (const auto& x : values)
    if (x.is_string() && x.get<std::string>() == v) return true;
  return false;
}

// One NodeSelectorRequirement against the value a node has for its key (nullopt: the node has no such label).
bool requirement_matches(const json& req, const std::optional<std::string>& have) {
  std::string op = str(req, "operator");
  json values = req.value("values", json::array());
  if (op == "In") return have && has_value(values, *have);
  if (op == "NotIn") return !have || !has_value(values, *have);
  if (op == "Exists") return have.has_value();
  if (op == "DoesNotExist") return !have;
  if (op == "Gt" || op == "Lt") {
    if (!have || !values.is_array() || values.size() != 1 || !values[0].is_string()) return false;
    char* end = nullptr;
    long long mine = std::strtoll(have->c_str(), &end, 10);
    if (have->empty() || *end) return false;
    std::string v = values[0].get<std::string>();
    long long theirs = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end) return false;
    return op == "Gt" ? mine > theirs : mine < theirs;
  }
  return false;
}

bool term_matches(const json& term, const json& node) {
  json exprs = term.value("matchExpressions", json::array());
  json fields = term.value("matchFields", json::array());
  if ((!exprs.is_array() || exprs.empty()) && (!fields.is_array() || fields.empty())) return false;
  json labels = node.value("/metadata/labels"_json_pointer, json::object());
  for (const auto& req : exprs.is_array() ? exprs : kNoItems) {
    std::optional<std::string> have;
    std::string key = str(req, "key");
    if (labels.is_object() && labels.contains(key) && labels[key].is_string()) have = labels[key].get<std::string>();
    if (!requirement_matches(req, have)) return false;
  }
  for (const auto& req : fields.is_array() ? fields : kNoItems) {
    // metadata.name is the only field a node selector may name.
    if (str(req, "key") != "metadata.name") return false;
    if (!requirement_matches(req, node.value("/metadata/name"_json_pointer, std::string()))) return false;
  }
  return true;
}

}  // namespace

bool tolerates(const json& toleration, const json& taint) {
  std::string effect = str(toleration, "effect");
  if (!effect.empty() && effect != str(taint, "effect")) return false;
  std::string key = str(toleration, "key");
  std::string op = str(toleration, "operator");
  if (op.empty()) op = "Equal";
  if (!key.empty() && key != str(taint, "key")) return false;
  if (op == "Exists") return true;
  if (op == "Equal") return !key.empty() && str(toleration, "value") == str(taint, "value");
  return false;
}

std::optional<json> find_untolerated_taint(const json& taints, const json& tolerations,
                                           bool (*effect_filter)(const std::string& effect)) {
  if (!taints.is_array()) return std::nullopt;
  for (const auto& t : taints) {
    if (!t.is_object() || (effect_filter && !effect_filter(str(t, "effect")))) continue;
    bool tolerated = false;
    for (const auto& tol : tolerations.is_array() ? tolerations : kNoItems)
      if (tol.is_object() && tolerates(tol, t)) tolerated = true;
    if (!tolerated) return t;
  }
  return std::nullopt;
}

bool is_no_execute(const std::string& effect) { return effect == "NoExecute"; }
bool is_no_schedule_or_no_execute(const std::string& effect) { return effect == "NoExecute" || effect == "NoSchedule"; }

bool matches_node_selector(const json& node_selector, const json& node) {
  json terms = node_selector.is_object() ? node_selector.value("nodeSelectorTerms", json::array()) : json::array();
  if (!terms.is_array()) return false;
  for (const auto& term : terms)
    if (term.is_object() && term_matches(term, node)) return true;
  return false;
}

bool matches_required_node_affinity(const json& pod_spec, const json& node) {
  json selector = pod_spec.value("nodeSelector", json::object());
  json labels = node.value("/metadata/labels"_json_pointer, json::object());
  if (selector.is_object())
    for (auto it = selector.begin(); it != selector.end(); ++it)
      if (!labels.is_object() || !labels.contains(it.key()) || labels[it.key()] != *it) return false;
  const json* required = nullptr;
  auto aff = pod_spec.find("affinity");
  if (aff != pod_spec.end() && aff->is_object()) {
    auto na = aff->find("nodeAffinity");
    if (na != aff->end() && na->is_object()) {
      auto r = na->find("requiredDuringSchedulingIgnoredDuringExecution");
      if (r != na->end() && r->is_object()) required = &*r;
    }
  }
  return !required || matches_node_selector(*required, node);
}

const json* node_condition(const json& node, const std::string& type) {
  auto st = node.find("status");
  if (st == node.end() || !st->is_object()) return nullptr;
  auto conds = st->find("conditions");
  if (conds == st->end() || !conds->is_array()) return nullptr;
  for (const auto& c : *conds)
    if (c.is_object() && str(c, "type") == type) return &c;
  return nullptr;
}

namespace {
const json* pod_ready_condition(const json& pod) {
  const json* status = pod.contains("status") ? &pod["status"] : nullptr;
  if (!status || !status->is_object() || !status->contains("conditions") || !(*status)["conditions"].is_array())
    return nullptr;
  for (const auto& c : (*status)["conditions"])
    if (c.is_object() && str(c, "type") == "Ready") return &c;
  return nullptr;
}
}  // namespace

bool pod_ready(const json& pod) {
  const json* c = pod_ready_condition(pod);
  return c && str(*c, "status") == "True";
}

bool pod_available(const json& pod, int min_ready_seconds, std::chrono::system_clock::time_point now) {
  const json* c = pod_ready_condition(pod);
  if (!c || str(*c, "status") != "True") return false;
  if (min_ready_seconds <= 0) return true;
  auto since = parse_time(str(*c, "lastTransitionTime"));
  return since && *since + std::chrono::seconds(min_ready_seconds) <= now;
}

std::string format_time(std::chrono::system_clock::time_point t) {
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return api::format_rfc3339(s, 0, false).value_or("");
}

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& rfc3339) {
  auto t = api::parse_rfc3339(rfc3339);
  if (!t) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::seconds(t->seconds) + std::chrono::nanoseconds(t->nanos));
}

}  // namespace kctl::controllers
