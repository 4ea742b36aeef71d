// kctl-controller-manager's clusterrole-aggregation controller against a real apiserver: labelled ClusterRoles'
// rules appear in the ClusterRoles whose aggregationRule selects them (the default admin/edit/view chain too) and go
// when they are deleted; over HTTPS as system:kube-controller-manager its writes pass the escalation check.
#include <filesystem>

#include "api/pki.h"
#include "controller_manager_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const char* const kLabel = "example.com/aggregate-to-widgets";

json cluster_role(const std::string& name, json rules, json labels = json::object()) {
  json m = {{"name", name}};
  if (!labels.empty()) m["labels"] = labels;
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRole"}, {"metadata", m}, {"rules", rules}};
}

json aggregating(const std::string& name, const std::string& label) {
  json r = cluster_role(name, json::array());
  r["aggregationRule"] = {{"clusterRoleSelectors", {{{"matchLabels", {{label, "true"}}}}}}};
  return r;
}

json rule(std::vector<std::string> verbs, std::vector<std::string> resources, std::string group = "example.com") {
  return {{"apiGroups", json::array({group})}, {"resources", resources}, {"verbs", verbs}};
}

class ClusterRoleAggregationTest : public ControllerTest {
 protected:
  ClusterRoleAggregationTest() : ControllerTest("clusterrole-aggregation") {}
  json rules_of(const std::string& name) { return resource("clusterroles", "").get(name).value("rules", json::array()); }
  // Waits for the role's rules to be `want`; says what they were otherwise.
  ::testing::AssertionResult rules_become(const std::string& name, const json& want) {
    json seen;
    if (eventually([&] { return (seen = rules_of(name)) == want; }, 10s)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << name << " has " << seen.dump() << ", not " << want.dump();
  }
  bool has_rule(const std::string& name, const json& r) {
    json rules = rules_of(name);
    return std::find(rules.begin(), rules.end(), r) != rules.end();
  }
};

}  // namespace

TEST_F(ClusterRoleAggregationTest, LabelledRolesAreGatheredAndLeaveWhenDeleted) {
  auto roles = resource("clusterroles", "");
  roles.create(aggregating("widgets", kLabel));
  json read = rule({"get", "list", "watch"}, {"widgets"}), write = rule({"create", "delete"}, {"widgets"});
  roles.create(cluster_role("widgets-read", json::array({read}), {{kLabel, "true"}}));
  EXPECT_TRUE(rules_become("widgets", json::array({read})));
  // In name order, each rule once; an unlabelled role is not gathered.
  roles.create(cluster_role("widgets-a-write", json::array({write, read}), {{kLabel, "true"}}));
  roles.create(cluster_role("gadgets", json::array({rule({"*"}, {"gadgets"})})));
  EXPECT_TRUE(rules_become("widgets", json::array({write, read})));
  // A change to a gathered role follows.
  json read_role = roles.get("widgets-read");
  json status = rule({"get"}, {"widgets/status"});
  read_role["rules"].push_back(status);
  roles.update(read_role);
  EXPECT_TRUE(rules_become("widgets", json::array({write, read, status})));
  // Deleted, or its label taken off: its rules go.
  roles.remove("widgets-a-write");
  EXPECT_TRUE(rules_become("widgets", json::array({read, status})));
  roles.patch("widgets-read", api::PatchType::Merge, {{"metadata", {{"labels", {{kLabel, nullptr}}}}}});
  EXPECT_TRUE(rules_become("widgets", json::array()));
  // Rules written into an aggregated role by hand are put back as the selectors say.
  roles.patch("widgets-read", api::PatchType::Merge, {{"metadata", {{"labels", {{kLabel, "true"}}}}}});
  EXPECT_TRUE(rules_become("widgets", json::array({read, status})));
  roles.patch("widgets", api::PatchType::Merge, {{"rules", json::array({rule({"*"}, {"*"}, "*")})}});
  EXPECT_TRUE(rules_become("widgets", json::array({read, status})));
}

