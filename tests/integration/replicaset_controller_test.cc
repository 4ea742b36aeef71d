// The ReplicaSet and ReplicationController controllers in kctl-controller-manager against a real apiserver, with
// the test in the kubelet's place: scaling (kubectl scale), kube's choice of pods to delete, adoption and release,
// replacement of deleted and terminal pods, expectations under a burst, status fields and events.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "workload_harness.h"

using namespace kctl::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string replica_set(const std::string& name, int replicas, const std::string& extra_spec = "",
                        const std::string& template_annotations = "") {
  return "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: " + name + "\nspec:\n  replicas: " +
         std::to_string(replicas) + "\n" + extra_spec + "  selector:\n    matchLabels:\n      app: " + name +
         "\n  template:\n    metadata:\n      labels:\n        app: " + name + "\n        tier: web\n" +
         template_annotations + "    spec:\n      containers:\n      - name: c\n        image: nginx\n";
}

class ReplicaSetControllerTest : public WorkloadTest {
 protected:
  json rs(const std::string& name) const { return res("replicasets").get(name); }
  int64_t status_of(const std::string& name, const char* field, const std::string& resource = "replicasets") const {
    return res(resource).get(name).value(json::json_pointer(std::string("/status/") + field), int64_t(0));
  }
};

TEST_F(ReplicaSetControllerTest, CreatesOwnedPodsAndScalesWithKubectlWithinASecond) {
  kubectl_ok({"apply", "-f", "-"}, replica_set("web", 3));
  ASSERT_TRUE(eventually([&] { return count("app=web") == 3; })) << count("app=web");
  json owner = rs("web");
  for (const auto& p : pods("app=web")) {
    EXPECT_EQ(p["metadata"]["generateName"], "web-");
    EXPECT_EQ(p["metadata"]["labels"]["tier"], "web");
    ASSERT_EQ(p["metadata"]["ownerReferences"].size(), 1u);
    const json& ref = p["metadata"]["ownerReferences"][0];
    EXPECT_EQ(ref["apiVersion"], "apps/v1");
    EXPECT_EQ(ref["kind"], "ReplicaSet");
    EXPECT_EQ(ref["name"], "web");
    EXPECT_EQ(ref["uid"], owner["metadata"]["uid"]);
    EXPECT_EQ(ref["controller"], true);
    EXPECT_EQ(ref["blockOwnerDeletion"], true);
  }
  ASSERT_TRUE(eventually([&] { return status_of("web", "replicas") == 3; }));

  auto scaled_within = [&](int n) {
    auto start = std::chrono::steady_clock::now();
    kubectl_ok({"scale", "rs", "web", "--replicas=" + std::to_string(n)});
    bool ok = eventually([&] { return count("app=web") == size_t(n); }, 5s);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(ok) << count("app=web");
    EXPECT_LT(took, 1s) << "scale to " << n << " took "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  };
  scaled_within(7);
  scaled_within(2);
  scaled_within(0);
  scaled_within(4);
  ASSERT_TRUE(eventually([&] { return status_of("web", "replicas") == 4; }));
  EXPECT_EQ(status_of("web", "observedGeneration"), rs("web")["metadata"]["generation"].get<int64_t>());
}

