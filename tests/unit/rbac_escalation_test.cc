// RBAC escalation prevention: kube's message for what a writer does not hold (CompactRules, CompactString), and the
// check on every Role, ClusterRole, RoleBinding and ClusterRoleBinding write through ObjectService by a request's
// user, with the `escalate` and `bind` verbs, the superusers and the aggregationRule as kube-apiserver has them.
#include "daemons/apiserver/rbac_escalation.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "object_service_fixture.h"

#include "api/status.h"
#include "daemons/apiserver/access.h"
#include "daemons/apiserver/rbac_bootstrap.h"
#include "daemons/apiserver/sqlite_store.h"

using namespace kctl::apiserver;
using kctl::api::Registry;
using kctl::api::StatusError;
using nlohmann::json;

namespace {

constexpr auto kCatchUp = std::chrono::seconds(5);
const char* const kGroup = "rbac.authorization.k8s.io";

UserInfo dana() { return {"dana", "", {"devs", kSystemAuthenticated}, {}}; }

json rule(std::vector<std::string> verbs, std::vector<std::string> groups, std::vector<std::string> resources,
          std::vector<std::string> names = {}) {
  json r = {{"verbs", verbs}, {"apiGroups", groups}, {"resources", resources}};
  if (!names.empty()) r["resourceNames"] = names;
  return r;
}

PolicyRule policy(std::vector<std::string> verbs, std::vector<std::string> groups, std::vector<std::string> resources,
                  std::vector<std::string> names = {}) {
  return PolicyRule::from_json(rule(std::move(verbs), std::move(groups), std::move(resources), std::move(names)));
}

json role(const std::string& ns, const std::string& name, json rules) {
  json m = {{"name", name}};
  if (!ns.empty()) m["namespace"] = ns;
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", ns.empty() ? "ClusterRole" : "Role"},
          {"metadata", m},
          {"rules", rules}};
}

json binding(const std::string& ns, const std::string& name, const std::string& role_kind, const std::string& role_name,
             const std::string& user = "dana") {
  json m = {{"name", name}};
  if (!ns.empty()) m["namespace"] = ns;
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", ns.empty() ? "ClusterRoleBinding" : "RoleBinding"},
          {"metadata", m},
          {"roleRef", {{"apiGroup", kGroup}, {"kind", role_kind}, {"name", role_name}}},
          {"subjects", {{{"kind", "User"}, {"apiGroup", kGroup}, {"name", user}}}}};
}

// What kube prints before the missing rules.
std::string attempting(const std::string& resource, const std::string& name) {
  return resource + ".rbac.authorization.k8s.io \"" + name + "\" is forbidden: user \"dana\" (groups=[\"devs\" "
         "\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n";
}

class RbacEscalationTest : public kctl::test::ObjectServiceTest {
 protected:
  void SetUp() override {
    ObjectServiceTest::SetUp();
    create_namespaces({"team", "other"});
    ensure_bootstrap_rbac(*objects_);
    rbac_ = std::make_shared<RbacAuthorizer>(*store_, Registry::builtin());
    chain_.add(rbac_);
    check_ = std::make_unique<RbacEscalationCheck>(*rbac_, chain_, *store_);
    objects_->set_rbac_escalation_check(check_.get());
    // dana edits in team (the `edit` ClusterRole: secrets, but no `*` on them, and no RBAC writes of its own).
    admin(binding("team", "dana-edit", "ClusterRole", "edit"));
  }
  void TearDown() override {
    objects_->set_rbac_escalation_check(nullptr);
    check_.reset();
    chain_ = AuthorizerChain();
    rbac_.reset();
    ObjectServiceTest::TearDown();
  }

  static const kctl::api::KindInfo& rbac(const std::string& k) { return *Registry::builtin().by_kind(kGroup, k); }
  static std::string ns_of(const json& obj) { return obj["metadata"].value("namespace", ""); }

  // A write without a request user (the apiserver's own, or D-Bus): never checked.
  void admin(const json& obj) {
    objects_->create(rbac(obj["kind"]), ns_of(obj), obj, {});
    ASSERT_TRUE(rbac_->wait_for_revision(store_->current_revision(), kCatchUp));
  }
  // `obj` created by `user`: "" when it was, otherwise "CODE MESSAGE".
  std::string create_as(const UserInfo& user, const json& obj) {
    RequestUserScope as(user);
    try {
      objects_->create(rbac(obj["kind"]), ns_of(obj), obj, {});
    } catch (const StatusError& e) {
      return std::to_string(e.status().code) + " " + e.status().message;
    }
    return "";
  }
  std::string update_as(const UserInfo& user, const json& obj) {
    RequestUserScope as(user);
    try {
      objects_->update(rbac(obj["kind"]), ns_of(obj), obj["metadata"]["name"], "", obj, {});
    } catch (const StatusError& e) {
      return std::to_string(e.status().code) + " " + e.status().message;
    }
    return "";
  }
  json stored(const std::string& k, const std::string& ns, const std::string& name) {
    return json::parse(objects_->get(rbac(k), ns, name)->value);
  }

