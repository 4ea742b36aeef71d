// The Deployment controller in kctl-controller-manager against a real apiserver (with the ReplicaSet controller
// creating the pods, and the test in the kubelet's place): ReplicaSets per template hash with their revision
// annotations, RollingUpdate within maxSurge / maxUnavailable at every step, Recreate, kubectl rollout status /
// history / undo unmodified, revisionHistoryLimit, pausing, and the progress deadline.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "workload_harness.h"

using namespace kctl::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string deployment(const std::string& name, int replicas, const std::string& image,
                       const std::string& strategy = "", const std::string& extra_spec = "") {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  replicas: " +
         std::to_string(replicas) + "\n" + strategy + extra_spec + "  selector:\n    matchLabels:\n      app: " + name +
         "\n  template:\n    metadata:\n      labels:\n        app: " + name +
         "\n    spec:\n      containers:\n      - name: c\n        image: " + image + "\n";
}

std::string rolling(const std::string& surge, const std::string& unavailable) {
  return "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: " + surge +
         "\n      maxUnavailable: " + unavailable + "\n";
}

bool terminating(const json& p) {
  return p["metadata"].contains("deletionTimestamp") && !p["metadata"]["deletionTimestamp"].is_null();
}

class DeploymentControllerTest : public WorkloadTest {
 protected:
  void TearDown() override {
    stop_kubelet();
    WorkloadTest::TearDown();
  }

