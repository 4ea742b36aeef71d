// The seed scenarios of the control loops on a real local cluster (a master with the apiserver, the scheduler and
// the controller manager; two workers with their kubelets, in network namespaces inside the test's): an RC of 10
// spreads over the nodes, scales to 5, replaces a deleted pod; a DaemonSet follows a node label; a Deployment rolls
// to a new image with `kctl set image`, `kctl rollout status` waits for it and `kctl rollout undo` goes back; a
// worker whose kubelet stops has its RC pods recreated on the other node; deleting the RC deletes its pods.
#include <sched.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "local_cluster_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// The cluster's name: its nodes are seed-worker-1 and -2, so it may run beside the other local cluster test's.
constexpr const char* kName = "seed";

const char* kRc = R"({"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"mypod"},
  "spec":{"replicas":10,"selector":{"name":"mypod"},"template":{"metadata":{"labels":{"name":"mypod"}},
  "spec":{"terminationGracePeriodSeconds":1,
    "tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2},
                   {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}],
    "containers":[{"name":"web","image":"kctl/busybox","command":["httpd","-f","-p","80","-h","/"]}]}}}})";

const char* kDaemonSet = R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"dmz"},
  "spec":{"selector":{"matchLabels":{"app":"dmz"}},"template":{"metadata":{"labels":{"app":"dmz"}},
  "spec":{"nodeSelector":{"env":"dmz"},"terminationGracePeriodSeconds":1,
    "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"]}]}}}})";

const char* kDeployment = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
  "spec":{"terminationGracePeriodSeconds":1,
    "containers":[{"name":"c","image":"kctl/busybox:latest","command":["sleep","3600"]}]}}}})";

class LocalClusterSeed : public LocalClusterFixture {
 protected:
  void SetUp() override {
    up(kName, {"--node-monitor-grace-period=4s"});
    // A second tag of the image on both nodes, for the Deployment's rollout.
    for (int i = 1; i <= 2; ++i) {
      auto r = run({kctl_, "image", "import", "--root-dir=" + dir_ + "/nodes/" + node(i), "kctl/busybox:v2",
                    dir_ + "/images/busybox"});
      ASSERT_EQ(r.rc, 0) << r.out << r.err;
    }
  }
  void TearDown() override {
    if (kubelet_stopped_) ::kill(kubelet_stopped_, SIGCONT);
    LocalClusterFixture::TearDown();
  }
  // The live (not terminating) pods a selector picks, by node.
  std::map<std::string, int> pods_by_node(const std::string& selector, bool running_only = true) {
    std::map<std::string, int> out;
    api::ListOptions o;
    o.label_selector = selector;
    for (const auto& p : client_->resource("pods", "default").list(o).items) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      if (running_only && p.value("/status/phase"_json_pointer, std::string()) != "Running") continue;
      out[p.value("/spec/nodeName"_json_pointer, std::string())]++;
    }
    return out;
  }
  static int total(const std::map<std::string, int>& m) {
    int n = 0;
    for (const auto& [k, v] : m) n += v;
    return n;
  }
  int kubelet_stopped_ = 0;
};

}  // namespace

