// The node controllers of kctl-controller-manager against a real apiserver, with Nodes and their Leases played by
// the test (no kubelet): node IPAM (distinct podCIDRs, a restart that double-allocates nothing, a full range, a
// released subnet reused), node lifecycle (a node gone quiet is Unknown and tainted within its grace period, its
// pods not Ready and evicted when their toleration runs out, a NotReady node's taints, recovery) and disruption
// mode.
#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "api/leader_election.h"
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

class NodeControllersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
  }
  void TearDown() override {
    stop_renewing_all();
    if (::testing::Test::HasFailure() && cm_) std::cerr << "controller manager log:\n" << cm_->log();
    cm_.reset();
  }

  void start_cm(std::vector<std::string> args) { cm_ = std::make_unique<ControllerManagerProcess>(server_->url(), args); }

  api::ResourceClient nodes() const { return client_->resource("nodes"); }
  api::ResourceClient pods() const { return client_->resource("pods", "default"); }

  json create_node(const std::string& name, const std::string& pod_cidr = "") {
    json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}, {"spec", json::object()}};
    if (!pod_cidr.empty()) n["spec"] = {{"podCIDR", pod_cidr}, {"podCIDRs", {pod_cidr}}};
    return nodes().create(n);
  }

  // What a kubelet posts: the four conditions, Ready as asked, with a fresh heartbeat.
  void post_status(const std::string& name, const std::string& ready) {
    for (int attempt = 0;; ++attempt) {
      json n = nodes().get(name);
      std::string now = now_rfc3339();
      auto cond = [&](const std::string& type, const std::string& status, const std::string& reason) {
        return json{{"type", type}, {"status", status}, {"reason", reason}, {"message", reason},
                    {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
      };
      n["status"]["conditions"] = {cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                                   cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                                   cond("PIDPressure", "False", "KubeletHasSufficientPID"),
                                   cond("Ready", ready, ready == "True" ? "KubeletReady" : "KubeletNotReady")};
      try {
        nodes().update_status(n);
        return;
      } catch (const api::StatusError& e) {
        if (e.status().code != 409 || attempt > 5) throw;
      }
    }
  }

  void renew_lease(const std::string& name) {
    api::ResourceClient leases = client_->resource("leases", "kube-node-lease");
    try {
      json l = leases.get(name);
      l["spec"]["renewTime"] = api::now_micro_time();
      leases.update(l);
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;
      leases.create({{"apiVersion", "coordination.k8s.io/v1"},
                     {"kind", "Lease"},
                     {"metadata", {{"name", name}, {"namespace", "kube-node-lease"}}},
                     {"spec", {{"holderIdentity", name}, {"leaseDurationSeconds", 40}, {"renewTime", api::now_micro_time()}}}});
    }
  }

  // A kubelet's heartbeat, every 500 ms, for the nodes in renewing_.
  void start_renewing(const std::string& name) {
    renew_lease(name);
    {
      std::lock_guard lock(mutex_);
      renewing_.insert(name);
    }
    if (renewer_.joinable()) return;
    renewer_ = std::thread([this] {
      while (!stop_) {
        std::set<std::string> names;
        {
          std::lock_guard lock(mutex_);
          names = renewing_;
        }
        for (const auto& n : names) {
          try {
            renew_lease(n);
          } catch (const std::exception&) {
          }
        }
        std::this_thread::sleep_for(500ms);
      }
    });
  }
  void stop_renewing(const std::string& name) {
    std::lock_guard lock(mutex_);
    renewing_.erase(name);
  }
  void stop_renewing_all() {
    stop_ = true;
    if (renewer_.joinable()) renewer_.join();
  }

  json create_pod(const std::string& name, const std::string& node, json tolerations = nullptr) {
    json p = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}, {"image", "kctl/busybox"}}}}}}};
    if (!tolerations.is_null()) p["spec"]["tolerations"] = tolerations;
    json created = pods().create(p);
    created["status"]["phase"] = "Running";
    created["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now_rfc3339()}}};
    return pods().update_status(created);
  }

  std::string pod_cidr(const std::string& node) {
    return nodes().get(node).value("/spec/podCIDR"_json_pointer, std::string());
  }
  std::string condition(const json& obj, const std::string& type, const std::string& field = "status") {
    for (const auto& c : obj.value("/status/conditions"_json_pointer, json::array()))
      if (c.value("type", "") == type) return c.value(field, "");
    return "";
  }
  bool has_taint(const std::string& node, const std::string& key, const std::string& effect) {
    for (const auto& t : nodes().get(node).value("/spec/taints"_json_pointer, json::array()))
      if (t.value("key", "") == key && t.value("effect", "") == effect) return true;
    return false;
  }
  size_t taint_count(const std::string& node) {
    return nodes().get(node).value("/spec/taints"_json_pointer, json::array()).size();
  }
  // Events about `name` with `reason`, in any namespace.
  std::vector<json> events(const std::string& name, const std::string& reason) {
    std::vector<json> out;
    for (const auto& e : client_->resource("events").list().items)
      if (e.value("/involvedObject/name"_json_pointer, std::string()) == name && e.value("reason", "") == reason)
        out.push_back(e);
    return out;
  }
  bool pod_deleted(const std::string& name) {
    try {
      return pods().get(name).value("/metadata/deletionTimestamp"_json_pointer, std::string()) != "";
    } catch (const api::StatusError& e) {
      return e.status().code == 404;
    }
  }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::unique_ptr<ControllerManagerProcess> cm_;
  std::mutex mutex_;
  std::set<std::string> renewing_;
  std::atomic<bool> stop_{false};
  std::thread renewer_;
};

