// The arithmetic of the workload controllers without a server: kube's deletion ranking, slow-start
// batches, and the Deployment rules (hash, fenceposts, surge, proportions, revision annotations, conditions).
#include <atomic>
#include <stdexcept>

#include <gtest/gtest.h>

#include "daemons/controller-manager/controller_utils.h"
#include "daemons/controller-manager/deployment_util.h"

using namespace kctl::controllers;
using nlohmann::json;

namespace {

json pod(const std::string& name, const std::string& node, const std::string& phase, bool ready,
         const std::string& created, const std::string& ready_since = "2030-01-01T00:00:00Z") {
  json p = {{"metadata", {{"name", name}, {"uid", "uid-" + name}, {"creationTimestamp", created}}},
            {"spec", json::object()},
            {"status", {{"phase", phase}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  p["status"]["conditions"] = json::array(
      {{{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastTransitionTime", ready_since}}});
  return p;
}

TEST(PodsToDelete, FollowKubesRanking) {
  auto now = *parse_time("2030-01-01T01:00:00Z");
  std::vector<kctl::api::ObjectPtr> pods;
  auto add = [&](json p) { pods.push_back(std::make_shared<const json>(std::move(p))); };
  add(pod("ready-old", "n1", "Running", true, "2030-01-01T00:00:00Z"));
  add(pod("ready-new", "n2", "Running", true, "2030-01-01T00:59:58Z"));
  add(pod("not-ready", "n3", "Running", false, "2030-01-01T00:00:00Z"));
  add(pod("pending", "n4", "Pending", false, "2030-01-01T00:00:00Z"));
  add(pod("unscheduled", "", "Pending", false, "2030-01-01T00:00:00Z"));
  std::vector<std::string> order;
  for (const auto& p : pods_to_delete(pods, {}, 4, now)) order.push_back((*p)["metadata"]["name"]);
  EXPECT_EQ(order, (std::vector<std::string>{"unscheduled", "pending", "not-ready", "ready-new"}));

  // Doubled up on a node comes before alone; a lower pod-deletion-cost before a higher one.
  std::vector<kctl::api::ObjectPtr> two = {
      std::make_shared<const json>(pod("alone", "a", "Running", true, "2030-01-01T00:00:00Z")),
      std::make_shared<const json>(pod("crowded", "b", "Running", true, "2030-01-01T00:00:00Z"))};
  std::vector<kctl::api::ObjectPtr> related = two;
  related.push_back(std::make_shared<const json>(pod("sibling", "b", "Running", true, "2030-01-01T00:00:00Z")));
  EXPECT_EQ((*pods_to_delete(two, related, 1, now)[0])["metadata"]["name"], "crowded");
  json cheap = pod("cheap", "a", "Running", true, "2030-01-01T00:00:00Z");
  cheap["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"] = "-5";
  two.push_back(std::make_shared<const json>(cheap));
  EXPECT_EQ((*pods_to_delete(two, related, 1, now)[0])["metadata"]["name"], "cheap");
}

TEST(SlowStartBatch, DoublesTheBatchAndStopsAfterAFailingOne) {
  std::atomic<int> calls{0};
  std::exception_ptr error;
  EXPECT_EQ(slow_start_batch(10, 1, [&] { ++calls; }, error), 10);
  EXPECT_FALSE(error);
  calls = 0;
  // Batches 1, 2, 4: the fourth call fails, so the batch of 4 completes and no batch of 3 follows.
  int ok = slow_start_batch(10, 1, [&] {
    if (++calls == 4) throw std::runtime_error("refused");
  }, error);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(ok, 6);
  ASSERT_TRUE(error);
}

json deploy(int replicas, json surge, json unavailable) {
  return {{"metadata", {{"name", "d"}, {"generation", 1}}},
          {"spec",
           {{"replicas", replicas},
            {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", surge}, {"maxUnavailable", unavailable}}}}}}}};
}

TEST(DeploymentUtil, FencepostsRoundSurgeUpAndUnavailableDown) {
  using namespace deployment;
  EXPECT_EQ(resolve_fenceposts("25%", "25%", 10), std::make_pair(3, 2));
  EXPECT_EQ(resolve_fenceposts("25%", "25%", 3), std::make_pair(1, 0));
  EXPECT_EQ(resolve_fenceposts(0, 0, 3), std::make_pair(0, 1));  // never both zero
  EXPECT_EQ(resolve_fenceposts("0%", "50%", 5), std::make_pair(0, 2));
  EXPECT_THROW(resolve_fenceposts("two", 0, 3), std::invalid_argument);
  EXPECT_EQ(max_unavailable(deploy(3, 0, 5)), 3);  // at most the replicas
  EXPECT_EQ(max_surge(deploy(10, "30%", 0)), 3);
  json recreate = deploy(4, 1, 1);
  recreate["spec"]["strategy"] = {{"type", "Recreate"}};
  EXPECT_EQ(max_surge(recreate), 0);
}

TEST(DeploymentUtil, NewReplicaSetGrowsWithinTheSurge) {
  using namespace deployment;
  json d = deploy(4, 1, 1);
  json old_rs = {{"spec", {{"replicas", 4}}}}, new_rs = {{"spec", {{"replicas", 0}}}};
  EXPECT_EQ(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs), 1);
  old_rs["spec"]["replicas"] = 3;
  new_rs["spec"]["replicas"] = 1;
  EXPECT_EQ(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs), 2);
  old_rs["spec"]["replicas"] = 0;
  new_rs["spec"]["replicas"] = 3;
  EXPECT_EQ(new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs), 4);  // never past the replicas
}

TEST(DeploymentUtil, ProportionalScalingFollowsTheMaxReplicasAnnotation) {
  using namespace deployment;
  // Scaled from 10 to 12 mid-rollout (maxSurge 3): an RS of 5 that was sized for 13 gets round(5 * 15 / 13) - 5.
  json d = deploy(12, 3, 0);
  json rs = {{"metadata", {{"annotations", {{kMaxReplicasAnnotation, "13"}}}}}, {"spec", {{"replicas", 5}}}};
  EXPECT_EQ(proportion(rs, d, 4, 0), 1);
  EXPECT_EQ(proportion(rs, d, 4, 4), 0);  // nothing left to add
  d["spec"]["replicas"] = 0;
  EXPECT_EQ(proportion(rs, d, -5, 0), -5);
}

TEST(DeploymentUtil, HashIsStableAndIgnoredWhenComparingTemplates) {
  using namespace deployment;
  json t = {{"metadata", {{"labels", {{"app", "web"}}}}}, {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "a"}}})}}}};
  std::string h = compute_hash(t, std::nullopt);
  EXPECT_EQ(h, compute_hash(json::parse(t.dump()), std::nullopt));
  EXPECT_NE(h, compute_hash(t, 1));
  json t2 = t;
  t2["spec"]["containers"][0]["image"] = "b";
  EXPECT_NE(h, compute_hash(t2, std::nullopt));
  for (char c : h) EXPECT_NE(std::string("bcdfghjklmnpqrstvwxz2456789").find(c), std::string::npos) << h;
  json hashed = t;
  hashed["metadata"]["labels"][kUniqueLabelKey] = h;
  EXPECT_TRUE(equal_ignore_hash(hashed, t));
  EXPECT_FALSE(equal_ignore_hash(hashed, t2));
  json no_labels = {{"spec", t["spec"]}}, empty_labels = no_labels;
  empty_labels["metadata"]["labels"] = json::object();
  EXPECT_TRUE(equal_ignore_hash(no_labels, empty_labels));
}

TEST(DeploymentUtil, ARolledBackReplicaSetTakesTheNewRevisionAndKeepsItsHistory) {
  using namespace deployment;
  json d = deploy(2, 1, 0);
  d["metadata"]["annotations"] = {{"kubernetes.io/change-cause", "undo"}, {kRevisionAnnotation, "2"}};
  json rs = {{"metadata", {{"annotations", {{kRevisionAnnotation, "1"}}}}}, {"spec", {{"replicas", 0}}}};
  EXPECT_TRUE(set_new_replica_set_annotations(d, rs, "3", true));
  EXPECT_EQ(rs["metadata"]["annotations"][kRevisionAnnotation], "3");
  EXPECT_EQ(rs["metadata"]["annotations"][kRevisionHistoryAnnotation], "1");
  EXPECT_EQ(rs["metadata"]["annotations"]["kubernetes.io/change-cause"], "undo");
  EXPECT_FALSE(rs["metadata"]["annotations"].contains(kDesiredReplicasAnnotation));  // only on creation
  EXPECT_FALSE(set_new_replica_set_annotations(d, rs, "3", true));
  EXPECT_TRUE(set_new_replica_set_annotations(d, rs, "5", true));
  EXPECT_EQ(rs["metadata"]["annotations"][kRevisionHistoryAnnotation], "1,3");
}

TEST(DeploymentUtil, ConditionsKeepTheirTransitionTimeWhileTheStatusHolds) {
  using namespace deployment;
  json st = json::object();
  auto t0 = *parse_time("2030-01-01T00:00:00Z"), t1 = *parse_time("2030-01-01T00:01:00Z");
  set_condition(st, new_condition(kProgressing, "True", kNewRSReason, "created", t0));
  set_condition(st, new_condition(kProgressing, "True", kNewRSReason, "again", t1));  // same: kept as is
  EXPECT_EQ(get_condition(st, kProgressing)->value("message", ""), "created");
  set_condition(st, new_condition(kProgressing, "True", kRSUpdatedReason, "progressing", t1));
  EXPECT_EQ(get_condition(st, kProgressing)->value("lastTransitionTime", ""), "2030-01-01T00:00:00Z");
  EXPECT_EQ(get_condition(st, kProgressing)->value("lastUpdateTime", ""), "2030-01-01T00:01:00Z");
  set_condition(st, new_condition(kProgressing, "False", kTimedOutReason, "late", t1));
  EXPECT_EQ(get_condition(st, kProgressing)->value("lastTransitionTime", ""), "2030-01-01T00:01:00Z");
  EXPECT_EQ(st["conditions"].size(), 1u);

  json d = deploy(2, 1, 0);
  d["spec"]["progressDeadlineSeconds"] = 30;
  json fresh = json::object();
  set_condition(fresh, new_condition(kProgressing, "True", kRSUpdatedReason, "", t0));
  EXPECT_FALSE(deployment_timed_out(d, fresh, t0 + std::chrono::seconds(30)));
  EXPECT_TRUE(deployment_timed_out(d, fresh, t0 + std::chrono::seconds(31)));
}

}  // namespace
