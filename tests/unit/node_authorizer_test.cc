// The node authorizer and NodeRestriction: what a kubelet's user may read and write, decided from pods, nodes and
// leases written through ObjectService into a real SqliteStore; CertificateSigningRequest writes.
#include "daemons/apiserver/node_authorizer.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "object_service_fixture.h"

#include "daemons/apiserver/access.h"
#include "daemons/apiserver/node_restriction.h"
#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/sqlite_store.h"

using namespace kctl::apiserver;
using kctl::api::Registry;
using kctl::api::StatusError;
using nlohmann::json;

namespace {

UserInfo node_user(const std::string& name) {
  return {"system:node:" + name, "", {"system:nodes", kSystemAuthenticated}, {}};
}

RequestAttributes req(const UserInfo& u, std::string verb, std::string group, std::string res, std::string ns,
                      std::string name = "", std::string sub = "") {
  RequestAttributes a;
  a.user = u;
  a.verb = std::move(verb);
  a.resource_request = true;
  a.api_group = std::move(group);
  a.api_version = "v1";
  a.resource = std::move(res);
  a.ns = std::move(ns);
  a.name = std::move(name);
  a.subresource = std::move(sub);
  return a;
}

json pod(const std::string& name, const std::string& node) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec",
             {{"containers",
               {{{"name", "c"},
                 {"image", "busybox"},
                 {"env", {{{"name", "A"}, {"valueFrom", {{"configMapKeyRef", {{"name", name + "-env"}, {"key", "k"}}}}}}}}}}},
              {"volumes", {{{"name", "s"}, {"secret", {{"secretName", name + "-secret"}}}}}}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

class NodeAuthorizerTest : public kctl::test::ObjectServiceTest {
 protected:
  void SetUp() override {
    ObjectServiceTest::SetUp();
    objects_->create(kind("Pod"), "default", pod("mine", "w1"), {});
    objects_->create(kind("Pod"), "default", pod("theirs", "w2"), {});
    authz_ = std::make_unique<NodeAuthorizer>(*objects_);
  }
  void TearDown() override {
    authz_.reset();
    ObjectServiceTest::TearDown();
  }
  static const kctl::api::KindInfo& kind(const std::string& k, const std::string& group = "") {
    return *Registry::builtin().by_kind(group, k);
  }
  Decision::Kind decide(const RequestAttributes& a) { return authz_->authorize(a).kind; }

  std::unique_ptr<NodeAuthorizer> authz_;
};

constexpr auto Allow = Decision::Kind::Allow;
constexpr auto Deny = Decision::Kind::Deny;
constexpr auto NoOpinion = Decision::Kind::NoOpinion;

}  // namespace

TEST_F(NodeAuthorizerTest, NoOpinionOnOthers) {
  UserInfo bob{"bob", "", {kSystemAuthenticated}, {}};
  EXPECT_EQ(decide(req(bob, "get", "", "secrets", "default", "mine-secret")), NoOpinion);
  UserInfo not_in_group{"system:node:w1", "", {kSystemAuthenticated}, {}};
  EXPECT_EQ(decide(req(not_in_group, "get", "", "nodes", "", "w1")), NoOpinion);
  EXPECT_EQ(decide(req(node_user(""), "get", "", "nodes", "", "w1")), Deny);
}

TEST_F(NodeAuthorizerTest, ReadsOnlyWhatItsPodsReference) {
  auto w1 = node_user("w1");
  EXPECT_EQ(decide(req(w1, "get", "", "secrets", "default", "mine-secret")), Allow);
  EXPECT_EQ(decide(req(w1, "get", "", "configmaps", "default", "mine-env")), Allow);
  EXPECT_EQ(decide(req(w1, "get", "", "secrets", "default", "theirs-secret")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "get", "", "secrets", "kube-system", "mine-secret")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "list", "", "secrets", "default")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "update", "", "secrets", "default", "mine-secret")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "create", "", "serviceaccounts", "default", "default", "token")), Allow);
  EXPECT_EQ(decide(req(node_user("w3"), "create", "", "serviceaccounts", "default", "default", "token")), NoOpinion);
}

