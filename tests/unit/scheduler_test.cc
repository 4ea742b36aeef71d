// The scheduler's pieces without processes: filters and their reasons, the FitError message, node sampling, scores,
// the cache's bookkeeping and the scheduling queue's states.
#include <thread>

#include <gtest/gtest.h>

#include "daemons/scheduler/filters.h"
#include "daemons/scheduler/scheduler_cache.h"
#include "daemons/scheduler/scheduling_queue.h"
#include "daemons/scheduler/scores.h"

using namespace kctl::scheduler;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json node_json(const std::string& name, const std::string& cpu = "4", const std::string& memory = "8Gi",
               const std::string& pods = "110") {
  return {{"metadata", {{"name", name}}},
          {"status",
           {{"allocatable", {{"cpu", cpu}, {"memory", memory}, {"pods", pods}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

json pod_json(const std::string& name, const std::string& cpu = "", const std::string& memory = "") {
  json c = {{"name", "c"}, {"image", "x"}};
  if (!cpu.empty()) c["resources"]["requests"]["cpu"] = cpu;
  if (!memory.empty()) c["resources"]["requests"]["memory"] = memory;
  return {{"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}},
          {"spec", {{"containers", json::array({c})}}}};
}

NodeInfo node_info(const json& n) {
  NodeSpec spec = parse_node(n);
  NodeInfo info(spec.name);
  info.set_spec(spec);
  return info;
}

}  // namespace

TEST(SchedulerPodInfo, RequestsSumContainersTakeTheLargestInitContainerAndAddOverhead) {
  json p = pod_json("p", "100m", "64Mi");
  p["spec"]["containers"].push_back({{"name", "d"}, {"resources", {{"requests", {{"cpu", "0.2"}}}}}});
  p["spec"]["initContainers"] = json::array({{{"name", "i"}, {"resources", {{"requests", {{"cpu", "1"}}}}}}});
  p["spec"]["overhead"] = {{"memory", "1Mi"}};
  auto info = parse_pod(p);
  EXPECT_EQ(info->requests.milli_cpu, 1000);
  EXPECT_EQ(info->requests.memory, 65 * 1024 * 1024);
  // The second container asks for no memory: scoring counts 200Mi for it.
  EXPECT_EQ(info->non_zero.memory, (64 + 200 + 1) * 1024 * 1024);
}

TEST(SchedulerFilters, TolerationOperatorsAndEmptyKey) {
  Taint t{"k", "v", "NoSchedule"};
  EXPECT_TRUE((Toleration{"k", "Equal", "v", "NoSchedule"}.tolerates(t)));
  EXPECT_TRUE((Toleration{"k", "", "v", ""}.tolerates(t)));
  EXPECT_FALSE((Toleration{"k", "Equal", "w", ""}.tolerates(t)));
  EXPECT_TRUE((Toleration{"k", "Exists", "", ""}.tolerates(t)));
  EXPECT_FALSE((Toleration{"k", "Exists", "", "NoExecute"}.tolerates(t)));
  EXPECT_TRUE((Toleration{"", "Exists", "", ""}.tolerates(t)));
  EXPECT_FALSE((Toleration{"other", "Exists", "", ""}.tolerates(t)));
}

TEST(SchedulerFilters, NodeNameAndNotReadyAndPreferNoSchedule) {
  json p = pod_json("p");
  p["spec"]["nodeName"] = "elsewhere";
  auto s = run_filters(*parse_pod(p), node_info(node_json("n1")));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reasons, std::vector<std::string>{reason::kNodeName});
  EXPECT_EQ(s.code, FilterStatus::Code::UnschedulableAndUnresolvable);

  json unknown = node_json("n2");
  unknown["status"]["conditions"] = json::array();
  s = run_filters(*parse_pod(pod_json("p")), node_info(unknown));
  EXPECT_EQ(s.reasons, std::vector<std::string>{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"});

  json soft = node_json("n3");
  soft["spec"]["taints"] = json::array({{{"key", "a"}, {"effect", "PreferNoSchedule"}}});
  EXPECT_TRUE(run_filters(*parse_pod(pod_json("p")), node_info(soft)).ok());
}

TEST(SchedulerFilters, ResourcesListEveryShortfall) {
  NodeInfo n = node_info(node_json("n", "1", "1Gi", "1"));
  n.add_pod(*parse_pod(pod_json("old", "500m")));
  auto s = run_filters(*parse_pod(pod_json("p", "600m", "2Gi")), n);
  EXPECT_EQ(s.code, FilterStatus::Code::Unschedulable);
  EXPECT_EQ(s.reasons, (std::vector<std::string>{"Too many pods", "Insufficient cpu", "Insufficient memory"}));
  n.remove_pod(*parse_pod(pod_json("old", "500m")));
  EXPECT_TRUE(run_filters(*parse_pod(pod_json("p", "600m", "1Gi")), n).ok());
}

TEST(SchedulerFitError, ReasonsAreCountedAndSortedAsStrings) {
  Diagnosis d;
  d.num_all_nodes = 12;
  for (int i = 0; i < 10; ++i) d.add({FilterStatus::Code::Unschedulable, {"Insufficient cpu"}});
  d.add({FilterStatus::Code::UnschedulableAndUnresolvable, {reason::kNodeAffinity}});
  d.add({FilterStatus::Code::UnschedulableAndUnresolvable, {reason::kNodeAffinity}});
  // sort.Strings puts "10 ..." before "2 ...".
  EXPECT_EQ(fit_error_message(*parse_pod(pod_json("p")), d),
            "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/12 nodes are available: 10 No preemption victims found for incoming pod, 2 Preemption is "
            "not helpful for scheduling.");
  json never = pod_json("p");
  never["spec"]["preemptionPolicy"] = "Never";
  EXPECT_EQ(fit_error_message(*parse_pod(never), d),
            "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. "
            "preemption: not eligible due to preemptionPolicy=Never.");
}

TEST(SchedulerSampling, PercentageOfNodesToScore) {
  EXPECT_EQ(num_feasible_nodes_to_find(50), 50u);
  EXPECT_EQ(num_feasible_nodes_to_find(150), 100u);     // 49% of 150 is below the minimum of 100
  EXPECT_EQ(num_feasible_nodes_to_find(1000), 420u);    // 42%
  EXPECT_EQ(num_feasible_nodes_to_find(5000), 500u);    // 10%
  EXPECT_EQ(num_feasible_nodes_to_find(10000), 500u);   // at least 5%
}

TEST(SchedulerScores, LeastAllocatedAndBalanced) {
  NodeInfo n = node_info(node_json("n", "4", "4Gi"));
  auto p = parse_pod(pod_json("p", "1", "1Gi"));
  EXPECT_EQ(least_allocated_score(*p, n), 75);
  EXPECT_EQ(balanced_allocation_score(*p, n), 100);
  auto skewed = parse_pod(pod_json("q", "2", "0"));
  // cpu at 50%, memory at 0%: std deviation 0.25.
  EXPECT_EQ(balanced_allocation_score(*skewed, n), 75);
}

TEST(SchedulerScores, SpreadAndPreferredAffinityAreNormalized) {
  NodeInfo a = node_info(node_json("a")), b = node_info(node_json("b"));
  json owned = pod_json("o");
  owned["metadata"]["ownerReferences"] = json::array({{{"uid", "rs1"}, {"controller", true}}});
  a.add_pod(*parse_pod(owned));
  auto p = parse_pod(owned);
  auto scores = score_nodes(*p, {&a, &b});
  EXPECT_LT(scores[0], scores[1]);  // b has none of the owner's pods
  EXPECT_EQ(scores[1] - scores[0], 2 * 100 + (least_allocated_score(*p, b) - least_allocated_score(*p, a)));
}

TEST(SchedulerCacheTest, AssumedPodsCountAndAreForgottenOrConfirmed) {
  SchedulerCache cache;
  cache.update_node(node_json("n", "1"));
  auto p = parse_pod(pod_json("p", "600m"));
  {
    std::lock_guard lock(cache.mutex());
    cache.assume_locked(*p, "n");
    EXPECT_FALSE(run_filters(*parse_pod(pod_json("q", "600m")), *cache.node_locked("n")).ok());
  }
  cache.forget(p->key, p->uid);
  {
    std::lock_guard lock(cache.mutex());
    EXPECT_TRUE(run_filters(*parse_pod(pod_json("q", "600m")), *cache.node_locked("n")).ok());
    cache.assume_locked(*p, "n");
  }
  json bound = pod_json("p", "600m");
  bound["spec"]["nodeName"] = "n";
  cache.update_bound_pod(bound);  // confirmed: counted once
  EXPECT_EQ(cache.assumed_count(), 0u);
  {
    std::lock_guard lock(cache.mutex());
    EXPECT_EQ(cache.node_locked("n")->pod_count(), 1);
    EXPECT_EQ(cache.node_locked("n")->requested().milli_cpu, 600);
  }
  EXPECT_TRUE(cache.remove_bound_pod(bound));
  std::lock_guard lock(cache.mutex());
  EXPECT_EQ(cache.node_locked("n")->pod_count(), 0);
}

TEST(SchedulerCacheTest, HeartbeatsAreNotChanges) {
  SchedulerCache cache;
  json n = node_json("n");
  EXPECT_TRUE(cache.update_node(n));
  n["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:00Z";
  EXPECT_FALSE(cache.update_node(n));
  n["metadata"]["labels"] = {{"zone", "a"}};
  EXPECT_TRUE(cache.update_node(n));
}

TEST(SchedulerQueue, UnschedulableWaitsForAChangeThenBacksOff) {
  SchedulingQueue q({.initial_backoff = 200ms, .max_backoff = 400ms, .unschedulable_flush = 60s});
  q.add("a");
  std::string key;
  ASSERT_TRUE(q.pop(key));
  q.done_unschedulable("a");
  EXPECT_EQ(q.unschedulable_count(), 1u);
  // A cluster change moves it, through its back-off.
  q.move_all_unschedulable();
  EXPECT_EQ(q.unschedulable_count(), 0u);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(q.pop(key));
  EXPECT_EQ(key, "a");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  // A change while it is being tried is not lost: it goes back to back-off instead of waiting.
  q.move_all_unschedulable();
  q.done_unschedulable("a");
  EXPECT_EQ(q.unschedulable_count(), 0u);
  ASSERT_TRUE(q.pop(key));
  q.remove("a");
  EXPECT_EQ(q.size(), 0u);
}

TEST(SchedulerQueue, FlushNowAndShutdown) {
  SchedulingQueue q({.initial_backoff = 10s, .max_backoff = 10s, .unschedulable_flush = 60s});
  q.add("a");
  std::string key;
  ASSERT_TRUE(q.pop(key));
  q.done_error("a");  // 10 s of back-off
  q.flush_now();
  ASSERT_TRUE(q.pop(key));
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    q.shut_down();
  });
  EXPECT_FALSE(q.pop(key));
  t.join();
}
