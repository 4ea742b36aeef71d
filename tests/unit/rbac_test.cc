// RBAC: the rule matching, rule resolution and reasons of kube's RBAC authorizer, answered by RbacAuthorizer from
// objects written through ObjectService into a real SqliteStore; the kinds' validation; the default policy.
#include "daemons/apiserver/rbac.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "object_service_fixture.h"

#include "daemons/apiserver/rbac_bootstrap.h"
#include "daemons/apiserver/sqlite_store.h"

using namespace kctl::apiserver;
using kctl::api::Registry;
using kctl::api::StatusError;
using nlohmann::json;

namespace {

constexpr auto kCatchUp = std::chrono::seconds(5);

UserInfo user(std::string name, std::vector<std::string> groups = {}) {
  groups.push_back(kSystemAuthenticated);
  return {std::move(name), "", std::move(groups), {}};
}

RequestAttributes resource(const UserInfo& u, std::string verb, std::string group, std::string res, std::string ns,
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

RequestAttributes path(const UserInfo& u, std::string verb, std::string p) {
  RequestAttributes a;
  a.user = u;
  a.verb = std::move(verb);
  a.path = std::move(p);
  return a;
}

json rule(std::vector<std::string> verbs, std::vector<std::string> groups, std::vector<std::string> resources,
          std::vector<std::string> names = {}) {
  json r = {{"verbs", verbs}, {"apiGroups", groups}, {"resources", resources}};
  if (!names.empty()) r["resourceNames"] = names;
  return r;
}

json cluster_role(const std::string& name, json rules) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRole"}, {"metadata", {{"name", name}}},
          {"rules", rules}};
}

json role(const std::string& ns, const std::string& name, json rules) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "Role"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"rules", rules}};
}

json subject(const std::string& kind, const std::string& name, const std::string& ns = "") {
  json s = {{"kind", kind}, {"name", name}};
  if (kind != "ServiceAccount") s["apiGroup"] = "rbac.authorization.k8s.io";
  if (!ns.empty()) s["namespace"] = ns;
  return s;
}

json binding(const std::string& ns, const std::string& name, const std::string& role_kind, const std::string& role_name,
             json subjects) {
  json m = {{"name", name}};
  if (!ns.empty()) m["namespace"] = ns;
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", ns.empty() ? "ClusterRoleBinding" : "RoleBinding"},
          {"metadata", m},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", role_kind}, {"name", role_name}}},
          {"subjects", subjects}};
}

class RbacTest : public kctl::test::ObjectServiceTest {
 protected:
  void SetUp() override {
    ObjectServiceTest::SetUp();
    create_namespaces({"team", "other"});
    authz_ = std::make_unique<RbacAuthorizer>(*store_, Registry::builtin());
  }
  void TearDown() override {
    authz_.reset();
    ObjectServiceTest::TearDown();
  }

  static const kctl::api::KindInfo& kind(const std::string& group, const std::string& k) {
    return *Registry::builtin().by_kind(group, k);
  }
  static const kctl::api::KindInfo& rbac(const std::string& k) { return kind("rbac.authorization.k8s.io", k); }

  void caught_up() { ASSERT_TRUE(authz_->wait_for_revision(store_->current_revision(), kCatchUp)); }
  void create(const json& obj) {
    objects_->create(rbac(obj["kind"]), obj["metadata"].value("namespace", ""), obj, {});
    caught_up();
  }
  void remove(const std::string& k, const std::string& ns, const std::string& name) {
    objects_->remove(rbac(k), ns, name, {});
    caught_up();
  }
  bool allowed(const RequestAttributes& a) { return authz_->authorize(a).allowed(); }
  // The 422 message a write gets, or "" when it succeeds.
  std::string invalid(const json& obj) {
    try {
      objects_->create(rbac(obj["kind"]), obj["metadata"].value("namespace", ""), obj, {});
    } catch (const StatusError& e) {
      EXPECT_EQ(e.status().code, 422) << e.status().message;
      return e.status().message;
    }
    return "";
  }

