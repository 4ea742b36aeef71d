// The real kubectl against a real kctl-apiserver with the RBAC kinds: discovery, the create generators (role,
// clusterrole, rolebinding, clusterrolebinding), get in Table and wide form, describe, apply, and roleRef's
// immutability as kube-apiserver reports it.
#include <gtest/gtest.h>

#include <regex>

#include "harness.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

class KubectlRbacTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    ASSERT_FALSE(kubectl_->binary().empty()) << "kubectl not found";
    dir_ = make_temp_dir("rbac-manifests");
  }
  CmdResult k(const std::vector<std::string>& args, const std::string& input = "") { return (*kubectl_)(args, input); }
  CmdResult ok(const std::vector<std::string>& args, const std::string& input = "") {
    auto r = k(args, input);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.rc, 0) << "kubectl " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r;
  }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<Kubectl> kubectl_;
  std::string dir_;
};

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

const char* kRoleManifest = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: default
rules:
- apiGroups: [""]
  resources: ["pods", "pods/log"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["settings"]
  verbs: ["get"]
)";

}  // namespace

TEST_F(KubectlRbacTest, DiscoveryListsTheFourKinds) {
  auto r = ok({"api-resources", "--api-group=rbac.authorization.k8s.io", "-o", "wide"});
  EXPECT_TRUE(contains(r.out, "clusterrolebindings")) << r.out;
  EXPECT_TRUE(contains(r.out, "clusterroles")) << r.out;
  EXPECT_TRUE(contains(r.out, "rolebindings")) << r.out;
  EXPECT_TRUE(contains(r.out, "roles ")) << r.out;
  json list = parse_json(server_->client().request("GET", "/apis/rbac.authorization.k8s.io/v1", "").body);
  std::map<std::string, bool> namespaced;
  for (const auto& res : list["resources"]) namespaced[res["name"]] = res["namespaced"];
  EXPECT_EQ(namespaced, (std::map<std::string, bool>{{"clusterrolebindings", false},
                                                     {"clusterroles", false},
                                                     {"rolebindings", true},
                                                     {"roles", true}}));
}

TEST_F(KubectlRbacTest, CreateGeneratorsGetAndDescribe) {
  ok({"create", "clusterrole", "pod-viewer", "--verb=get,list", "--resource=pods,pods/log"});
  auto r = ok({"get", "clusterroles"});
  // Beside the default roles; CREATED AT is an RFC 3339 time, as kube-apiserver's default Table.
  EXPECT_TRUE(std::regex_search(r.out, std::regex("^NAME +CREATED AT\n"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\npod-viewer +20[0-9-]+T[0-9:]+Z\n"))) << r.out;
  EXPECT_TRUE(contains(r.out, "\ncluster-admin ")) << r.out;
  json cr = parse_json(ok({"get", "clusterrole", "pod-viewer", "-o", "json"}).out);
  EXPECT_EQ(cr["rules"][0]["resources"], json::array({"pods", "pods/log"})) << cr;

  r = ok({"create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", "default"});
  EXPECT_TRUE(contains(r.out, "rolebinding.rbac.authorization.k8s.io/bob-view created")) << r.out;
  ok({"create", "sa", "ci", "-n", "default"});
  ok({"create", "rolebinding", "ci-edit", "--clusterrole=edit", "--serviceaccount=default:ci", "--group=devs",
      "-n", "default"});
  r = ok({"get", "rolebinding", "-o", "wide", "-n", "default"});
  EXPECT_TRUE(contains(r.out, "NAME       ROLE               AGE   USERS   GROUPS   SERVICEACCOUNTS")) << r.out;
  EXPECT_TRUE(contains(r.out, "bob-view   ClusterRole/view")) << r.out;
  EXPECT_TRUE(contains(r.out, "ci-edit    ClusterRole/edit")) << r.out;
  EXPECT_TRUE(contains(r.out, "devs     default/ci")) << r.out;
  r = ok({"get", "rolebinding", "-n", "default"});
  EXPECT_TRUE(contains(r.out, "NAME       ROLE               AGE")) << r.out;
  EXPECT_FALSE(contains(r.out, "USERS")) << r.out;

  r = ok({"create", "clusterrolebinding", "root", "--clusterrole=cluster-admin", "--group=system:masters"});
  EXPECT_TRUE(contains(r.out, "clusterrolebinding.rbac.authorization.k8s.io/root created")) << r.out;
  r = ok({"get", "clusterrolebinding", "root", "-o", "wide"});
  EXPECT_TRUE(contains(r.out, "ClusterRole/cluster-admin")) << r.out;
  EXPECT_TRUE(contains(r.out, "system:masters")) << r.out;

  r = ok({"describe", "rolebinding", "bob-view", "-n", "default"});
  EXPECT_TRUE(contains(r.out, "Role:\n  Kind:  ClusterRole\n  Name:  view")) << r.out;
  EXPECT_TRUE(contains(r.out, "User  bob")) << r.out;
  r = ok({"describe", "clusterrole", "pod-viewer"});
  EXPECT_TRUE(contains(r.out, "pods/log")) << r.out;
  EXPECT_TRUE(contains(r.out, "[get list]")) << r.out;
}

TEST_F(KubectlRbacTest, ApplyCreateRoleAndImmutableRoleRef) {
  std::string path = write_file(dir_, "role.yaml", kRoleManifest);
  auto r = ok({"apply", "-f", path});
  EXPECT_TRUE(contains(r.out, "role.rbac.authorization.k8s.io/pod-reader created")) << r.out;
  r = ok({"apply", "-f", path});
  EXPECT_TRUE(contains(r.out, "role.rbac.authorization.k8s.io/pod-reader unchanged")) << r.out;
  r = ok({"create", "role", "cm-writer", "--verb=create,update", "--resource=configmaps", "-n", "default"});
  EXPECT_TRUE(contains(r.out, "role.rbac.authorization.k8s.io/cm-writer created")) << r.out;
  r = ok({"get", "roles", "-n", "default"});
  EXPECT_TRUE(contains(r.out, "NAME         CREATED AT")) << r.out;
  EXPECT_TRUE(contains(r.out, "pod-reader")) << r.out;

  ok({"create", "rolebinding", "rb", "--role=pod-reader", "--user=amy", "-n", "default"});
  r = k({"patch", "rolebinding", "rb", "-n", "default", "--type=merge", "-p", R"({"roleRef":{"name":"cm-writer"}})"});
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(contains(r.err, R"(roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"cm-writer"}: cannot change roleRef)"))
      << r.err;
  r = k({"create", "role", "bad", "--verb=get", "--non-resource-url=/healthz", "-n", "default"});
  EXPECT_NE(r.rc, 0);
}
