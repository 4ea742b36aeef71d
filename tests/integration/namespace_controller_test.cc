// The namespace controller against a real apiserver: `kubectl delete ns` empties the namespace of every kind, pods
// first, reports what holds it in status.conditions, and the namespace goes once it is empty.
#include <gtest/gtest.h>

#include "controller_manager_fixture.h"

namespace kctl::test {
namespace {

using nlohmann::json;

class NamespaceControllerTest : public ControllerTest {
 protected:
  NamespaceControllerTest() : ControllerTest("namespace,garbagecollector,endpoint") {}

  void make_namespace(const std::string& name) { client_->resource("namespaces").create({{"metadata", {{"name", name}}}}); }
  json pod(const std::string& name, const std::string& node = "") {
    json p = {{"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
              {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
    if (!node.empty()) p["spec"]["nodeName"] = node;
    return p;
  }
  json ns_or_null(const std::string& name) {
    try {
      return client_->resource("namespaces").get(name);
    } catch (const api::StatusError& e) {
      if (e.status().code == 404) return nullptr;
      throw;
    }
  }
  static json condition(const json& ns, const std::string& type) {
    for (const auto& c : ns.value("/status/conditions"_json_pointer, json::array()))
      if (c.value("type", "") == type) return c;
    return nullptr;
  }
  // Every kind of the registry that lives in namespaces, with how many objects of it `ns` holds.
  std::map<std::string, size_t> contents(const std::string& ns) {
    std::map<std::string, size_t> out;
    for (const auto& k : client_->registry().kinds())
      if (k.namespaced && k.can("list")) {
        size_t n = client_->resource(k, ns).list().items.size();
        if (n) out[k.qualified_plural()] = n;
      }
    return out;
  }
};

TEST_F(NamespaceControllerTest, DeletingANamespaceDeletesEverythingInIt) {
  make_namespace("team");
  resource("configmaps", "team").create({{"metadata", {{"name", "settings"}}}, {"data", {{"a", "b"}}}});
  resource("secrets", "team").create({{"metadata", {{"name", "token"}}}, {"stringData", {{"t", "x"}}}});
  resource("serviceaccounts", "team").create({{"metadata", {{"name", "robot"}}}});
  resource("pods", "team").create(pod("web-1"));
  resource("pods", "team").create(pod("web-2"));
  resource("services", "team")
      .create({{"metadata", {{"name", "web"}}},
               {"spec", {{"selector", {{"app", "web"}}}, {"ports", json::array({{{"port", 80}}})}}}});
  resource("leases", "team").create({{"metadata", {{"name", "lock"}}}, {"spec", {{"holderIdentity", "me"}}}});
  resource("events", "team")
      .create({{"metadata", {{"name", "e1"}}},
               {"involvedObject", {{"kind", "Pod"}, {"name", "web-1"}, {"namespace", "team"}}},
               {"reason", "Test"},
               {"message", "m"}});
  // The endpoints controller has written the Service's Endpoints: content of yet another kind.
  ASSERT_TRUE(eventually([&] { return !get_or_null("endpoints", "web", "team").is_null(); }));
  EXPECT_GE(contents("team").size(), 8u);

  auto t0 = std::chrono::steady_clock::now();
  auto r = (*kubectl_)({"delete", "namespace", "team"}, "", 60);  // kubectl waits until it is gone
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("namespace \"team\" deleted"), std::string::npos) << r.out;
  std::cout << "kubectl delete namespace returned after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  r = (*kubectl_)({"get", "namespace", "team"});
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("Error from server (NotFound): namespaces \"team\" not found"), std::string::npos) << r.err;
  EXPECT_TRUE(contents("team").empty());
  // Other namespaces are untouched.
  EXPECT_FALSE(ns_or_null("default").is_null());
}

TEST_F(NamespaceControllerTest, StoppingPodsHoldTheRestAndTheConditionsSaySo) {
  make_namespace("team");
  resource("configmaps", "team").create({{"metadata", {{"name", "settings"}}}});
  resource("pods", "team").create(pod("slow", "node1"));  // bound: its kubelet (the test) must confirm
  auto r = (*kubectl_)({"delete", "namespace", "team", "--wait=false"});
  ASSERT_EQ(r.rc, 0) << r.err;

  json ns;
  ASSERT_TRUE(eventually([&] {
    ns = ns_or_null("team");
    json c = condition(ns, "NamespaceContentRemaining");
    return !c.is_null() && c["status"] == "True";
  })) << ns.dump(2);
  EXPECT_EQ(ns["status"]["phase"], "Terminating");
  EXPECT_EQ(condition(ns, "NamespaceContentRemaining")["reason"], "SomeResourcesRemain");
  EXPECT_EQ(condition(ns, "NamespaceContentRemaining")["message"], "Some resources are remaining: pods. has 1 resource instances");
  EXPECT_EQ(condition(ns, "NamespaceDeletionContentFailure")["status"], "False");
  EXPECT_EQ(condition(ns, "NamespaceDeletionContentFailure")["reason"], "ContentDeleted");
  EXPECT_EQ(condition(ns, "NamespaceFinalizersRemaining")["status"], "False");
  EXPECT_EQ(condition(ns, "NamespaceDeletionDiscoveryFailure")["reason"], "ResourcesDiscovered");
  EXPECT_EQ(ns["spec"]["finalizers"], json::array({"kubernetes"}));
  // Pods go first: what they may use stays until they have stopped.
  EXPECT_FALSE(get_or_null("configmaps", "settings", "team").is_null());
  EXPECT_TRUE(get_or_null("pods", "slow", "team")["metadata"].contains("deletionTimestamp"));

  r = (*kubectl_)({"describe", "namespace", "team"});
  EXPECT_NE(r.out.find("Terminating"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NamespaceContentRemaining"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SomeResourcesRemain"), std::string::npos) << r.out;

  // The kubelet confirms the pod stopped: the rest goes, then the namespace, woken by the pod's deletion rather
  // than the 16 s kube's estimate (30 s grace / 2 + 1) would have it wait.
  auto t0 = std::chrono::steady_clock::now();
  resource("pods", "team").remove("slow", {{"gracePeriodSeconds", 0}});
  EXPECT_TRUE(eventually([&] { return ns_or_null("team").is_null(); }, std::chrono::seconds(5)));
  std::cout << "namespace gone "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms after its last pod\n";
  EXPECT_TRUE(contents("team").empty());
}

TEST_F(NamespaceControllerTest, ContentWithFinalizersIsWaitedFor) {
  make_namespace("team");
  resource("configmaps", "team")
      .create({{"metadata", {{"name", "held"}, {"finalizers", json::array({"example.com/hold"})}}}});
  resource("secrets", "team").create({{"metadata", {{"name", "s"}}}});
  auto r = (*kubectl_)({"delete", "namespace", "team", "--wait=false"});
  ASSERT_EQ(r.rc, 0) << r.err;
  json ns;
  ASSERT_TRUE(eventually([&] {
    ns = ns_or_null("team");
    json c = condition(ns, "NamespaceFinalizersRemaining");
    return !c.is_null() && c["status"] == "True";
  })) << ns.dump(2);
  EXPECT_EQ(condition(ns, "NamespaceFinalizersRemaining")["reason"], "SomeFinalizersRemain");
  EXPECT_EQ(condition(ns, "NamespaceFinalizersRemaining")["message"],
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
  EXPECT_EQ(condition(ns, "NamespaceContentRemaining")["message"],
            "Some resources are remaining: configmaps. has 1 resource instances");
  EXPECT_TRUE(get_or_null("secrets", "s", "team").is_null());
  // New content is refused meanwhile.
  r = (*kubectl_)({"create", "configmap", "late", "-n", "team"});
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("because it is being terminated"), std::string::npos) << r.err;

  // Whoever owns the finalizer finishes: the namespace goes.
  resource("configmaps", "team").patch("held", api::PatchType::Merge, {{"metadata", {{"finalizers", nullptr}}}});
  EXPECT_TRUE(eventually([&] { return ns_or_null("team").is_null(); }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace kctl::test