TEST_F(ReplicaSetControllerTest, StatusCountsReadyAvailableAndFullyLabeledPods) {
  // An orphan that matches the selector but lacks the template's tier label: adopted, not fully labeled.
  kubectl_ok({"run", "stray", "--image=nginx", "--labels=app=st"});
  kubectl_ok({"apply", "-f", "-"}, replica_set("st", 3, "  minReadySeconds: 2\n"));
  ASSERT_TRUE(eventually([&] { return count("app=st") == 3; }));
  ASSERT_TRUE(eventually([&] { return status_of("st", "replicas") == 3; }));
  EXPECT_EQ(status_of("st", "fullyLabeledReplicas"), 2);
  EXPECT_EQ(status_of("st", "readyReplicas"), 0);
  run_all("app=st");
  // Ready at once; available only minReadySeconds later, which no event announces: the controller looks again.
  ASSERT_TRUE(eventually([&] { return status_of("st", "readyReplicas") == 3; }));
  EXPECT_EQ(status_of("st", "availableReplicas"), 0);
  ASSERT_TRUE(eventually([&] { return status_of("st", "availableReplicas") == 3; }, 6s));
  json st = rs("st")["status"];
  EXPECT_EQ(st["observedGeneration"], rs("st")["metadata"]["generation"]);
  // Status written only when it changes: a quiet ReplicaSet keeps its resourceVersion.
  std::string rv = rs("st")["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(rs("st")["metadata"]["resourceVersion"], rv);
}

TEST_F(ReplicaSetControllerTest, ScaleDownPrefersUnscheduledThenPendingThenNotReadyThenNewest) {
  kubectl_ok({"apply", "-f", "-"}, replica_set("rank", 1));
  ASSERT_TRUE(eventually([&] { return count("app=rank") == 1; }));
  std::string oldest = pods("app=rank")[0]["metadata"]["name"];
  // Two seconds apart, so that the creation times fall in different logarithmic buckets.
  std::this_thread::sleep_for(2200ms);
  kubectl_ok({"scale", "rs", "rank", "--replicas=5"});
  ASSERT_TRUE(eventually([&] { return count("app=rank") == 5; }));
  std::vector<std::string> fresh;
  for (const auto& p : pods("app=rank"))
    if (p["metadata"]["name"] != oldest) fresh.push_back(p["metadata"]["name"]);
  ASSERT_EQ(fresh.size(), 4u);
  std::string ready_since = now_rfc3339(10s);
  std::string unscheduled = fresh[0];                                                         // never bound
  res("pods").bind(fresh[1], "node-1");                                                      // bound, Pending
  std::string pending = fresh[1];
  run_pod(res("pods").get(fresh[2]), false);                                                 // Running, not ready
  std::string not_ready = fresh[2];
  run_pod(res("pods").get(fresh[3]), true, "node-2", ready_since);                           // ready, newer
  std::string newest_ready = fresh[3];
  run_pod(res("pods").get(oldest), true, "node-3", ready_since);                             // ready, older
  std::this_thread::sleep_for(300ms);  // the informer sees the statuses

  auto remaining_after = [&](int n) {
    kubectl_ok({"scale", "rs", "rank", "--replicas=" + std::to_string(n)});
    EXPECT_TRUE(eventually([&] { return count("app=rank") == size_t(n); }));
    std::set<std::string> names;
    for (const auto& p : pods("app=rank")) names.insert(p["metadata"]["name"]);
    return names;
  };
  EXPECT_FALSE(remaining_after(4).count(unscheduled));
  EXPECT_FALSE(remaining_after(3).count(pending));
  EXPECT_FALSE(remaining_after(2).count(not_ready));
  EXPECT_EQ(remaining_after(1), std::set<std::string>{oldest});
  auto deleted = events("rank", "SuccessfulDelete");
  EXPECT_TRUE(std::count(deleted.begin(), deleted.end(), "Deleted pod: " + unscheduled)) << deleted.size();
}

TEST_F(ReplicaSetControllerTest, AdoptsMatchingOrphansAndReleasesPodsThatStopMatching) {
  kubectl_ok({"run", "orphan", "--image=nginx", "--labels=app=ad,tier=web"});
  kubectl_ok({"apply", "-f", "-"}, replica_set("ad", 2));
  ASSERT_TRUE(eventually([&] {
    json ref = res("pods").get("orphan").value("/metadata/ownerReferences"_json_pointer, json::array());
    return ref.size() == 1 && ref[0]["name"] == "ad" && ref[0]["controller"] == true;
  }));
  ASSERT_TRUE(eventually([&] { return count("app=ad") == 2; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(count("app=ad"), 2u) << "one pod created besides the adopted one";
  EXPECT_EQ(events("ad", "SuccessfulCreate").size(), 1u);

  // Relabelled out of the selector: released (no controller reference left) and replaced.
  kubectl_ok({"label", "pod", "orphan", "app=gone", "--overwrite"});
  ASSERT_TRUE(eventually([&] {
    return res("pods").get("orphan").value("/metadata/ownerReferences"_json_pointer, json::array()).empty();
  }));
  ASSERT_TRUE(eventually([&] { return count("app=ad") == 2; }));
  EXPECT_EQ(count("app=gone"), 1u);
}

TEST_F(ReplicaSetControllerTest, ReplacesDeletedAndTerminalPods) {
  kubectl_ok({"apply", "-f", "-"}, replica_set("rep", 3));
  ASSERT_TRUE(eventually([&] { return count("app=rep") == 3; }));
  auto before = pods("app=rep");
  std::string victim = before[0]["metadata"]["name"];
  kubectl_ok({"delete", "pod", victim, "--wait=false"});
  ASSERT_TRUE(eventually([&] {
    auto now = pods("app=rep");
    return now.size() == 3 && std::none_of(now.begin(), now.end(), [&](const json& p) {
             return p["metadata"]["name"] == victim;
           });
  }));
  // Succeeded and Failed pods no longer count: each gets a replacement, and stays (the controller never deletes it).
  std::string done = before[1]["metadata"]["name"], failed = before[2]["metadata"]["name"];
  run_pod(res("pods").get(done));
  set_pod_status(done, "Succeeded", false);
  run_pod(res("pods").get(failed));
  set_pod_status(failed, "Failed", false);
  ASSERT_TRUE(eventually([&] { return count("app=rep") == 3; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count("app=rep"), 3u);
  EXPECT_EQ(res("pods").get(done)["status"]["phase"], "Succeeded");
  EXPECT_EQ(res("pods").get(failed)["status"]["phase"], "Failed");
  EXPECT_EQ(status_of("rep", "replicas"), 3);
}

TEST_F(ReplicaSetControllerTest, ExpectationsPreventDoubleCreationUnderABurst) {
  // 200 pods while the ReplicaSet is changed over and over: every change is a sync, most of them before the
  // informer has seen the pods already created. Without expectations they would be created again.
  kubectl_ok({"apply", "-f", "-"}, replica_set("burst", 200));
  std::atomic<bool> done{false};
  std::thread poke([&] {
    for (int i = 0; !done && i < 40; ++i)
      kubectl({"annotate", "rs", "burst", "poke=" + std::to_string(i), "--overwrite"});
  });
  size_t most = 0;
  bool reached = eventually([&] {
    size_t n = count("app=burst");
    most = std::max(most, n);
    return n == 200;
  }, 60s);
  done = true;
  poke.join();
  ASSERT_TRUE(reached) << count("app=burst");
  std::this_thread::sleep_for(1s);
  EXPECT_LE(most, 200u);
  EXPECT_EQ(count("app=burst"), 200u);
  EXPECT_EQ(res("pods").list().items.size(), 200u) << "pods created and deleted again";
  EXPECT_TRUE(events("burst", "SuccessfulDelete").empty());
}

TEST_F(ReplicaSetControllerTest, RecordsEventsAndReplicaFailure) {
  kubectl_ok({"apply", "-f", "-"}, replica_set("ev", 2));
  ASSERT_TRUE(eventually([&] { return events("ev", "SuccessfulCreate").size() == 2; }));
  for (const auto& m : events("ev", "SuccessfulCreate")) EXPECT_EQ(m.rfind("Created pod: ev-", 0), 0u) << m;
  auto e = res("events").list().items;
  auto it = std::find_if(e.begin(), e.end(), [](const json& x) { return x.value("reason", "") == "SuccessfulCreate"; });
  ASSERT_NE(it, e.end());
  EXPECT_EQ((*it)["source"]["component"], "replicaset-controller");
  EXPECT_EQ((*it)["involvedObject"]["kind"], "ReplicaSet");
  kubectl_ok({"scale", "rs", "ev", "--replicas=1"});
  ASSERT_TRUE(eventually([&] { return events("ev", "SuccessfulDelete").size() == 1; }));
  EXPECT_EQ(events("ev", "SuccessfulDelete")[0].rfind("Deleted pod: ev-", 0), 0u);

  // Pods the apiserver refuses (kctl's apiserver validates a pod's annotations, not yet a template's): FailedCreate
  // events and the ReplicaFailure condition, which goes once the template is fixed.
  kubectl_ok({"apply", "-f", "-"},
             replica_set("bad", 2, "", "      annotations:\n        \"bad key!\": x\n"));
  ASSERT_TRUE(eventually([&] { return !events("bad", "FailedCreate").empty(); }));
  EXPECT_EQ(events("bad", "FailedCreate")[0].rfind("Error creating: ", 0), 0u) << events("bad", "FailedCreate")[0];
  ASSERT_TRUE(eventually([&] {
    for (const auto& c : rs("bad").value("/status/conditions"_json_pointer, json::array()))
      if (c["type"] == "ReplicaFailure" && c["status"] == "True" && c["reason"] == "FailedCreate") return true;
    return false;
  }));
  kubectl_ok({"apply", "-f", "-"}, replica_set("bad", 2));
  ASSERT_TRUE(eventually([&] { return count("app=bad") == 2; }, 15s));
  ASSERT_TRUE(eventually([&] { return !rs("bad")["status"].contains("conditions"); }));
}

TEST_F(ReplicaSetControllerTest, ReplicationControllerIsServedByTheSameController) {
  kubectl_ok({"apply", "-f", "-"},
             "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: legacy\nspec:\n  replicas: 2\n"
             "  selector:\n    app: legacy\n  template:\n    metadata:\n      labels:\n        app: legacy\n"
             "    spec:\n      containers:\n      - name: c\n        image: nginx\n");
  ASSERT_TRUE(eventually([&] { return count("app=legacy") == 2; }));
  for (const auto& p : pods("app=legacy")) {
    EXPECT_EQ(p["metadata"]["ownerReferences"][0]["kind"], "ReplicationController");
    EXPECT_EQ(p["metadata"]["ownerReferences"][0]["apiVersion"], "v1");
  }
  auto start = std::chrono::steady_clock::now();
  kubectl_ok({"scale", "rc", "legacy", "--replicas=4"});
  ASSERT_TRUE(eventually([&] { return count("app=legacy") == 4; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  run_all("app=legacy");
  ASSERT_TRUE(eventually([&] {
    json st = res("rc").get("legacy")["status"];
    return st.value("readyReplicas", 0) == 4 && st.value("availableReplicas", 0) == 4 &&
           st.value("fullyLabeledReplicas", 0) == 4;
  }));
  auto e = res("events").list().items;
  auto it = std::find_if(e.begin(), e.end(), [](const json& x) {
    return x.value("/involvedObject/name"_json_pointer, std::string()) == "legacy";
  });
  ASSERT_NE(it, e.end());
  EXPECT_EQ((*it)["source"]["component"], "replication-controller");
  kubectl_ok({"scale", "rc", "legacy", "--replicas=1"});
  ASSERT_TRUE(eventually([&] { return count("app=legacy") == 1; }));
}

}  // namespace