  std::unique_ptr<RbacAuthorizer> authz_;
};

}  // namespace

TEST(RbacRuleTest, VerbsGroupsAndResourcesWithWildcards) {
  UserInfo u = user("u");
  auto r = PolicyRule::from_json(rule({"get", "list"}, {""}, {"pods"}));
  EXPECT_TRUE(rule_allows(resource(u, "get", "", "pods", "x"), r));
  EXPECT_FALSE(rule_allows(resource(u, "delete", "", "pods", "x"), r));
  EXPECT_FALSE(rule_allows(resource(u, "get", "apps", "pods", "x"), r));
  EXPECT_FALSE(rule_allows(resource(u, "get", "", "services", "x"), r));
  EXPECT_FALSE(rule_allows(resource(u, "get", "", "pods", "x", "p", "log"), r));  // no subresource from "pods"
  r = PolicyRule::from_json(rule({"*"}, {"*"}, {"*"}));
  EXPECT_TRUE(rule_allows(resource(u, "escalate", "rbac.authorization.k8s.io", "clusterroles", ""), r));
  EXPECT_TRUE(rule_allows(resource(u, "get", "", "pods", "x", "p", "log"), r));
  EXPECT_FALSE(rule_allows(path(u, "get", "/healthz"), r));  // resource rules never match URLs
}

TEST(RbacRuleTest, SubresourcesAndStarSlashSubresource) {
  UserInfo u = user("u");
  auto log = PolicyRule::from_json(rule({"get"}, {""}, {"pods/log"}));
  EXPECT_TRUE(rule_allows(resource(u, "get", "", "pods", "x", "web", "log"), log));
  EXPECT_FALSE(rule_allows(resource(u, "get", "", "pods", "x", "web"), log));
  auto scale = PolicyRule::from_json(rule({"get", "update"}, {"*"}, {"*/scale"}));
  EXPECT_TRUE(rule_allows(resource(u, "update", "apps", "deployments", "x", "d", "scale"), scale));
  EXPECT_TRUE(rule_allows(resource(u, "get", "", "replicationcontrollers", "x", "rc", "scale"), scale));
  EXPECT_FALSE(rule_allows(resource(u, "get", "apps", "deployments", "x", "d"), scale));
  EXPECT_FALSE(rule_allows(resource(u, "get", "apps", "deployments", "x", "d", "status"), scale));
}

TEST(RbacRuleTest, ResourceNamesRestrictOnlyRequestsThatNameAnObject) {
  UserInfo u = user("u");
  auto r = PolicyRule::from_json(rule({"get", "list", "create", "update"}, {""}, {"configmaps"}, {"cfg"}));
  EXPECT_TRUE(rule_allows(resource(u, "get", "", "configmaps", "x", "cfg"), r));
  EXPECT_TRUE(rule_allows(resource(u, "update", "", "configmaps", "x", "cfg"), r));
  EXPECT_FALSE(rule_allows(resource(u, "get", "", "configmaps", "x", "other"), r));
  // list and create carry no name (a list with fieldSelector metadata.name=cfg does, set by the request parser).
  EXPECT_FALSE(rule_allows(resource(u, "list", "", "configmaps", "x"), r));
  EXPECT_FALSE(rule_allows(resource(u, "create", "", "configmaps", "x"), r));
  EXPECT_TRUE(rule_allows(resource(u, "list", "", "configmaps", "x", "cfg"), r));
}

TEST(RbacRuleTest, NonResourceURLsWithTrailingStar) {
  UserInfo u = user("u");
  PolicyRule r{{"get"}, {}, {}, {}, {"/healthz", "/logs/*"}};
  EXPECT_TRUE(rule_allows(path(u, "get", "/healthz"), r));
  EXPECT_FALSE(rule_allows(path(u, "get", "/healthz/etcd"), r));
  EXPECT_FALSE(rule_allows(path(u, "post", "/healthz"), r));
  EXPECT_TRUE(rule_allows(path(u, "get", "/logs/a/b"), r));
  EXPECT_TRUE(rule_allows(path(u, "get", "/logs/"), r));
  EXPECT_FALSE(rule_allows(path(u, "get", "/logs"), r));
  EXPECT_FALSE(rule_allows(resource(u, "get", "", "pods", "x"), r));
  EXPECT_TRUE(rule_allows(path(u, "get", "/anything"), PolicyRule{{"*"}, {}, {}, {}, {"*"}}));
}