TEST_F(NodeControllersTest, IpamGivesDistinctCidrsAndARestartDoesNotReuseThem) {
  create_node("n1", "10.244.1.0/24");  // set by hand: kept, and never handed to another node
  create_node("n2");
  create_node("n3");
  start_cm({"--controllers=nodeipam"});
  ASSERT_TRUE(eventually([&] { return !pod_cidr("n2").empty() && !pod_cidr("n3").empty(); })) << cm_->log();
  EXPECT_EQ(pod_cidr("n1"), "10.244.1.0/24");
  json n2 = nodes().get("n2");
  EXPECT_EQ(n2["spec"]["podCIDRs"], json::array({n2["spec"]["podCIDR"]}));

  // A restarted controller manager rebuilds what is used from the Nodes before it allocates anything.
  cm_->stop();
  create_node("n4");
  create_node("n5");
  cm_->start();
  ASSERT_TRUE(eventually([&] { return !pod_cidr("n4").empty() && !pod_cidr("n5").empty(); })) << cm_->log();
  std::set<std::string> all;
  for (const char* n : {"n1", "n2", "n3", "n4", "n5"}) {
    std::string c = pod_cidr(n);
    EXPECT_EQ(c.rfind("10.244.", 0), 0u) << n << " " << c;
    EXPECT_EQ(c.substr(c.size() - 3), "/24") << n << " " << c;
    all.insert(c);
  }
  EXPECT_EQ(all.size(), 5u) << json(std::vector<std::string>(all.begin(), all.end())).dump();
}

TEST_F(NodeControllersTest, IpamFullRangeWaitsForAReleasedCidr) {
  // Two /24s in a /23.
  start_cm({"--controllers=nodeipam", "--cluster-cidr=10.250.0.0/23", "--node-cidr-mask-size=24"});
  create_node("a");
  create_node("b");
  ASSERT_TRUE(eventually([&] { return !pod_cidr("a").empty() && !pod_cidr("b").empty(); })) << cm_->log();
  EXPECT_NE(pod_cidr("a"), pod_cidr("b"));
  std::string freed = pod_cidr("a");

  create_node("c");
  ASSERT_TRUE(eventually([&] { return !events("c", "CIDRNotAvailable").empty(); })) << cm_->log();
  json ev = events("c", "CIDRNotAvailable").front();
  EXPECT_EQ(ev["message"], "Node c status is now: CIDRNotAvailable");
  EXPECT_EQ(ev["source"]["component"], "cidrAllocator");
  EXPECT_EQ(pod_cidr("c"), "");

  nodes().remove("a");
  ASSERT_TRUE(eventually([&] { return pod_cidr("c") == freed; })) << cm_->log();
}