TEST_F(NodeAuthorizerTest, WritesOnlyItsOwnPodsAndNode) {
  auto w1 = node_user("w1");
  EXPECT_EQ(decide(req(w1, "list", "", "pods", "")), Allow);
  EXPECT_EQ(decide(req(w1, "get", "", "pods", "default", "theirs")), Allow);
  EXPECT_EQ(decide(req(w1, "update", "", "pods", "default", "mine", "status")), Allow);
  EXPECT_EQ(decide(req(w1, "patch", "", "pods", "default", "mine", "status")), Allow);
  EXPECT_EQ(decide(req(w1, "delete", "", "pods", "default", "mine")), Allow);
  EXPECT_EQ(decide(req(w1, "update", "", "pods", "default", "theirs", "status")), Deny);
  EXPECT_EQ(decide(req(w1, "delete", "", "pods", "default", "theirs")), Deny);
  EXPECT_EQ(decide(req(w1, "get", "", "nodes", "", "w2")), Allow);
  EXPECT_EQ(decide(req(w1, "create", "", "nodes", "")), Allow);
  EXPECT_EQ(decide(req(w1, "update", "", "nodes", "", "w1")), Allow);
  EXPECT_EQ(decide(req(w1, "patch", "", "nodes", "", "w1", "status")), Allow);
  EXPECT_EQ(decide(req(w1, "patch", "", "nodes", "", "w2", "status")), Deny);
  EXPECT_EQ(decide(req(w1, "update", "", "nodes", "", "w2")), Deny);
  EXPECT_EQ(decide(req(w1, "delete", "", "nodes", "", "w1")), Deny);
}

TEST_F(NodeAuthorizerTest, LeasesAndTheSystemNodeRules) {
  auto w1 = node_user("w1");
  EXPECT_EQ(decide(req(w1, "update", "coordination.k8s.io", "leases", "kube-node-lease", "w1")), Allow);
  EXPECT_EQ(decide(req(w1, "create", "coordination.k8s.io", "leases", "kube-node-lease")), Allow);
  EXPECT_EQ(decide(req(w1, "update", "coordination.k8s.io", "leases", "kube-node-lease", "w2")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "get", "coordination.k8s.io", "leases", "kube-system", "w1")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "create", "", "events", "default")), Allow);
  EXPECT_EQ(decide(req(w1, "watch", "", "services", "")), Allow);
  EXPECT_EQ(decide(req(w1, "create", "certificates.k8s.io", "certificatesigningrequests", "")), Allow);
  EXPECT_EQ(decide(req(w1, "create", "", "namespaces", "")), NoOpinion);
  EXPECT_EQ(decide(req(w1, "get", "apps", "deployments", "default", "x")), NoOpinion);
}

TEST_F(NodeAuthorizerTest, NodeRestrictionAdmission) {
  auto w1 = node_user("w1");
  RequestUserScope scope(w1);
  json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "w2"}}}};
  EXPECT_THROW(objects_->create(kind("Node"), "", node, {}), StatusError);
  node["metadata"]["name"] = "w1";
  node["metadata"]["labels"] = {{"node-restriction.kubernetes.io/pool", "gpu"}};
  try {
    objects_->create(kind("Node"), "", node, {});
    ADD_FAILURE() << "created a restricted label";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 403);
    EXPECT_NE(e.status().message.find("is not allowed to modify labels: node-restriction.kubernetes.io/pool"),
              std::string::npos)
        << e.status().message;
  }
  node["metadata"]["labels"] = {{"kubernetes.io/hostname", "w1"}};
  EXPECT_NO_THROW(objects_->create(kind("Node"), "", node, {}));
  json status = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "mine"}}}, {"status", {{"phase", "Running"}}}};
  EXPECT_NO_THROW(objects_->update(kind("Pod"), "default", "mine", "status", status, {}));
  status["metadata"]["name"] = "theirs";
  EXPECT_THROW(objects_->update(kind("Pod"), "default", "theirs", "status", status, {}), StatusError);
}
