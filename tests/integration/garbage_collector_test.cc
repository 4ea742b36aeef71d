// The garbage collector against a real apiserver, driven by kubectl 1.33's --cascade values: dependents of a
// deleted owner go (background), lose their reference (orphan), or hold the owner until they are gone (foreground).
// The test writes the ownerReferences itself; no ReplicationController controller runs.
#include <thread>

#include <gtest/gtest.h>

#include "controller_manager_fixture.h"

namespace kctl::test {
namespace {

using nlohmann::json;

class GarbageCollectorTest : public ControllerTest {
 protected:
  GarbageCollectorTest() : ControllerTest("garbagecollector") {}

  json make_rc(const std::string& name) {
    json rc = {{"apiVersion", "v1"},
               {"kind", "ReplicationController"},
               {"metadata", {{"name", name}}},
               {"spec",
                {{"replicas", 0},
                 {"selector", {{"app", name}}},
                 {"template",
                  {{"metadata", {{"labels", {{"app", name}}}}},
                   {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
    return resource("replicationcontrollers").create(rc);
  }
  static json ref_to(const json& owner, bool controller = true, bool block = true) {
    return {{"apiVersion", owner["apiVersion"]}, {"kind", owner["kind"]},     {"name", owner["metadata"]["name"]},
            {"uid", owner["metadata"]["uid"]},   {"controller", controller}, {"blockOwnerDeletion", block}};
  }
  json make_pod(const std::string& name, json refs, const std::string& node = "") {
    json pod = {{"metadata", {{"name", name}, {"ownerReferences", refs}}},
                {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
    if (!node.empty()) pod["spec"]["nodeName"] = node;
    return resource("pods").create(pod);
  }
  json make_configmap(const std::string& name, json refs = json::array()) {
    json cm = {{"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}};
    if (!refs.empty()) cm["metadata"]["ownerReferences"] = refs;
    return resource("configmaps").create(cm);
  }
  bool gone(const std::string& res, const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return eventually([&] { return get_or_null(res, name).is_null(); }, timeout);
  }
};

TEST_F(GarbageCollectorTest, BackgroundDeletionTakesTheDependentsAlong) {
  json rc = make_rc("web");
  json keeper = make_configmap("keeper");
  make_pod("web-1", json::array({ref_to(rc)}));
  make_pod("web-2", json::array({ref_to(rc)}));
  make_configmap("web-config", json::array({ref_to(rc, false, false)}));
  // Two owners: it stays with the one left, its reference to the gone one dropped.
  make_pod("shared", json::array({ref_to(rc, false), ref_to(keeper, false)}));

  auto t0 = std::chrono::steady_clock::now();
  auto r = (*kubectl_)({"delete", "rc", "web"});  // background, kubectl's default
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("replicationcontroller \"web\" deleted"), std::string::npos) << r.out;
  EXPECT_TRUE(get_or_null("replicationcontrollers", "web").is_null());  // the owner goes at once
  EXPECT_TRUE(gone("pods", "web-1"));
  EXPECT_TRUE(gone("pods", "web-2"));
  EXPECT_TRUE(gone("configmaps", "web-config"));
  std::cout << "dependents collected in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms\n";
  json shared;
  EXPECT_TRUE(eventually([&] {
    shared = get_or_null("pods", "shared");
    return !shared.is_null() && shared["metadata"]["ownerReferences"].size() == 1;
  })) << shared.dump();
  EXPECT_EQ(shared["metadata"]["ownerReferences"][0]["name"], "keeper");

  r = (*kubectl_)({"get", "pods", "-o", "name"});
  EXPECT_EQ(r.out, "pod/shared\n");
}

TEST_F(GarbageCollectorTest, OrphanCascadeLeavesDependentsWithoutTheirOwner) {
  json rc = make_rc("web");
  make_pod("web-1", json::array({ref_to(rc)}));
  make_pod("web-2", json::array({ref_to(rc)}));
  auto r = (*kubectl_)({"delete", "rc", "web", "--cascade=orphan"});
  ASSERT_EQ(r.rc, 0) << r.err;  // kubectl waits for the owner to be gone: the orphan finalizer was removed
  EXPECT_TRUE(gone("replicationcontrollers", "web"));
  for (const char* p : {"web-1", "web-2"}) {
    json pod = get_or_null("pods", p);
    ASSERT_FALSE(pod.is_null()) << p;
    EXPECT_FALSE(pod["metadata"].contains("ownerReferences")) << pod.dump();
  }
  r = (*kubectl_)({"get", "pods", "web-1", "-o", "jsonpath={.metadata.ownerReferences}"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(GarbageCollectorTest, ForegroundCascadeWaitsForBlockingDependents) {
  json rc = make_rc("web");
  make_pod("quick", json::array({ref_to(rc)}));
  make_configmap("loose", json::array({ref_to(rc, false, false)}));
  // Bound to a node: deleting it waits for its (absent) kubelet, which the test plays below.
  make_pod("slow", json::array({ref_to(rc)}), "node1");

  auto r = (*kubectl_)({"delete", "rc", "web", "--cascade=foreground", "--wait=false"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(gone("pods", "quick"));
  EXPECT_TRUE(gone("configmaps", "loose"));  // not blocking, but deleted all the same
  json slow;
  ASSERT_TRUE(eventually([&] {
    slow = get_or_null("pods", "slow");
    return !slow.is_null() && slow["metadata"].contains("deletionTimestamp");
  }));
  // The owner waits for the pod still terminating.
  json owner = get_or_null("replicationcontrollers", "web");
  ASSERT_FALSE(owner.is_null());
  EXPECT_TRUE(owner["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(owner["metadata"]["finalizers"], json::array({"foregroundDeletion"}));
  r = (*kubectl_)({"get", "rc", "web", "-o", "jsonpath={.metadata.finalizers}"});
  EXPECT_EQ(r.out, "[\"foregroundDeletion\"]");

  // The kubelet confirms the pod stopped: the owner goes.
  resource("pods").remove("slow", {{"gracePeriodSeconds", 0}});
  EXPECT_TRUE(gone("replicationcontrollers", "web"));

  // With kubectl waiting, as a user types it.
  rc = make_rc("api");
  make_pod("api-1", json::array({ref_to(rc)}));
  r = (*kubectl_)({"delete", "rc", "api", "--cascade=foreground"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(get_or_null("replicationcontrollers", "api").is_null());
  EXPECT_TRUE(get_or_null("pods", "api-1").is_null());
}

TEST_F(GarbageCollectorTest, ForegroundReachesDownAChainOfOwners) {
  json a = make_configmap("a");
  json b = make_configmap("b", json::array({ref_to(a)}));
  make_configmap("c", json::array({ref_to(b)}));
  auto r = (*kubectl_)({"delete", "configmap", "a", "--cascade=foreground"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(gone("configmaps", "c"));
  EXPECT_TRUE(gone("configmaps", "b"));
  EXPECT_TRUE(gone("configmaps", "a"));
}

TEST_F(GarbageCollectorTest, DependentsOfOwnersThatNeverExistedOrAreClusterScoped) {
  // An owner uid nobody has: collected (what is left after an owner went while no collector ran).
  json ghost = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "ghost"},
                {"uid", "00000000-0000-4000-8000-000000000001"}};
  make_configmap("orphaned", json::array({ghost}));
  EXPECT_TRUE(gone("configmaps", "orphaned"));

  // A cluster-scoped owner (a Node) of a namespaced dependent.
  json node = client_->resource("nodes").create({{"metadata", {{"name", "n1"}}}});
  make_pod("on-n1", json::array({ref_to(node, false, false)}));
  make_configmap("same-name-other-owner", json::array({ref_to(node, false, false)}));
  // The collector has seen them with a live owner: they stay.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(get_or_null("pods", "on-n1").is_null());
  auto r = (*kubectl_)({"delete", "node", "n1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(gone("pods", "on-n1"));
  EXPECT_TRUE(gone("configmaps", "same-name-other-owner"));
}

TEST_F(GarbageCollectorTest, AnOwnerRecreatedUnderTheSameNameIsAnotherOwner) {
  json old_cm = make_configmap("owner");
  resource("configmaps").remove("owner");
  make_configmap("owner");  // same name, new uid
  make_configmap("dependent", json::array({ref_to(old_cm)}));
  EXPECT_TRUE(gone("configmaps", "dependent"));
  EXPECT_FALSE(get_or_null("configmaps", "owner").is_null());
}

}  // namespace
}  // namespace kctl::test