TEST_F(NodeControllersTest, QuietNodeGoesUnknownIsTaintedItsPodsEvictedAndRecovers) {
  for (const char* n : {"alive", "quiet"}) {
    create_node(n);
    post_status(n, "True");
    start_renewing(n);
  }
  // 2 s of tolerance; the other gets the apiserver's 300 s; the third tolerates for ever.
  create_pod("short", "quiet",
             {{{"key", "node.kubernetes.io/unreachable"}, {"operator", "Exists"}, {"effect", "NoExecute"},
               {"tolerationSeconds", 2}}});
  create_pod("patient", "quiet");
  create_pod("forever", "quiet", {{{"operator", "Exists"}}});
  start_cm({"--controllers=nodelifecycle,taint-eviction-controller", "--node-monitor-grace-period=3s"});
  // Nothing happens while the kubelets report.
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(condition(nodes().get("quiet"), "Ready"), "True");
  EXPECT_EQ(taint_count("quiet"), 0u);

  auto silent_since = std::chrono::steady_clock::now();
  stop_renewing("quiet");
  ASSERT_TRUE(eventually([&] { return has_taint("quiet", "node.kubernetes.io/unreachable", "NoExecute"); }, 15s))
      << cm_->log();
  auto tainted_after = std::chrono::steady_clock::now() - silent_since;
  EXPECT_LT(tainted_after, 3s + 3s) << "grace period 3 s";
  std::cout << "unreachable:NoExecute "
            << std::chrono::duration_cast<std::chrono::milliseconds>(tainted_after).count()
            << " ms after the test stopped renewing its Lease (renewed every 500 ms; grace period 3 s)\n";
  json quiet = nodes().get("quiet");
  for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
    EXPECT_EQ(condition(quiet, type), "Unknown") << type;
    EXPECT_EQ(condition(quiet, type, "reason"), "NodeStatusUnknown") << type;
    EXPECT_EQ(condition(quiet, type, "message"), "Kubelet stopped posting node status.") << type;
  }
  EXPECT_TRUE(eventually([&] { return has_taint("quiet", "node.kubernetes.io/unreachable", "NoSchedule"); }));
  EXPECT_FALSE(has_taint("quiet", "node.kubernetes.io/not-ready", "NoExecute"));
  EXPECT_EQ(taint_count("alive"), 0u);
  EXPECT_TRUE(eventually([&] { return !events("quiet", "NodeNotReady").empty(); }));
  EXPECT_EQ(events("quiet", "NodeNotReady").front()["message"], "Node quiet status is now: NodeNotReady");

  // Its pods are not Ready any more, and the one with 2 s of tolerance goes.
  EXPECT_TRUE(eventually([&] { return condition(pods().get("patient"), "Ready") == "False"; })) << cm_->log();
  ASSERT_TRUE(eventually([&] { return pod_deleted("short"); }, 10s)) << cm_->log();
  EXPECT_TRUE(eventually([&] { return !events("short", "TaintManagerEviction").empty(); }));
  EXPECT_EQ(events("short", "TaintManagerEviction").front()["message"], "Marking for deletion Pod default/short");
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(pod_deleted("patient"));
  EXPECT_FALSE(pod_deleted("forever"));
  EXPECT_EQ(condition(pods().get("short"), "DisruptionTarget", "reason"), "DeletionByTaintManager");

  // The kubelet is back: it renews its Lease and posts Ready; the taints go.
  start_renewing("quiet");
  post_status("quiet", "True");
  ASSERT_TRUE(eventually([&] { return taint_count("quiet") == 0; })) << cm_->log();
  EXPECT_EQ(condition(nodes().get("quiet"), "Ready"), "True");
  // The pending eviction of "patient" was cancelled with the taint.
  EXPECT_TRUE(eventually([&] {
    for (const auto& e : events("patient", "TaintManagerEviction"))
      if (e["message"] == "Cancelling deletion of Pod default/patient") return true;
    return false;
  }));
  EXPECT_FALSE(pod_deleted("patient"));
}

TEST_F(NodeControllersTest, NotReadyNodeGetsNotReadyTaintsUntilItIsReady) {
  for (const char* n : {"healthy", "sick"}) {
    create_node(n);
    post_status(n, "True");
    start_renewing(n);
  }
  start_cm({"--controllers=nodelifecycle", "--node-monitor-grace-period=3s"});
  post_status("sick", "False");
  ASSERT_TRUE(eventually([&] {
    return has_taint("sick", "node.kubernetes.io/not-ready", "NoExecute") &&
           has_taint("sick", "node.kubernetes.io/not-ready", "NoSchedule");
  })) << cm_->log();
  EXPECT_FALSE(has_taint("sick", "node.kubernetes.io/unreachable", "NoExecute"));
  // A taint someone else set is kept through all of it.
  json sick = nodes().get("sick");
  sick["spec"]["taints"].push_back({{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}});
  nodes().update(sick);

  post_status("sick", "True");
  ASSERT_TRUE(eventually([&] { return taint_count("sick") == 1; })) << cm_->log();
  EXPECT_TRUE(has_taint("sick", "dedicated", "NoSchedule"));
  EXPECT_EQ(taint_count("healthy"), 0u);
}

TEST_F(NodeControllersTest, NoEvictionTaintWhenEveryNodeIsDown) {
  // One node, and it goes quiet: more likely the control plane lost the nodes than the node died.
  create_node("only");
  post_status("only", "True");
  start_renewing("only");
  start_cm({"--controllers=nodelifecycle", "--node-monitor-grace-period=3s"});
  std::this_thread::sleep_for(1s);
  stop_renewing("only");
  ASSERT_TRUE(eventually([&] { return condition(nodes().get("only"), "Ready") == "Unknown"; }, 15s)) << cm_->log();
  ASSERT_TRUE(eventually([&] { return has_taint("only", "node.kubernetes.io/unreachable", "NoSchedule"); }));
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(has_taint("only", "node.kubernetes.io/unreachable", "NoExecute")) << nodes().get("only").dump();
}

}  // namespace
