// The DaemonSet controller of kctl-controller-manager against a real apiserver, with plain Node objects and the
// real kubectl: one pod per matching node pinned there by node affinity, pods following node labels, taints and
// deletions, and template updates rolled out (RollingUpdate within maxUnavailable, OnDelete only on deletion).
// No scheduler or kubelet runs: the test marks pods Ready where a rollout needs them to be.
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "controller_manager_process.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class DaemonSetControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    cm_ = std::make_unique<ControllerManagerProcess>(server_->url(), std::vector<std::string>{"--controllers=daemonset"});
  }
  void TearDown() override {
    if (::testing::Test::HasFailure()) std::cerr << "controller manager log:\n" << cm_->log();
  }

  api::ResourceClient nodes() const { return client_->resource("nodes"); }
  api::ResourceClient pods() const { return client_->resource("pods", "default"); }
  api::ResourceClient daemon_sets() const { return client_->resource("daemonsets", "default"); }

  void create_node(const std::string& name, json labels = json::object(), json taints = nullptr) {
    json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}, {"labels", labels}}}};
    if (!taints.is_null()) n["spec"]["taints"] = taints;
    nodes().create(n);
  }

  json daemon_set(const std::string& name, json pod_spec_extra = json::object()) {
    json spec = {{"containers", {{{"name", "agent"}, {"image", "kctl/busybox:1"}}}}};
    spec.update(pod_spec_extra);
    return {{"apiVersion", "apps/v1"},
            {"kind", "DaemonSet"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"selector", {{"matchLabels", {{"app", name}}}}},
              {"template", {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", spec}}}}}};
  }

  // Pods of the DaemonSet `app` not being deleted, by the node they are for.
  std::map<std::string, std::vector<json>> pods_by_node(const std::string& app) {
    std::map<std::string, std::vector<json>> out;
    api::ListOptions o;
    o.label_selector = "app=" + app;
    for (const auto& p : pods().list(o).items) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      json terms = p.value("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"_json_pointer,
                           json::array());
      std::string node = terms.empty() ? "" : terms[0]["matchFields"][0]["values"][0].get<std::string>();
      out[node].push_back(p);
    }
    return out;
  }
  std::set<std::string> nodes_with_pods(const std::string& app) {
    std::set<std::string> out;
    for (const auto& [node, ps] : pods_by_node(app)) out.insert(node);
    return out;
  }
  bool one_pod_on_each(const std::string& app, const std::set<std::string>& want) {
    auto by = pods_by_node(app);
    if (by.size() != want.size()) return false;
    for (const auto& [node, ps] : by)
      if (!want.count(node) || ps.size() != 1) return false;
    return true;
  }

  void mark_ready(const json& pod) {
    json p = pod;
    p["status"]["phase"] = "Running";
    p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now_rfc3339()}}};
    try {
      pods().update_status(p);
    } catch (const api::StatusError&) {
      // changed or gone meanwhile: the next round looks again
    }
  }
  static std::string hash_of(const json& pod) { return pod["metadata"]["labels"].value("controller-revision-hash", ""); }

  std::string dump_pods(const std::string& app) {
    json out = json::object();
    for (const auto& [node, ps] : pods_by_node(app))
      for (const auto& p : ps) out[node].push_back({p["metadata"]["name"], hash_of(p), p.value("/status/conditions"_json_pointer, json())});
    return out.dump();
  }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::unique_ptr<Kubectl> kubectl_;
  std::unique_ptr<ControllerManagerProcess> cm_;
};