TEST_F(ClusterRoleAggregationTest, TheDefaultRolesAggregateWhileTheApiserverRuns) {
  // A CRD-style viewer labelled for view reaches view, and through view's own label edit and admin.
  json viewer = rule({"get", "list", "watch"}, {"widgets"});
  resource("clusterroles", "").create(
      cluster_role("widgets-view", json::array({viewer}), {{"rbac.authorization.k8s.io/aggregate-to-view", "true"}}));
  for (const char* role : {"view", "edit", "admin"})
    EXPECT_TRUE(eventually([&] { return has_rule(role, viewer); }, 10s)) << role << ": " << rules_of(role).dump();
  EXPECT_FALSE(has_rule("cluster-admin", viewer));
  // A user bound to view may now list widgets (asked as kubectl auth can-i --as would, through a review).
  auto may_list = [&] {
    json review = {{"apiVersion", "authorization.k8s.io/v1"},
                   {"kind", "SubjectAccessReview"},
                   {"spec",
                    {{"user", "bob"},
                     {"resourceAttributes",
                      {{"namespace", "default"}, {"verb", "list"}, {"group", "example.com"}, {"resource", "widgets"}}}}}};
    return client_->resource("subjectaccessreviews").create(review).value("/status/allowed"_json_pointer, false);
  };
  EXPECT_FALSE(may_list());
  auto bound = (*kubectl_)({"create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", "default"});
  ASSERT_EQ(bound.rc, 0) << bound.err;
  EXPECT_TRUE(eventually(may_list));
  resource("clusterroles", "").remove("widgets-view");
  for (const char* role : {"view", "edit", "admin"})
    EXPECT_TRUE(eventually([&] { return !has_rule(role, viewer); }, 10s)) << role << ": " << rules_of(role).dump();
}

// kctl-controller-manager on the HTTPS port as system:kube-controller-manager, which holds neither every right nor
// the rules it gathers (impersonate): it may write aggregated roles because its role grants `escalate` on
// clusterroles, as kube's clusterrole-aggregation-controller's does.
TEST(ClusterRoleAggregationHttps, TheControllerManagersIdentityMayEscalateClusterRoles) {
  int secure = free_port();
  ApiServerProcess server({"--secure-port=" + std::to_string(secure)});
  auto client = api::Client::connect(server.url());
  std::string pki_dir = server.dir() + "/data/pki/";
  pki::KeyPair ca{pki::read_pem(pki_dir + "ca.crt"), pki::read_pem(pki_dir + "ca.key")};
  auto cm_pair = pki::issue(ca, {"system:kube-controller-manager", {}}, pki::Usage::Client, {});
  std::string certs = make_temp_dir("aggregation-https");
  std::string cert = write_file(certs, "cm.crt", cm_pair.cert_pem), key = write_file(certs, "cm.key", cm_pair.key_pem);
  ControllerManagerProcess cm("https://127.0.0.1:" + std::to_string(secure),
                              {"--controllers=clusterrole-aggregation", "--certificate-authority=" + pki_dir + "ca.crt",
                               "--client-certificate=" + cert, "--client-key=" + key});
  ASSERT_TRUE(eventually([&] { return cm.log().find("started with") != std::string::npos; }, 30s)) << cm.log();

  auto roles = client.resource("clusterroles");
  roles.create(aggregating("impersonators", kLabel));
  json impersonate = rule({"impersonate"}, {"users", "groups"}, "");
  roles.create(cluster_role("impersonate-users", json::array({impersonate}), {{kLabel, "true"}}));
  json seen;
  EXPECT_TRUE(eventually([&] { return (seen = roles.get("impersonators").value("rules", json::array())) == json::array({impersonate}); },
                         10s))
      << seen.dump() << "\n" << cm.log();
  EXPECT_EQ(cm.log().find("forbidden"), std::string::npos) << cm.log();
  std::filesystem::remove_all(certs);
}
