// The pure parts of the node controllers: the CIDR set of node IPAM, taints against tolerations, node selectors,
// where a DaemonSet's pods belong, and the expectations that keep a controller from acting twice.
#include <gtest/gtest.h>

#include "daemons/controller-manager/cidr_set.h"
#include "daemons/controller-manager/daemon_set_controller.h"
#include "daemons/controller-manager/expectations.h"
#include "daemons/controller-manager/node_predicates.h"

using namespace kctl::controllers;
using nlohmann::json;

TEST(CidrSet, HandsOutEverySubnetOnceRoundRobin) {
  CidrSet set("10.244.0.0/22", 24);
  EXPECT_EQ(set.size(), 4u);
  ASSERT_TRUE(set.occupy("10.244.1.0/24"));
  EXPECT_EQ(set.allocate_next(), "10.244.0.0/24");
  EXPECT_EQ(set.allocate_next(), "10.244.2.0/24");
  EXPECT_EQ(set.allocate_next(), "10.244.3.0/24");
  EXPECT_EQ(set.allocate_next(), std::nullopt);
  // A released subnet comes back, but only after the ones not handed out lately.
  EXPECT_TRUE(set.release("10.244.0.0/24"));
  EXPECT_EQ(set.allocate_next(), "10.244.0.0/24");
  EXPECT_EQ(set.used_count(), 4u);
}

TEST(CidrSet, RefusesWhatIsNotOneOfItsSubnets) {
  CidrSet set("10.244.0.0/16", 24);
  EXPECT_FALSE(set.occupy("10.245.0.0/24"));  // outside
  EXPECT_FALSE(set.occupy("10.244.1.0/25"));  // another size
  EXPECT_FALSE(set.occupy("10.244.1.1/24"));  // not a subnet's start
  EXPECT_FALSE(set.occupy("bogus"));
  EXPECT_THROW(CidrSet("10.244.0.0/16", 8), std::invalid_argument);
  EXPECT_THROW(CidrSet("10.0.0.0/8", 28), std::invalid_argument);  // 2^20 subnets
  EXPECT_THROW(CidrSet("fd00::/64", 80), std::invalid_argument);
}

TEST(NodePredicates, TolerationsMatchTaintsAsKubernetesDoes) {
  json taint = {{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}};
  EXPECT_TRUE(tolerates({{"key", "dedicated"}, {"operator", "Equal"}, {"value", "db"}}, taint));
  EXPECT_TRUE(tolerates({{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}, taint));  // Equal by default
  EXPECT_FALSE(tolerates({{"key", "dedicated"}, {"value", "web"}}, taint));
  EXPECT_FALSE(tolerates({{"key", "dedicated"}, {"operator", "Exists"}, {"effect", "NoExecute"}}, taint));
  EXPECT_TRUE(tolerates({{"operator", "Exists"}}, taint));  // everything
  EXPECT_FALSE(tolerates({{"value", "db"}}, taint));         // Equal with no key tolerates nothing
  json taints = json::array({taint, {{"key", "gpu"}, {"effect", "PreferNoSchedule"}}});
  EXPECT_EQ(find_untolerated_taint(taints, json::array(), is_no_schedule_or_no_execute), taint);
  EXPECT_EQ(find_untolerated_taint(taints, json::array(), is_no_execute), std::nullopt);
}

TEST(NodePredicates, NodeSelectorAndRequiredAffinity) {
  json node = {{"metadata", {{"name", "n1"}, {"labels", {{"env", "dmz"}, {"cores", "8"}}}}}};
  EXPECT_TRUE(matches_required_node_affinity({{"nodeSelector", {{"env", "dmz"}}}}, node));
  EXPECT_FALSE(matches_required_node_affinity({{"nodeSelector", {{"env", "prod"}}}}, node));
  auto affinity = [](json terms) {
    return json{{"affinity", {{"nodeAffinity", {{"requiredDuringSchedulingIgnoredDuringExecution", {{"nodeSelectorTerms", terms}}}}}}}};
  };
  EXPECT_TRUE(matches_required_node_affinity(
      affinity(json::parse(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["4"]}]}])")), node));
  EXPECT_FALSE(matches_required_node_affinity(
      affinity(json::parse(R"([{"matchExpressions":[{"key":"env","operator":"NotIn","values":["dmz"]}]}])")), node));
  // Terms are ORed; an empty term selects nothing.
  EXPECT_TRUE(matches_required_node_affinity(
      affinity(json::parse(R"([{}, {"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}])")), node));
  EXPECT_FALSE(matches_required_node_affinity(affinity(json::array({json::object()})), node));
}

TEST(DaemonSet, PlacementFollowsSelectorsAndTaints) {
  json ds = {{"spec", {{"template", {{"spec", {{"nodeSelector", {{"env", "dmz"}}}}}}}}}};
  json node = {{"metadata", {{"name", "n1"}, {"labels", {{"env", "dmz"}}}}}};
  EXPECT_TRUE(node_should_run_daemon_pod(node, ds).should_run);
  // Daemon pods tolerate node trouble by themselves.
  node["spec"]["taints"] = {{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}},
                            {{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}}};
  EXPECT_TRUE(node_should_run_daemon_pod(node, ds).should_run);
  // An untolerated NoSchedule taint keeps new pods off but lets a running one stay; NoExecute sends it away.
  node["spec"]["taints"].push_back({{"key", "dedicated"}, {"effect", "NoSchedule"}});
  DaemonPlacement p = node_should_run_daemon_pod(node, ds);
  EXPECT_FALSE(p.should_run);
  EXPECT_TRUE(p.should_continue);
  node["spec"]["taints"].push_back({{"key", "maintenance"}, {"effect", "NoExecute"}});
  p = node_should_run_daemon_pod(node, ds);
  EXPECT_FALSE(p.should_run);
  EXPECT_FALSE(p.should_continue);
  node["metadata"]["labels"]["env"] = "prod";
  node["spec"].erase("taints");
  EXPECT_FALSE(node_should_run_daemon_pod(node, ds).should_continue);
}

TEST(DaemonSet, TargetNodeAndTemplateHash) {
  json pod = json::parse(R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n7"]}]}]}}}}})");
  EXPECT_EQ(target_node_name(pod), "n7");
  pod["spec"]["nodeName"] = "n8";
  EXPECT_EQ(target_node_name(pod), "n8");

  json tmpl = {{"spec", {{"containers", {{{"name", "c"}, {"image", "a:1"}}}}}}};
  std::string h1 = pod_template_hash(tmpl, nullptr);
  EXPECT_EQ(h1, pod_template_hash(tmpl, nullptr));
  EXPECT_NE(h1, pod_template_hash(tmpl, 1));
  tmpl["spec"]["containers"][0]["image"] = "a:2";
  EXPECT_NE(h1, pod_template_hash(tmpl, nullptr));
  EXPECT_EQ(h1.find_first_of("aeiou013"), std::string::npos) << h1;  // SafeEncodeString's alphabet
}

TEST(ControllerExpectations, SatisfiedOnceEverythingIsObserved) {
  ControllerExpectations e;
  EXPECT_TRUE(e.satisfied("ns/ds"));
  e.expect("ns/ds", 2, {"uid-1"});
  e.creation_observed("ns/ds");
  e.deletion_observed("ns/ds", "uid-other");  // not one we deleted
  EXPECT_FALSE(e.satisfied("ns/ds"));
  e.lower_creations("ns/ds");
  e.deletion_observed("ns/ds", "uid-1");
  e.deletion_observed("ns/ds", "uid-1");  // seen twice (terminating, then gone): counted once
  EXPECT_TRUE(e.satisfied("ns/ds"));
}