TEST_F(DaemonSetControllerTest, FollowsNodeSelectorAsNodesAreLabelledAndGo) {
  create_node("n1", {{"env", "dmz"}});
  create_node("n2", {{"env", "dmz"}});
  create_node("n3");
  daemon_sets().create(daemon_set("agent", {{"nodeSelector", {{"env", "dmz"}}}}));
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("agent", {"n1", "n2"}); })) << dump_pods("agent");

  // What kube's daemon pods look like: owned, pinned by node affinity, hash-labelled, tolerating node trouble.
  json pod = pods_by_node("agent")["n1"][0];
  EXPECT_EQ(pod["metadata"]["name"].get<std::string>().rfind("agent-", 0), 0u);
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_FALSE(hash_of(pod).empty());
  EXPECT_EQ(pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json::parse(R"({"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}]})"));
  std::set<std::string> tolerated;
  for (const auto& t : pod["spec"]["tolerations"]) tolerated.insert(t.value("key", "") + ":" + t.value("effect", ""));
  for (const char* want : {"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
                           "node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
                           "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"})
    EXPECT_TRUE(tolerated.count(want)) << want;
  ASSERT_TRUE(eventually([&] {
    json st = daemon_sets().get("agent")["status"];
    return st.value("desiredNumberScheduled", -1) == 2 && st.value("currentNumberScheduled", -1) == 2 &&
           st.value("updatedNumberScheduled", -1) == 2 && st.value("numberMisscheduled", -1) == 0 &&
           st.value("observedGeneration", 0) == 1;
  })) << daemon_sets().get("agent")["status"].dump();

  // kubectl labels a third node into the set, and one out of it.
  auto r = (*kubectl_)({"label", "node", "n3", "env=dmz"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("agent", {"n1", "n2", "n3"}); })) << dump_pods("agent");
  r = (*kubectl_)({"label", "node", "n1", "env-"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("agent", {"n2", "n3"}); })) << dump_pods("agent");

  // A node that goes takes its pod with it.
  nodes().remove("n2");
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("agent", {"n3"}); })) << dump_pods("agent");
  EXPECT_TRUE(eventually([&] {
    json st = daemon_sets().get("agent")["status"];
    return st.value("desiredNumberScheduled", -1) == 1 && st.value("currentNumberScheduled", -1) == 1;
  }));

  bool created = false;
  for (const auto& e : client_->resource("events", "default").list().items)
    if (e.value("reason", "") == "SuccessfulCreate" && e.value("/involvedObject/name"_json_pointer, std::string()) == "agent" &&
        e.value("message", "").rfind("Created pod: agent-", 0) == 0)
      created = true;
  EXPECT_TRUE(created);
  r = (*kubectl_)({"get", "ds", "agent"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("env=dmz"), std::string::npos) << r.out;
}

TEST_F(DaemonSetControllerTest, TaintedNodesAreSkippedUnlessTolerated) {
  create_node("plain");
  create_node("db", json::object(), {{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}});
  // Daemon pods tolerate node trouble by themselves, and the unschedulable taint.
  create_node("cordoned", json::object(), {{{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}}});
  daemon_sets().create(daemon_set("plain-agent"));
  daemon_sets().create(daemon_set("db-agent", {{"tolerations", {{{"key", "dedicated"}, {"operator", "Equal"},
                                                                  {"value", "db"}, {"effect", "NoSchedule"}}}}}));
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("plain-agent", {"plain", "cordoned"}); })) << dump_pods("plain-agent");
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("db-agent", {"plain", "db", "cordoned"}); })) << dump_pods("db-agent");

  // A NoExecute taint neither tolerates takes both pods off the node.
  json plain = nodes().get("plain");
  plain["spec"]["taints"] = {{{"key", "maintenance"}, {"effect", "NoExecute"}}};
  nodes().update(plain);
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("plain-agent", {"cordoned"}); })) << dump_pods("plain-agent");
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("db-agent", {"db", "cordoned"}); })) << dump_pods("db-agent");
  EXPECT_TRUE(eventually([&] {
    json st = daemon_sets().get("plain-agent")["status"];
    return st.value("desiredNumberScheduled", -1) == 1 && st.value("numberMisscheduled", -1) == 0;
  }));
}

