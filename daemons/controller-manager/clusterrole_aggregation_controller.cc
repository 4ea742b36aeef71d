// ClusterRoleAggregationController: every ClusterRole event queues the aggregating roles; a sync computes one's
// rules from the cache and writes them only when they differ.
#include "daemons/controller-manager/clusterrole_aggregation_controller.h"

#include <algorithm>

#include "api/selector.h"

namespace kctl::controllers {

using api::ObjectPtr;
using nlohmann::json;

namespace {

bool aggregates(const json& role) {
  auto it = role.find("aggregationRule");
  return it != role.end() && it->is_object();
}

// A PolicyRule as Go reads it and as apply writes it back: its five lists, the empty ones left out.
json normalized_rule(const json& rule) {
  json out = json::object();
  if (!rule.is_object()) return out;
  for (const char* field : {"verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"}) {
    auto it = rule.find(field);
    if (it != rule.end() && it->is_array() && !it->empty()) out[field] = *it;
  }
  return out;
}

json normalized_rules(const json& role) {
  json out = json::array();
  json rules = role.value("rules", json::array());
  if (rules.is_array())
    for (const auto& r : rules) out.push_back(normalized_rule(r));
  return out;
}

}  // namespace

json aggregated_rules(const json& role, const std::vector<ObjectPtr>& all) {
  std::string self = role.value("/metadata/name"_json_pointer, std::string());
  std::vector<ObjectPtr> by_name = all;
  std::sort(by_name.begin(), by_name.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    return a->value("/metadata/name"_json_pointer, std::string()) < b->value("/metadata/name"_json_pointer, std::string());
  });
  json rules = json::array();
  json selectors = role.value("/aggregationRule/clusterRoleSelectors"_json_pointer, json::array());
  if (!selectors.is_array()) return rules;
  for (const auto& s : selectors) {
    auto selector = api::LabelSelector::from_json(s);
    for (const auto& other : by_name) {
      if (other->value("/metadata/name"_json_pointer, std::string()) == self) continue;
      if (!selector.matches(other->value("/metadata/labels"_json_pointer, json()))) continue;
      for (const auto& r : normalized_rules(*other))
        if (std::find(rules.begin(), rules.end(), r) == rules.end()) rules.push_back(r);
    }
  }
  return rules;
}

ClusterRoleAggregationController::ClusterRoleAggregationController(ControllerContext& context)
    : Controller("clusterrole-aggregation", context), cluster_roles_(context.informer("clusterroles")) {
  auto changed = [this](const ObjectPtr&) { enqueue_aggregating(); };
  cluster_roles_.add_handler({changed, [this](const ObjectPtr&, const ObjectPtr&) { enqueue_aggregating(); }, changed});
}

void ClusterRoleAggregationController::enqueue_aggregating() {
  for (const auto& role : cluster_roles_.list())
    if (aggregates(*role)) enqueue(key_of(*role));
}

void ClusterRoleAggregationController::resync() { enqueue_aggregating(); }

void ClusterRoleAggregationController::sync(const std::string& name) {
  ObjectPtr role = cluster_roles_.get(name);
  if (!role || !aggregates(*role)) return;
  json rules = aggregated_rules(*role, cluster_roles_.list());
  if (rules == normalized_rules(*role)) return;
  try {
    // The rules only, whatever else changed meanwhile (kube applies them with force): a merge patch replaces the
    // list as a whole.
    context_.client("clusterroles").patch(name, api::PatchType::Merge, {{"rules", rules}});
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;  // deleted meanwhile: nothing to aggregate into
  }
}

}  // namespace kctl::controllers