  std::shared_ptr<RbacAuthorizer> rbac_;
  AuthorizerChain chain_;
  std::unique_ptr<RbacEscalationCheck> check_;
};

}  // namespace

TEST(RbacEscalationMessageTest, CompactStringAsGoPrintsIt) {
  EXPECT_EQ(compact_string(policy({"get", "list"}, {""}, {"pods"})),
            R"({APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]})");
  EXPECT_EQ(compact_string(policy({"update"}, {""}, {"configmaps"}, {"cfg"})),
            R"({APIGroups:[""], Resources:["configmaps"], ResourceNames:["cfg"], Verbs:["update"]})");
  EXPECT_EQ(compact_string(PolicyRule{{"get"}, {}, {}, {}, {"/metrics"}}), R"({NonResourceURLs:["/metrics"], Verbs:["get"]})");
}

TEST(RbacEscalationMessageTest, MissingRulesAreCompactedSortedAndListedOncePerLine) {
  std::vector<PolicyRule> owner = {policy({"get", "list"}, {""}, {"pods"})};
  std::vector<PolicyRule> requested = {policy({"get", "list", "delete"}, {""}, {"secrets", "pods"}),
                                       PolicyRule{{"get"}, {}, {}, {}, {"/metrics"}},
                                       policy({"update"}, {""}, {"configmaps"}, {"a", "b"})};
  EXPECT_EQ(escalation_problem(dana(), owner, "", requested),
            "user \"dana\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not "
            "currently held:\n"
            R"({APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["update"]})" "\n"
            R"({APIGroups:[""], Resources:["configmaps"], ResourceNames:["b"], Verbs:["update"]})" "\n"
            R"({APIGroups:[""], Resources:["pods"], Verbs:["delete"]})" "\n"
            R"({APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "delete"]})" "\n"
            R"({NonResourceURLs:["/metrics"], Verbs:["get"]})");
  EXPECT_EQ(escalation_problem(dana(), owner, "", {policy({"list"}, {""}, {"pods"})}), "");
  // Rules that could not be resolved are named after the list.
  std::string p = escalation_problem(dana(), {}, "role.rbac.authorization.k8s.io \"gone\" not found",
                                     {policy({"get"}, {""}, {"pods"})});
  EXPECT_TRUE(p.ends_with("\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}; resolution errors: "
                          "[role.rbac.authorization.k8s.io \"gone\" not found]")) << p;
}

TEST_F(RbacEscalationTest, ARoleMayGrantOnlyWhatItsWriterHoldsThere) {
  EXPECT_EQ(create_as(dana(), role("team", "secret-admin", {rule({"*"}, {""}, {"secrets"})})),
            "403 " + attempting("roles", "secret-admin") + R"({APIGroups:[""], Resources:["secrets"], Verbs:["*"]})");
  EXPECT_EQ(create_as(dana(), role("team", "pod-reader", {rule({"get", "list"}, {""}, {"pods", "pods/log"})})), "");
  // What dana holds in team she does not hold in other, nor cluster-wide.
  EXPECT_EQ(create_as(dana(), role("other", "pod-reader", {rule({"get"}, {""}, {"pods"})})),
            "403 " + attempting("roles", "pod-reader") + R"({APIGroups:[""], Resources:["pods"], Verbs:["get"]})");
  EXPECT_EQ(create_as(dana(), role("", "pod-reader", {rule({"get"}, {""}, {"pods"})})),
            "403 " + attempting("clusterroles", "pod-reader") + R"({APIGroups:[""], Resources:["pods"], Verbs:["get"]})");
  // An update is checked as a create is; one that touches only what the garbage collector writes is not.
  json reader = stored("Role", "team", "pod-reader");
  reader["rules"].push_back(rule({"create"}, {""}, {"pods/exec", "nodes"}));
  EXPECT_EQ(update_as(dana(), reader),
            "403 " + attempting("roles", "pod-reader") + R"({APIGroups:[""], Resources:["nodes"], Verbs:["create"]})");
  admin(role("team", "wide", {rule({"*"}, {"*"}, {"*"})}));
  json wide = stored("Role", "team", "wide");
  wide["metadata"]["finalizers"] = {"example.com/keep"};
  EXPECT_EQ(update_as(dana(), wide), "");
  wide = stored("Role", "team", "wide");
  wide["metadata"]["labels"] = {{"a", "b"}};
  EXPECT_TRUE(update_as(dana(), wide).starts_with("403 " + attempting("roles", "wide"))) << update_as(dana(), wide);
}

TEST_F(RbacEscalationTest, EscalateOnRolesLiftsTheCheck) {
  admin(role("team", "escalator", {rule({"escalate"}, {kGroup}, {"roles"})}));
  admin(binding("team", "dana-escalates", "Role", "escalator"));
  EXPECT_EQ(create_as(dana(), role("team", "secret-admin", {rule({"*"}, {""}, {"secrets"})})), "");
  // Only for roles, only in team.
  EXPECT_TRUE(create_as(dana(), role("other", "secret-admin", {rule({"*"}, {""}, {"secrets"})})).starts_with("403 "));
  EXPECT_TRUE(create_as(dana(), role("", "secret-admin", {rule({"*"}, {""}, {"secrets"})})).starts_with("403 "));
}