TEST_F(LocalClusterSeed, ReplicationControllerDaemonSetDeploymentAndANodeFailure) {
  // An RC of 10 spreads over both workers.
  auto created = run({kctl_, "-s", "http://127.0.0.1:" + port_, "create", "-f", "-"}, kRc);
  ASSERT_EQ(created.rc, 0) << created.err;
  ASSERT_TRUE(until([&] { return total(pods_by_node("name=mypod")) == 10; }, 90s))
      << json(pods_by_node("name=mypod", false)).dump() << log("kctl-controller-manager") << log("kctl-scheduler");
  auto spread = pods_by_node("name=mypod");
  EXPECT_GE(spread[node(1)], 3) << json(spread).dump();
  EXPECT_GE(spread[node(2)], 3) << json(spread).dump();

  // Scaled to 5 within a few seconds; a deleted pod is replaced.
  auto r = kctl({"scale", "--replicas=5", "rc/mypod"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "replicationcontroller/mypod scaled\n");
  ASSERT_TRUE(until([&] { return total(pods_by_node("name=mypod", false)) == 5; }, 30s));
  api::ListOptions sel;
  sel.label_selector = "name=mypod";
  // The victim is a live pod: the list still holds the scaled-down ones while they terminate, and one of those may
  // be gone before the delete reaches it.
  std::string victim;
  for (const auto& p : client_->resource("pods", "default").list(sel).items)
    if (!p["metadata"].contains("deletionTimestamp")) {
      victim = p["metadata"]["name"];
      break;
    }
  ASSERT_FALSE(victim.empty());
  auto deleted = kctl({"delete", "pod", victim, "--wait=false"});
  ASSERT_EQ(deleted.rc, 0) << deleted.err;
  ASSERT_TRUE(until([&] {
    auto items = client_->resource("pods", "default").list(sel).items;
    int live = 0;
    bool victim_live = false;
    for (const auto& p : items) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      ++live;
      victim_live = victim_live || p["metadata"]["name"] == victim;
    }
    return live == 5 && !victim_live && total(pods_by_node("name=mypod")) == 5;
  }, 60s));

  // A DaemonSet on nodes labelled env=dmz only, and on another node once it is labelled.
  ASSERT_EQ(kctl({"label", "node", node(1), "env=dmz"}).rc, 0);
  created = run({kctl_, "-s", "http://127.0.0.1:" + port_, "create", "-f", "-"}, kDaemonSet);
  ASSERT_EQ(created.rc, 0) << created.err;
  ASSERT_TRUE(until([&] { return pods_by_node("app=dmz") == std::map<std::string, int>{{node(1), 1}}; }, 60s))
      << json(pods_by_node("app=dmz", false)).dump() << log("kctl-controller-manager");
  ASSERT_EQ(kctl({"label", "node", node(2), "env=dmz"}).rc, 0);
  ASSERT_TRUE(until([&] {
    return pods_by_node("app=dmz") == std::map<std::string, int>{{node(1), 1}, {node(2), 1}};
  }, 60s)) << json(pods_by_node("app=dmz", false)).dump();

  // A Deployment rolled to another image and back, as a user does it.
  created = run({kctl_, "-s", "http://127.0.0.1:" + port_, "create", "-f", "-"}, kDeployment);
  ASSERT_EQ(created.rc, 0) << created.err;
  r = kctl({"rollout", "status", "deployment/web", "--timeout=90s"}, "", 120);
  ASSERT_EQ(r.rc, 0) << r.out << r.err << log("kctl-controller-manager");
  r = kctl({"set", "image", "deployment/web", "c=kctl/busybox:v2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = kctl({"rollout", "status", "deployment/web", "--timeout=90s"}, "", 120);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("successfully rolled out"), std::string::npos) << r.out;
  auto images = [&] {
    std::map<std::string, int> out;
    api::ListOptions o;
    o.label_selector = "app=web";
    for (const auto& p : client_->resource("pods", "default").list(o).items)
      if (!p["metadata"].contains("deletionTimestamp")) out[p["spec"]["containers"][0]["image"]]++;
    return out;
  };
  ASSERT_TRUE(until([&] { return images() == std::map<std::string, int>{{"kctl/busybox:v2", 2}}; }, 30s))
      << json(images()).dump();
  r = kctl({"rollout", "undo", "deployment/web"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  r = kctl({"rollout", "status", "deployment/web", "--timeout=90s"}, "", 120);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(until([&] { return images() == std::map<std::string, int>{{"kctl/busybox:latest", 2}}; }, 30s))
      << json(images()).dump();

  // The second worker's kubelet stops (frozen): its node goes Unknown after the grace period (15 s here: more than
  // the kubelets' 10 s Lease renewal, as kube's 40 s default is), its RC pods are
  // evicted after their 2 s toleration and come back on the first worker.
  std::ifstream pid_file(dir_ + "/kctl-kubelet-" + node(2) + ".pid");
  ASSERT_TRUE(pid_file >> kubelet_stopped_) << "no pid file for the kubelet of " << node(2);
  ASSERT_EQ(::kill(kubelet_stopped_, SIGSTOP), 0);
  ASSERT_TRUE(until([&] {
    json n = client_->resource("nodes").get(node(2));
    for (const auto& c : n["status"]["conditions"])
      if (c["type"] == "Ready") return c["status"] == "Unknown";
    return false;
  }, 45s)) << log("kctl-controller-manager");
  ASSERT_TRUE(until([&] { return pods_by_node("name=mypod") == std::map<std::string, int>{{node(1), 5}}; }, 60s))
      << json(pods_by_node("name=mypod", false)).dump() << log("kctl-controller-manager");
  ::kill(kubelet_stopped_, SIGCONT);
  kubelet_stopped_ = 0;

  // Deleting the RC deletes its pods (the garbage collector follows their ownerReferences).
  r = kctl({"delete", "rc", "mypod"}, "", 120);
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(until([&] { return total(pods_by_node("name=mypod", false)) == 0; }, 60s))
      << json(pods_by_node("name=mypod", false)).dump();
}