TEST(RbacRuleTest, CoversBreaksRulesDown) {
  std::vector<PolicyRule> owner = {PolicyRule::from_json(rule({"get", "list"}, {""}, {"pods", "*/log"}))};
  std::vector<PolicyRule> missing;
  EXPECT_TRUE(rules_cover(owner, {PolicyRule::from_json(rule({"get"}, {""}, {"pods", "pods/log"}))}));
  EXPECT_FALSE(rules_cover(owner, {PolicyRule::from_json(rule({"get", "delete"}, {""}, {"pods"}))}, &missing));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].to_json(), rule({"delete"}, {""}, {"pods"}));
}

TEST_F(RbacTest, ClusterRoleBindingGrantsEverywhereWithKubesReason) {
  create(cluster_role("pod-reader", {rule({"get", "list", "watch"}, {""}, {"pods"})}));
  create(binding("", "read-pods", "ClusterRole", "pod-reader", {subject("User", "alice")}));
  auto d = authz_->authorize(resource(user("alice"), "get", "", "pods", "team", "web"));
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason, R"(RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" to User "alice")");
  EXPECT_TRUE(allowed(resource(user("alice"), "list", "", "pods", "")));  // all namespaces
  EXPECT_FALSE(allowed(resource(user("alice"), "delete", "", "pods", "team", "web")));
  EXPECT_FALSE(allowed(resource(user("bob"), "get", "", "pods", "team", "web")));
  EXPECT_EQ(authz_->authorize(resource(user("bob"), "get", "", "pods", "team")).kind, Decision::Kind::NoOpinion);
}

TEST_F(RbacTest, RoleBindingToClusterRoleIsConfinedToItsNamespace) {
  create(cluster_role("pod-reader", {rule({"get", "list"}, {""}, {"pods"})}));
  create(binding("team", "bob-reads", "ClusterRole", "pod-reader", {subject("User", "bob")}));
  auto d = authz_->authorize(resource(user("bob"), "get", "", "pods", "team", "web"));
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason, R"(RBAC: allowed by RoleBinding "bob-reads/team" of ClusterRole "pod-reader" to User "bob")");
  EXPECT_FALSE(allowed(resource(user("bob"), "get", "", "pods", "other", "web")));
  EXPECT_FALSE(allowed(resource(user("bob"), "list", "", "pods", "")));
}

TEST_F(RbacTest, RoleBindingToRoleAndGroups) {
  create(role("team", "deployer", {rule({"create", "update"}, {"apps"}, {"deployments"})}));
  create(binding("team", "devs-deploy", "Role", "deployer", {subject("User", "nobody"), subject("Group", "devs")}));
  auto d = authz_->authorize(resource(user("carol", {"devs"}), "create", "apps", "deployments", "team"));
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason, R"(RBAC: allowed by RoleBinding "devs-deploy/team" of Role "deployer" to Group "devs")");
  EXPECT_FALSE(allowed(resource(user("carol"), "create", "apps", "deployments", "team")));
  EXPECT_FALSE(allowed(resource(user("carol", {"devs"}), "create", "apps", "deployments", "other")));
  // A Role of another namespace with the same name is not this one.
  create(role("other", "deployer", {rule({"*"}, {"*"}, {"*"})}));
  EXPECT_FALSE(allowed(resource(user("carol", {"devs"}), "delete", "apps", "deployments", "team", "d")));
}