TEST_F(DaemonSetControllerTest, RollingUpdateReplacesOnePodAtATime) {
  for (const char* n : {"r1", "r2", "r3"}) create_node(n);
  daemon_sets().create(daemon_set("roll"));
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("roll", {"r1", "r2", "r3"}); })) << dump_pods("roll");
  std::string old_hash = hash_of(pods_by_node("roll")["r1"][0]);
  for (const auto& [node, ps] : pods_by_node("roll")) mark_ready(ps[0]);
  ASSERT_TRUE(eventually([&] { return daemon_sets().get("roll")["status"].value("numberAvailable", 0) == 3; }));

  // A new image: the default strategy is RollingUpdate with maxUnavailable 1.
  auto r = (*kubectl_)({"set", "image", "ds/roll", "agent=kctl/busybox:2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::set<std::string> replaced;
  int rounds = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (replaced.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    auto by = pods_by_node("roll");
    int available_nodes = 0, new_not_ready = 0;
    for (const auto& [node, ps] : by) {
      bool any_ready = false;
      for (const auto& p : ps) {
        bool ready = !p.value("/status/conditions"_json_pointer, json::array()).empty();
        any_ready = any_ready || ready;
        if (hash_of(p) == old_hash) continue;
        replaced.insert(node);
        EXPECT_EQ(p["spec"]["containers"][0]["image"], "kctl/busybox:2");
        if (!ready) ++new_not_ready;
      }
      available_nodes += any_ready;
    }
    // maxUnavailable 1 of 3: never more than one node without a ready pod.
    EXPECT_GE(available_nodes, 2) << dump_pods("roll");
    EXPECT_LE(new_not_ready, 1) << dump_pods("roll");
    // Playing the kubelet: a new pod becomes ready only after a moment, so that the controller could overrun.
    std::this_thread::sleep_for(300ms);
    for (const auto& [node, ps] : by)
      for (const auto& p : ps)
        if (hash_of(p) != old_hash && p.value("/status/conditions"_json_pointer, json::array()).empty()) {
          mark_ready(p);
          ++rounds;
        }
  }
  ASSERT_EQ(replaced.size(), 3u) << dump_pods("roll");
  EXPECT_EQ(rounds, 3);
  ASSERT_TRUE(eventually([&] {
    json st = daemon_sets().get("roll")["status"];
    return st.value("updatedNumberScheduled", -1) == 3 && st.value("numberAvailable", -1) == 3 &&
           st.value("observedGeneration", 0) == 2;
  })) << daemon_sets().get("roll")["status"].dump();
  EXPECT_TRUE(one_pod_on_each("roll", {"r1", "r2", "r3"})) << dump_pods("roll");
}

TEST_F(DaemonSetControllerTest, OnDeleteReplacesOnlyDeletedPods) {
  for (const char* n : {"o1", "o2"}) create_node(n);
  json ds = daemon_set("manual");
  ds["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  daemon_sets().create(ds);
  ASSERT_TRUE(eventually([&] { return one_pod_on_each("manual", {"o1", "o2"}); })) << dump_pods("manual");
  std::string old_hash = hash_of(pods_by_node("manual")["o1"][0]);
  auto r = (*kubectl_)({"set", "image", "ds/manual", "agent=kctl/busybox:2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return daemon_sets().get("manual")["status"].value("observedGeneration", 0) == 2; }));
  std::this_thread::sleep_for(1s);
  for (const auto& [node, ps] : pods_by_node("manual")) EXPECT_EQ(hash_of(ps[0]), old_hash) << node;

  pods().remove(pods_by_node("manual")["o1"][0]["metadata"]["name"]);
  ASSERT_TRUE(eventually([&] {
    auto by = pods_by_node("manual");
    return by["o1"].size() == 1 && hash_of(by["o1"][0]) != old_hash;
  })) << dump_pods("manual");
  EXPECT_EQ(hash_of(pods_by_node("manual")["o2"][0]), old_hash);
  EXPECT_TRUE(eventually([&] { return daemon_sets().get("manual")["status"].value("updatedNumberScheduled", -1) == 1; }));
}

}  // namespace