  // A kubelet that starts every pod at once (bound, Running, Ready) and finishes graceful deletions.
  void start_kubelet() {
    kubelet_on_ = true;
    kubelet_ = std::thread([this] {
      while (kubelet_on_) {
        try {
          kubelet_pass();
        } catch (const std::exception&) {
          // A pod deleted or changed under our feet: the next pass sees it as it is.
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  void stop_kubelet() {
    kubelet_on_ = false;
    if (kubelet_.joinable()) kubelet_.join();
  }
  void kubelet_pass() const {
    for (const auto& p : res("pods").list().items) {
      if (terminating(p)) {
        reap(p);
        continue;
      }
      std::string phase = p.value("/status/phase"_json_pointer, std::string());
      if (phase == "Pending") run_pod(p);
    }
  }
  // What the kubelet does once a pod's containers stopped: the pod goes for good.
  void reap(const json& p) const {
    try {
      res("pods").remove(p["metadata"]["name"], json{{"gracePeriodSeconds", 0}});
    } catch (const kctl::api::StatusError&) {
    }
  }
  void reap_all() const {
    for (const auto& p : res("pods").list().items)
      if (terminating(p)) reap(p);
  }

  json get(const std::string& name) const { return res("deployments").get(name); }
  std::vector<json> replica_sets(const std::string& app) const {
    kctl::api::ListOptions o;
    o.label_selector = "app=" + app;
    auto items = res("replicasets").list(o).items;
    std::sort(items.begin(), items.end(), [](const json& a, const json& b) {
      return std::stoll(a.value("/metadata/annotations/deployment.kubernetes.io~1revision"_json_pointer, std::string("0"))) <
             std::stoll(b.value("/metadata/annotations/deployment.kubernetes.io~1revision"_json_pointer, std::string("0")));
    });
    return items;
  }
  static std::string revision(const json& obj) {
    return obj.value("/metadata/annotations/deployment.kubernetes.io~1revision"_json_pointer, std::string());
  }
  static std::string image(const json& obj) {
    return obj.value("/spec/template/spec/containers/0/image"_json_pointer, std::string());
  }
  // Finished as kubectl rollout status sees it.
  bool complete(const std::string& name) const {
    json d = get(name);
    json st = d.value("status", json::object());
    int want = d["spec"]["replicas"];
    return st.value("observedGeneration", 0) >= d["metadata"]["generation"].get<int>() &&
           st.value("updatedReplicas", 0) == want && st.value("replicas", 0) == want &&
           st.value("availableReplicas", 0) == want;
  }
  static const json* condition(const json& d, const std::string& type) {
    if (!d.contains("status") || !d["status"].contains("conditions")) return nullptr;
    for (const auto& c : d["status"]["conditions"])
      if (c["type"] == type) return &c;
    return nullptr;
  }
  std::string reason(const std::string& name, const std::string& type) const {
    json d = get(name);
    const json* c = condition(d, type);
    return c ? c->value("reason", "") + "/" + c->value("status", "") : "";
  }

  std::atomic<bool> kubelet_on_{false};
  std::thread kubelet_;
};

TEST_F(DeploymentControllerTest, CreatesAReplicaSetPerTemplateHashWithRevisionAnnotations) {
  kubectl_ok({"apply", "-f", "-"}, deployment("api", 3, "nginx:1"));
  ASSERT_TRUE(eventually([&] { return replica_sets("api").size() == 1; }));
  json rs = replica_sets("api")[0];
  json d = get("api");
  std::string hash = rs["metadata"]["labels"]["pod-template-hash"];
  ASSERT_FALSE(hash.empty());
  EXPECT_EQ(rs["metadata"]["name"], "api-" + hash);
  EXPECT_EQ(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"], hash);
  EXPECT_EQ(rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"], hash);
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0]["uid"], d["metadata"]["uid"]);
  EXPECT_EQ(revision(rs), "1");
  EXPECT_EQ(rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"], "3");
  EXPECT_EQ(rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"], "4");  // 25% of 3, rounded up
  ASSERT_TRUE(eventually([&] { return revision(get("api")) == "1"; }));
  ASSERT_TRUE(eventually([&] { return count("app=api") == 3; }));
  for (const auto& p : pods("app=api")) EXPECT_EQ(p["metadata"]["labels"]["pod-template-hash"], hash);
  // The status is written after the pods are created: wait for it rather than race it.
  EXPECT_TRUE(eventually([&] { return reason("api", "Available") == "MinimumReplicasUnavailable/False"; }))
      << reason("api", "Available");

  start_kubelet();
  auto r = kubectl({"rollout", "status", "deploy/api", "--timeout=30s"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("deployment \"api\" successfully rolled out"), std::string::npos) << r.out;
  d = get("api");
  EXPECT_EQ(d["status"]["replicas"], 3);
  EXPECT_EQ(d["status"]["updatedReplicas"], 3);
  EXPECT_EQ(d["status"]["readyReplicas"], 3);
  EXPECT_EQ(d["status"]["availableReplicas"], 3);
  EXPECT_FALSE(d["status"].contains("unavailableReplicas"));
  EXPECT_EQ(d["status"]["observedGeneration"], d["metadata"]["generation"]);
  EXPECT_TRUE(eventually([&] { return reason("api", "Available") == "MinimumReplicasAvailable/True"; })) << reason("api", "Available");
  EXPECT_TRUE(eventually([&] { return reason("api", "Progressing") == "NewReplicaSetAvailable/True"; })) << reason("api", "Progressing");
  auto scaled = events("api", "ScalingReplicaSet");
  ASSERT_EQ(scaled.size(), 1u);
  EXPECT_EQ(scaled[0], "Scaled up replica set api-" + hash + " from 0 to 3");

  // The same template again (a label on the Deployment only) makes no new ReplicaSet.
  kubectl_ok({"label", "deploy", "api", "team=a"});
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(replica_sets("api").size(), 1u);
  // kubectl scale goes to the one ReplicaSet, with its annotations.
  kubectl_ok({"scale", "deploy", "api", "--replicas=5"});
  ASSERT_TRUE(eventually([&] { return complete("api") && count("app=api") == 5; }));
  EXPECT_EQ(replica_sets("api")[0]["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"], "5");
}

TEST_F(DeploymentControllerTest, RollingUpdateStaysWithinMaxSurgeAndMaxUnavailableAtEveryStep) {
  const int replicas = 4, surge = 1, unavailable = 1;
  kubectl_ok({"apply", "-f", "-"}, deployment("roll", replicas, "nginx:1", rolling("1", "1")));
  ASSERT_TRUE(eventually([&] { return count("app=roll") == 4; }));
  run_all("app=roll");
  ASSERT_TRUE(eventually([&] { return complete("roll"); }));

  kubectl_ok({"set", "image", "deploy/roll", "c=nginx:2"});
  ASSERT_TRUE(eventually([&] { return replica_sets("roll").size() == 2; }));
  std::string new_rs = replica_sets("roll")[1]["metadata"]["name"];
  int steps = 0, most_pods = 0, fewest_ready = replicas;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!complete("roll") && std::chrono::steady_clock::now() < deadline) {
    int spec_sum = 0;
    for (const auto& rs : replica_sets("roll")) spec_sum += rs["spec"]["replicas"].get<int>();
    int ready = 0;
    auto live = pods("app=roll");
    for (const auto& p : live)
      for (const auto& c : p.value("/status/conditions"_json_pointer, json::array()))
        if (c["type"] == "Ready" && c["status"] == "True") ++ready;
    most_pods = std::max(most_pods, spec_sum);
    fewest_ready = std::min(fewest_ready, ready);
    EXPECT_LE(spec_sum, replicas + surge) << "step " << steps;
    EXPECT_GE(ready, replicas - unavailable) << "step " << steps;
    // One new pod becomes ready per step; old pods being deleted go.
    for (const auto& p : live)
      if (p["metadata"]["labels"]["pod-template-hash"] != replica_sets("roll")[0]["metadata"]["labels"]["pod-template-hash"] &&
          p.value("/status/phase"_json_pointer, std::string()) == "Pending") {
        run_pod(p);
        break;
      }
    reap_all();
    ++steps;
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(complete("roll")) << get("roll")["status"].dump();
  EXPECT_GE(steps, 3);
  EXPECT_EQ(most_pods, replicas + surge);
  EXPECT_EQ(fewest_ready, replicas - unavailable);
  auto rss = replica_sets("roll");
  EXPECT_EQ(rss[0]["spec"]["replicas"], 0);
  EXPECT_EQ(rss[1]["spec"]["replicas"], replicas);
  EXPECT_EQ(revision(rss[1]), "2");
  EXPECT_EQ(revision(get("roll")), "2");
  for (const auto& p : pods("app=roll")) EXPECT_EQ(p["spec"]["containers"][0]["image"], "nginx:2");
  EXPECT_TRUE(eventually([&] { return reason("roll", "Progressing") == "NewReplicaSetAvailable/True"; })) << reason("roll", "Progressing");
  auto scaled = events("roll", "ScalingReplicaSet");
  EXPECT_TRUE(std::count(scaled.begin(), scaled.end(), "Scaled up replica set " + new_rs + " from 0 to 1"))
      << scaled.size();
}

TEST_F(DeploymentControllerTest, RecreateStopsEveryOldPodBeforeStartingNewOnes) {
  kubectl_ok({"apply", "-f", "-"}, deployment("rec", 2, "nginx:1", "  strategy:\n    type: Recreate\n"));
  ASSERT_TRUE(eventually([&] { return count("app=rec") == 2; }));
  run_all("app=rec");
  ASSERT_TRUE(eventually([&] { return complete("rec"); }));
  kubectl_ok({"set", "image", "deploy/rec", "c=nginx:2"});
  // The old pods are told to stop; until they are gone (the kubelet has not finished them) nothing new starts.
  ASSERT_TRUE(eventually([&] { return count("app=rec") == 0; }));
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(replica_sets("rec").size(), 1u) << "a new ReplicaSet while old pods still run";
  reap_all();
  ASSERT_TRUE(eventually([&] { return replica_sets("rec").size() == 2 && count("app=rec") == 2; }));
  for (const auto& p : pods("app=rec")) EXPECT_EQ(p["spec"]["containers"][0]["image"], "nginx:2");
  auto rss = replica_sets("rec");
  EXPECT_EQ(rss[0]["spec"]["replicas"], 0);
  EXPECT_EQ(rss[1]["spec"]["replicas"], 2);
  run_all("app=rec");
  ASSERT_TRUE(eventually([&] { return complete("rec"); }));
}

TEST_F(DeploymentControllerTest, KubectlRolloutStatusHistoryAndUndo) {
  start_kubelet();
  kubectl_ok({"apply", "-f", "-"}, deployment("web", 2, "nginx:1"));
  auto r = kubectl({"rollout", "status", "deploy/web", "--timeout=30s"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  kubectl_ok({"set", "image", "deploy/web", "c=nginx:2"});
  kubectl_ok({"annotate", "deploy/web", "kubernetes.io/change-cause=to nginx 2"});
  r = kubectl({"rollout", "status", "deploy/web", "--timeout=30s"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("successfully rolled out"), std::string::npos) << r.out;

  // The change-cause reaches the ReplicaSet at the sync after the annotation, which may follow the rollout's end.
  EXPECT_TRUE(eventually([&] {
    r = kubectl({"rollout", "history", "deploy/web"});
    return r.out.find("2         to nginx 2") != std::string::npos;
  })) << r.out << r.err;
  EXPECT_NE(r.out.find("REVISION  CHANGE-CAUSE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1         <none>"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2         to nginx 2"), std::string::npos) << r.out;
  r = kubectl({"rollout", "history", "deploy/web", "--revision=1"});
  EXPECT_NE(r.out.find("nginx:1"), std::string::npos) << r.out;

  r = kubectl({"rollout", "undo", "deploy/web"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rolled back"), std::string::npos) << r.out;
  r = kubectl({"rollout", "status", "deploy/web", "--timeout=30s"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(eventually([&] { return revision(get("web")) == "3"; }));
  for (const auto& p : pods("app=web")) EXPECT_EQ(p["spec"]["containers"][0]["image"], "nginx:1");
  // The ReplicaSet of revision 1 came back as revision 3 and remembers it was 1; no third ReplicaSet was made.
  auto rss = replica_sets("web");
  ASSERT_EQ(rss.size(), 2u);
  EXPECT_EQ(revision(rss[1]), "3");
  EXPECT_EQ(image(rss[1]), "nginx:1");
  EXPECT_EQ(rss[1]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "1");
  r = kubectl({"rollout", "history", "deploy/web"});
  EXPECT_EQ(r.out.find("\n1 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 "), std::string::npos) << r.out;
  // And undo to a named revision.
  r = kubectl({"rollout", "undo", "deploy/web", "--to-revision=2"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(eventually([&] { return complete("web") && revision(get("web")) == "4"; }, 20s));
  for (const auto& p : pods("app=web")) EXPECT_EQ(p["spec"]["containers"][0]["image"], "nginx:2");
}

TEST_F(DeploymentControllerTest, RevisionHistoryLimitDeletesTheOldestScaledDownReplicaSets) {
  start_kubelet();
  kubectl_ok({"apply", "-f", "-"}, deployment("hist", 1, "nginx:1", "", "  revisionHistoryLimit: 1\n"));
  ASSERT_TRUE(eventually([&] { return complete("hist"); }, 20s));
  for (int v = 2; v <= 4; ++v) {
    kubectl_ok({"set", "image", "deploy/hist", "c=nginx:" + std::to_string(v)});
    ASSERT_TRUE(eventually([&] { return complete("hist") && revision(get("hist")) == std::to_string(v); }, 20s));
  }
  ASSERT_TRUE(eventually([&] { return replica_sets("hist").size() == 2; }));
  auto rss = replica_sets("hist");
  EXPECT_EQ(revision(rss[0]), "3");
  EXPECT_EQ(revision(rss[1]), "4");
  EXPECT_EQ(image(rss[1]), "nginx:4");
}

TEST_F(DeploymentControllerTest, PausedDeploymentScalesButDoesNotRollOut) {
  start_kubelet();
  kubectl_ok({"apply", "-f", "-"}, deployment("pz", 2, "nginx:1"));
  ASSERT_TRUE(eventually([&] { return complete("pz"); }, 20s));
  kubectl_ok({"rollout", "pause", "deploy/pz"});
  kubectl_ok({"set", "image", "deploy/pz", "c=nginx:2"});
  ASSERT_TRUE(eventually([&] {
    json d = get("pz");
    return d["status"].value("observedGeneration", 0) == d["metadata"]["generation"].get<int>();
  }));
  EXPECT_EQ(reason("pz", "Progressing"), "DeploymentPaused/Unknown");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(replica_sets("pz").size(), 1u);
  kubectl_ok({"scale", "deploy/pz", "--replicas=3"});
  ASSERT_TRUE(eventually([&] { return count("app=pz") == 3; }));
  for (const auto& p : pods("app=pz")) EXPECT_EQ(p["spec"]["containers"][0]["image"], "nginx:1");

  kubectl_ok({"rollout", "resume", "deploy/pz"});
  auto r = kubectl({"rollout", "status", "deploy/pz", "--timeout=30s"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(eventually([&] { return count("app=pz") == 3; }));
  for (const auto& p : pods("app=pz")) EXPECT_EQ(p["spec"]["containers"][0]["image"], "nginx:2");
  EXPECT_TRUE(eventually([&] { return reason("pz", "Progressing") == "NewReplicaSetAvailable/True"; })) << reason("pz", "Progressing");
}

TEST_F(DeploymentControllerTest, ProgressDeadlineExceededWhenPodsNeverBecomeReady) {
  kubectl_ok({"apply", "-f", "-"}, deployment("slow", 2, "nginx:1", "", "  progressDeadlineSeconds: 2\n"));
  ASSERT_TRUE(eventually([&] { return count("app=slow") == 2; }));
  ASSERT_TRUE(eventually([&] { return reason("slow", "Progressing") == "ProgressDeadlineExceeded/False"; }, 10s))
      << get("slow")["status"].dump();
  json d = get("slow");
  EXPECT_EQ(condition(d, "Progressing")->value("message", ""),
            "ReplicaSet \"" + replica_sets("slow")[0]["metadata"]["name"].get<std::string>() +
                "\" has timed out progressing.");
  auto r = kubectl({"rollout", "status", "deploy/slow", "--timeout=10s"});
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("exceeded its progress deadline"), std::string::npos) << r.out << r.err;
  // Pods that finally start bring it back.
  run_all("app=slow");
  ASSERT_TRUE(eventually([&] { return reason("slow", "Progressing") == "NewReplicaSetAvailable/True"; }));
}

}  // namespace