TEST_F(RbacTest, ServiceAccountSubjects) {
  create(cluster_role("pod-reader", {rule({"get"}, {""}, {"pods"})}));
  // In a RoleBinding a service account without a namespace is one of the binding's namespace.
  create(binding("team", "sa-reads", "ClusterRole", "pod-reader", {subject("ServiceAccount", "builder")}));
  auto d = authz_->authorize(resource(user("system:serviceaccount:team:builder"), "get", "", "pods", "team", "p"));
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason,
            R"(RBAC: allowed by RoleBinding "sa-reads/team" of ClusterRole "pod-reader" to ServiceAccount "builder/team")");
  EXPECT_FALSE(allowed(resource(user("system:serviceaccount:other:builder"), "get", "", "pods", "team", "p")));
  EXPECT_FALSE(allowed(resource(user("builder"), "get", "", "pods", "team", "p")));
  create(binding("", "sa-reads-all", "ClusterRole", "pod-reader", {subject("ServiceAccount", "ci", "other")}));
  EXPECT_TRUE(allowed(resource(user("system:serviceaccount:other:ci"), "get", "", "pods", "team", "p")));
}

TEST_F(RbacTest, RemovingABindingOrARuleRevokes) {
  create(cluster_role("pod-reader", {rule({"get"}, {""}, {"pods"}), rule({"get"}, {""}, {"services"})}));
  create(binding("team", "rb", "ClusterRole", "pod-reader", {subject("User", "bob")}));
  EXPECT_TRUE(allowed(resource(user("bob"), "get", "", "services", "team", "s")));
  json cr = cluster_role("pod-reader", {rule({"get"}, {""}, {"pods"})});
  objects_->update(rbac("ClusterRole"), "", "pod-reader", "", cr, {});
  caught_up();
  EXPECT_FALSE(allowed(resource(user("bob"), "get", "", "services", "team", "s")));
  EXPECT_TRUE(allowed(resource(user("bob"), "get", "", "pods", "team", "p")));
  remove("RoleBinding", "team", "rb");
  EXPECT_FALSE(allowed(resource(user("bob"), "get", "", "pods", "team", "p")));
}

TEST_F(RbacTest, AMissingRoleIsSkippedAndNamed) {
  create(binding("", "ghostly", "ClusterRole", "ghost", {subject("User", "dan")}));
  create(binding("team", "ghostly", "Role", "phantom", {subject("User", "dan")}));
  auto d = authz_->authorize(resource(user("dan"), "get", "", "pods", "team", "p"));
  EXPECT_EQ(d.kind, Decision::Kind::NoOpinion);
  EXPECT_EQ(d.reason, R"(RBAC: [clusterrole.rbac.authorization.k8s.io "ghost" not found, role.rbac.authorization.k8s.io "phantom" not found])");
  create(cluster_role("ghost", {rule({"get"}, {""}, {"pods"})}));
  EXPECT_TRUE(allowed(resource(user("dan"), "get", "", "pods", "team", "p")));
}

TEST_F(RbacTest, AnIndexBuiltLaterSeesWhatIsStored) {
  create(cluster_role("pod-reader", {rule({"get"}, {""}, {"pods"})}));
  create(binding("", "crb", "ClusterRole", "pod-reader", {subject("User", "eve")}));
  RbacAuthorizer fresh(*store_, Registry::builtin());
  EXPECT_TRUE(fresh.authorize(resource(user("eve"), "get", "", "pods", "team", "p")).allowed());
}

TEST_F(RbacTest, RulesForAUserAsASubjectRulesReview) {
  create(cluster_role("pod-reader", {rule({"get"}, {""}, {"pods"}, {"web"})}));
  create(binding("team", "rb", "ClusterRole", "pod-reader", {subject("User", "bob")}));
  create(cluster_role("health", {{{"verbs", {"get"}}, {"nonResourceURLs", {"/healthz"}}}}));
  create(binding("", "health", "ClusterRole", "health", {subject("Group", kSystemAuthenticated)}));
  create(binding("", "ghostly", "ClusterRole", "ghost", {subject("User", "bob")}));
  json st = authz_->rules_review_status(user("bob"), "team");
  EXPECT_EQ(st["resourceRules"], json::parse(R"([{"verbs":["get"],"apiGroups":[""],"resources":["pods"],"resourceNames":["web"]}])"));
  EXPECT_EQ(st["nonResourceRules"], json::parse(R"([{"verbs":["get"],"nonResourceURLs":["/healthz"]}])"));
  EXPECT_EQ(st["incomplete"], false);
  EXPECT_EQ(st["evaluationError"], R"(clusterrole.rbac.authorization.k8s.io "ghost" not found)");
  EXPECT_EQ(authz_->rules_for(user("bob"), "other").size(), 1u);  // only the cluster-wide one
}