TEST_F(RbacEscalationTest, ABindingNeedsBindOrEveryRuleOfItsRole) {
  EXPECT_EQ(create_as(dana(), binding("team", "root", "ClusterRole", "cluster-admin", "eve")),
            "403 " + attempting("rolebindings", "root") +
                "{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}");
  // view is within edit.
  EXPECT_EQ(create_as(dana(), binding("team", "eve-view", "ClusterRole", "view", "eve")), "");
  // A role that does not exist: kube's 404 from reading it.
  EXPECT_EQ(create_as(dana(), binding("team", "ghost", "ClusterRole", "nope", "eve")),
            "404 clusterroles.rbac.authorization.k8s.io \"nope\" not found");
  EXPECT_EQ(create_as(dana(), binding("team", "ghost", "Role", "nope", "eve")),
            "404 roles.rbac.authorization.k8s.io \"nope\" not found");

  // `bind` on cluster-admin by name, in team: a RoleBinding there, but no ClusterRoleBinding and nothing elsewhere.
  admin(role("team", "binder", {rule({"bind"}, {kGroup}, {"clusterroles"}, {"cluster-admin"})}));
  admin(binding("team", "dana-binds", "Role", "binder"));
  EXPECT_EQ(create_as(dana(), binding("team", "root", "ClusterRole", "cluster-admin", "eve")), "");
  EXPECT_TRUE(create_as(dana(), binding("other", "root", "ClusterRole", "cluster-admin", "eve")).starts_with("403 "));
  EXPECT_TRUE(create_as(dana(), binding("", "root", "ClusterRole", "cluster-admin", "eve"))
                  .starts_with("403 " + attempting("clusterrolebindings", "root")));
  EXPECT_TRUE(create_as(dana(), binding("team", "nodes", "ClusterRole", "system:node", "eve")).starts_with("403 "));
  // With `bind` on every ClusterRole, one that does not exist (yet) may be bound too, as in Kubernetes.
  admin(role("other", "any-binder", {rule({"bind"}, {kGroup}, {"clusterroles"})}));
  admin(binding("other", "dana-binds-any", "Role", "any-binder"));
  EXPECT_EQ(create_as(dana(), binding("other", "ghost", "ClusterRole", "nope", "eve")), "");
  // Changing the subjects of a binding is checked again.
  json root = stored("RoleBinding", "team", "root");
  root["subjects"].push_back({{"kind", "User"}, {"apiGroup", kGroup}, {"name", "mallory"}});
  EXPECT_EQ(update_as(dana(), root), "");
  json view = stored("RoleBinding", "team", "dana-edit");
  view["subjects"].push_back({{"kind", "User"}, {"apiGroup", kGroup}, {"name", "mallory"}});
  EXPECT_EQ(update_as(dana(), view), "");  // edit is hers
}

TEST_F(RbacEscalationTest, AnAggregationRuleNeedsEveryRight) {
  admin(role("", "rbac-writer", {rule({"create", "update"}, {kGroup}, {"clusterroles"}), rule({"get"}, {""}, {"pods"})}));
  admin(binding("", "dana-writes-rbac", "ClusterRole", "rbac-writer"));
  json aggregate = role("", "gatherer", json::array());
  aggregate["aggregationRule"] = {{"clusterRoleSelectors", {{{"matchLabels", {{"example.com/gather", "true"}}}}}}};
  EXPECT_EQ(create_as(dana(), aggregate),
            "403 clusterroles.rbac.authorization.k8s.io \"gatherer\" is forbidden: must have cluster-admin privileges "
            "to use the aggregationRule");
  EXPECT_EQ(create_as(dana(), role("", "pod-getter", {rule({"get"}, {""}, {"pods"})})), "");
  // Nor may one be taken off an aggregated role by someone without every right.
  admin(aggregate);
  json gatherer = stored("ClusterRole", "", "gatherer");
  gatherer.erase("aggregationRule");
  EXPECT_TRUE(update_as(dana(), gatherer).ends_with("must have cluster-admin privileges to use the aggregationRule"));
}

TEST_F(RbacEscalationTest, SuperusersAndOtherKindsAreNotChecked) {
  UserInfo ops{"ops", "", {kSystemMasters, kSystemAuthenticated}, {}};
  EXPECT_EQ(create_as(ops, role("other", "anything", {rule({"*"}, {"*"}, {"*"})})), "");
  UserInfo unsecured{"system:unsecured", "", {kSystemMasters, kSystemAuthenticated}, {}};
  EXPECT_EQ(create_as(unsecured, binding("", "root", "ClusterRole", "cluster-admin", "eve")), "");
  // Without a request user (D-Bus, the apiserver's own writes).
  admin(binding("other", "root", "ClusterRole", "cluster-admin", "eve"));
  // The check is only about RBAC: other kinds are RBAC's authorizer's business.
  UserInfo user = dana();
  RequestUserScope as(user);
  EXPECT_NO_THROW(objects_->create(*Registry::builtin().by_kind("", "ConfigMap"), "other",
                                   {{"metadata", {{"name", "c"}}}}, {}));
}
