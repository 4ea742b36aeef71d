// The rules the clusterrole-aggregation controller gives an aggregating ClusterRole: per selector, the matching
// roles in name order (itself left out), each rule once, compared and written as kube's PolicyRules.
#include "daemons/controller-manager/clusterrole_aggregation_controller.h"

#include <gtest/gtest.h>

#include "api/status.h"

using kctl::api::ObjectPtr;
using kctl::controllers::aggregated_rules;
using nlohmann::json;

namespace {

ObjectPtr role(const std::string& name, json rules, json labels = json::object()) {
  return std::make_shared<const json>(json{{"metadata", {{"name", name}, {"labels", labels}}}, {"rules", rules}});
}

json aggregating(json selectors) {
  return {{"metadata", {{"name", "agg"}, {"labels", {{"tier", "a"}}}}},
          {"aggregationRule", {{"clusterRoleSelectors", selectors}}},
          {"rules", json::array()}};
}

json rule(const std::string& verb, const std::string& resource) {
  return {{"apiGroups", json::array({""})}, {"resources", json::array({resource})}, {"verbs", json::array({verb})}};
}

}  // namespace

TEST(ClusterRoleAggregationTest, SelectorsInTurnRolesInNameOrderRulesOnce) {
  json agg = aggregating(json::array({{{"matchLabels", {{"tier", "b"}}}}, {{"matchLabels", {{"tier", "a"}}}}}));
  std::vector<ObjectPtr> all = {
      role("zeta", json::array({rule("get", "pods"), rule("list", "pods")}), {{"tier", "a"}}),
      role("alpha", json::array({rule("get", "pods")}), {{"tier", "a"}}),
      role("beta", json::array({rule("get", "secrets")}), {{"tier", "b"}}),
      role("none", json::array({rule("delete", "nodes")})),
      std::make_shared<const json>(agg),  // matches its own selector: left out
  };
  EXPECT_EQ(aggregated_rules(agg, all),
            json::array({rule("get", "secrets"), rule("get", "pods"), rule("list", "pods")}));
}

TEST(ClusterRoleAggregationTest, EmptyListsAreNoListsAndSelectorsMustParse) {
  json agg = aggregating(json::array({{{"matchExpressions", {{{"key", "tier"}, {"operator", "Exists"}}}}}}));
  json with_empty = rule("get", "pods");
  with_empty["resourceNames"] = json::array();
  with_empty["nonResourceURLs"] = json::array();
  std::vector<ObjectPtr> all = {role("a", json::array({with_empty}), {{"tier", "x"}}),
                                role("b", json::array({rule("get", "pods")}), {{"tier", "y"}})};
  EXPECT_EQ(aggregated_rules(agg, all), json::array({rule("get", "pods")}));
  EXPECT_EQ(aggregated_rules(aggregating(json::array()), all), json::array());
  json bad = aggregating(json::array({{{"matchExpressions", {{{"key", "tier"}, {"operator", "Near"}}}}}}));
  EXPECT_THROW(aggregated_rules(bad, all), kctl::api::StatusError);
}