TEST_F(RbacTest, ValidationAsKubernetes) {
  json rb = binding("team", "rb", "ClusterRole", "view", {subject("User", "bob")});
  rb.erase("roleRef");
  EXPECT_EQ(invalid(rb),
            "RoleBinding.rbac.authorization.k8s.io \"rb\" is invalid: [roleRef.kind: Unsupported value: \"\": "
            "supported values: \"Role\", \"ClusterRole\", roleRef.name: Required value]");
  EXPECT_NE(invalid(role("team", "r", {{{"verbs", {"get"}}, {"nonResourceURLs", {"/x"}}}})).find(
                R"(rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs)"),
            std::string::npos);
  EXPECT_NE(invalid(cluster_role("c", {rule({}, {""}, {"pods"})})).find("rules[0].verbs: Required value: verbs must contain at least one value"),
            std::string::npos);
  EXPECT_NE(invalid(cluster_role("c", {{{"verbs", {"get"}}}})).find(
                "rules[0].apiGroups: Required value: resource rules must supply at least one api group"),
            std::string::npos);
  EXPECT_NE(invalid(binding("", "crb", "ClusterRole", "view", {subject("ServiceAccount", "sa")}))
                .find("subjects[0].namespace: Required value"),
            std::string::npos);
  EXPECT_NE(invalid(binding("", "crb", "Role", "view", {subject("Robot", "r2")}))
                .find(R"(subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group")"),
            std::string::npos);
  EXPECT_NE(invalid(binding("", "crb", "Role", "view", {})).find(R"(roleRef.kind: Unsupported value: "Role")"),
            std::string::npos);
  // Names need only be URL path segments; subjects' apiGroup and roleRef's apiGroup are defaulted.
  json ok = binding("team", "system:rb", "ClusterRole", "view", {{{"kind", "User"}, {"name", "bob"}}});
  ok["roleRef"].erase("apiGroup");
  EXPECT_EQ(invalid(ok), "");
  json stored = json::parse(objects_->get(rbac("RoleBinding"), "team", "system:rb")->value);
  EXPECT_EQ(stored["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
  EXPECT_EQ(stored["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
  // roleRef is immutable.
  stored["roleRef"]["name"] = "edit";
  try {
    objects_->update(rbac("RoleBinding"), "team", "system:rb", "", stored, {});
    ADD_FAILURE() << "roleRef changed";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 422);
    EXPECT_EQ(e.status().message,
              "RoleBinding.rbac.authorization.k8s.io \"system:rb\" is invalid: roleRef: Invalid value: "
              "rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot "
              "change roleRef");
  }
}

TEST_F(RbacTest, TableCellsAsKubectlPrintsThem) {
  json rb = binding("team", "rb", "ClusterRole", "view",
                    {subject("User", "bob"), subject("User", "amy"), subject("Group", "devs"),
                     subject("ServiceAccount", "ci", "team")});
  auto cells = rbac("RoleBinding").table_cells(rb);
  ASSERT_EQ(cells.size(), 6u);
  EXPECT_EQ(cells[1].text, "ClusterRole/view");
  EXPECT_EQ(cells[3].text, "bob, amy");
  EXPECT_EQ(cells[4].text, "devs");
  EXPECT_EQ(cells[5].text, "team/ci");
  EXPECT_EQ(rbac("ClusterRole").columns[1].name, "Created At");
  EXPECT_EQ(rbac("ClusterRole").columns[1].type, "date");
  EXPECT_FALSE(rbac("ClusterRole").namespaced);
  EXPECT_FALSE(rbac("ClusterRoleBinding").namespaced);
}

TEST_F(RbacTest, BootstrapPolicyGrantsWhatKubesDoes) {
  auto changes = ensure_bootstrap_rbac(*objects_);
  EXPECT_FALSE(changes.empty());
  caught_up();
  UserInfo root = user("kubernetes-admin", {kSystemMasters});
  auto d = authz_->authorize(resource(root, "delete", "", "nodes", "", "n1"));
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason,
            R"(RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters")");
  EXPECT_TRUE(allowed(path(root, "get", "/metrics")));

  create(binding("team", "viewers", "ClusterRole", "view", {subject("User", "viewer")}));
  create(binding("team", "editors", "ClusterRole", "edit", {subject("User", "editor")}));
  create(binding("team", "admins", "ClusterRole", "admin", {subject("User", "admin")}));
  EXPECT_TRUE(allowed(resource(user("viewer"), "get", "", "pods", "team", "p")));
  EXPECT_TRUE(allowed(resource(user("viewer"), "get", "", "pods", "team", "p", "log")));
  EXPECT_TRUE(allowed(resource(user("viewer"), "list", "apps", "deployments", "team")));
  EXPECT_FALSE(allowed(resource(user("viewer"), "get", "", "secrets", "team", "s")));
  EXPECT_FALSE(allowed(resource(user("viewer"), "create", "", "pods", "team")));
  EXPECT_TRUE(allowed(resource(user("editor"), "create", "apps", "deployments", "team")));
  EXPECT_TRUE(allowed(resource(user("editor"), "get", "", "secrets", "team", "s")));
  EXPECT_TRUE(allowed(resource(user("editor"), "update", "apps", "deployments", "team", "d", "scale")));
  EXPECT_FALSE(allowed(resource(user("editor"), "create", "rbac.authorization.k8s.io", "rolebindings", "team")));
  EXPECT_TRUE(allowed(resource(user("admin"), "create", "rbac.authorization.k8s.io", "rolebindings", "team")));
  EXPECT_TRUE(allowed(resource(user("admin"), "delete", "", "pods", "team", "p")));
  EXPECT_FALSE(allowed(resource(user("admin"), "delete", "", "pods", "other", "p")));

  UserInfo anyone = user("someone");
  EXPECT_TRUE(allowed(resource(anyone, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "")));
  EXPECT_TRUE(allowed(resource(anyone, "create", "authorization.k8s.io", "selfsubjectrulesreviews", "")));
  EXPECT_TRUE(allowed(path(anyone, "get", "/apis/apps/v1")));
  EXPECT_FALSE(allowed(resource(anyone, "list", "", "pods", "team")));
  UserInfo anonymous{kAnonymousUser, "", {kSystemUnauthenticated}, {}};
  EXPECT_TRUE(allowed(path(anonymous, "get", "/healthz")));
  EXPECT_TRUE(allowed(path(anonymous, "get", "/version")));
  EXPECT_FALSE(allowed(path(anonymous, "get", "/api")));

  UserInfo kcm = user("system:kube-controller-manager");
  EXPECT_TRUE(allowed(resource(kcm, "create", "", "pods", "team")));
  EXPECT_TRUE(allowed(resource(kcm, "update", "apps", "deployments", "team", "d", "status")));
  EXPECT_TRUE(allowed(resource(kcm, "watch", "discovery.k8s.io", "endpointslices", "")));
  EXPECT_TRUE(allowed(resource(kcm, "update", "", "namespaces", "", "team", "finalize")));
  EXPECT_TRUE(allowed(resource(kcm, "update", "coordination.k8s.io", "leases", "kube-system", "kube-controller-manager")));
  UserInfo sched = user("system:kube-scheduler");
  EXPECT_TRUE(allowed(resource(sched, "create", "", "pods", "team", "p", "binding")));
  EXPECT_FALSE(allowed(resource(sched, "create", "", "pods", "team")));
  UserInfo proxy = user("system:kube-proxy");
  EXPECT_TRUE(allowed(resource(proxy, "watch", "discovery.k8s.io", "endpointslices", "")));
  EXPECT_FALSE(allowed(resource(proxy, "get", "", "secrets", "team", "s")));
  UserInfo dns = user(kKctlDnsUser);
  EXPECT_TRUE(allowed(resource(dns, "list", "", "services", "")));
  EXPECT_TRUE(allowed(resource(dns, "update", "", "endpoints", "kube-system", "kube-dns")));
  EXPECT_TRUE(allowed(resource(dns, "create", "discovery.k8s.io", "endpointslices", "kube-system")));
  EXPECT_FALSE(allowed(resource(dns, "update", "", "services", "kube-system", "kubernetes")));
  EXPECT_FALSE(allowed(resource(dns, "create", "", "services", "team")));
}

TEST_F(RbacTest, BootstrapIsIdempotentAndReconcilesUnlessProtected) {
  ensure_bootstrap_rbac(*objects_);
  EXPECT_EQ(ensure_bootstrap_rbac(*objects_), std::vector<std::string>{});
  auto& cr = rbac("ClusterRole");
  json basic = json::parse(objects_->get(cr, "", "system:basic-user")->value);
  EXPECT_EQ(basic["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults");
  EXPECT_EQ(basic["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "true");
  basic["rules"] = json::array({basic["rules"][1]});  // someone drops the selfsubjectaccessreviews rule
  objects_->update(cr, "", "system:basic-user", "", basic, {});
  EXPECT_EQ(ensure_bootstrap_rbac(*objects_),
            std::vector<std::string>{"added missing defaults to ClusterRole system:basic-user"});
  caught_up();
  EXPECT_TRUE(allowed(resource(user("x"), "create", "authorization.k8s.io", "selfsubjectaccessreviews", "")));

  basic = json::parse(objects_->get(cr, "", "system:basic-user")->value);
  basic["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false";
  basic["rules"] = json::array();
  objects_->update(cr, "", "system:basic-user", "", basic, {});
  EXPECT_EQ(ensure_bootstrap_rbac(*objects_), std::vector<std::string>{});
  // A deleted default comes back.
  objects_->remove(rbac("ClusterRoleBinding"), "", "cluster-admin", {});
  EXPECT_EQ(ensure_bootstrap_rbac(*objects_),
            std::vector<std::string>{"created ClusterRoleBinding cluster-admin"});
}

TEST_F(RbacTest, AggregationCollectsLabelledRoles) {
  ensure_bootstrap_rbac(*objects_);
  auto& cr = rbac("ClusterRole");
  json view = json::parse(objects_->get(cr, "", "view")->value);
  json admin = json::parse(objects_->get(cr, "", "admin")->value);
  // view's rules are system:aggregate-to-view's; admin has edit's (and so view's) and its own.
  EXPECT_EQ(view["rules"], json::parse(objects_->get(cr, "", "system:aggregate-to-view")->value)["rules"]);
  EXPECT_GT(admin["rules"].size(), view["rules"].size());
  json crd_viewer = cluster_role("widgets-view", {rule({"get", "list"}, {"example.com"}, {"widgets"})});
  crd_viewer["metadata"]["labels"] = {{"rbac.authorization.k8s.io/aggregate-to-view", "true"}};
  create(crd_viewer);
  auto changed = aggregate_cluster_roles(*objects_);
  EXPECT_EQ(changed, (std::vector<std::string>{"view", "edit", "admin"})) << json(changed);
  caught_up();
  create(binding("team", "admins", "ClusterRole", "admin", {subject("User", "ann")}));
  EXPECT_TRUE(allowed(resource(user("ann"), "list", "example.com", "widgets", "team")));
  EXPECT_EQ(aggregate_cluster_roles(*objects_), std::vector<std::string>{});
}
