// RBAC escalation prevention seen by the real kubectl on the HTTPS port, as a user with a client certificate from the
// cluster CA: a namespace admin cannot grant in a Role, or bind, what they do not hold, and can once given `escalate`
// or `bind`; kube-apiserver's 403 messages word for word.
#include <filesystem>

#include "api/pki.h"
#include "kctl_compare.h"

using namespace kctl::test;
using namespace kctl;

namespace {

class KubectlRbacEscalationTest : public KctlTest {
 protected:
  std::vector<std::string> server_args() override {
    secure_port_ = free_port();
    return {"--secure-port=" + std::to_string(secure_port_)};
  }
  void SetUp() override {
    KctlTest::SetUp();
    if (HasFatalFailure()) return;
    std::string pki_dir = server_->dir() + "/data/pki/";
    pki::KeyPair ca{pki::read_pem(pki_dir + "ca.crt"), pki::read_pem(pki_dir + "ca.key")};
    auto dana = pki::issue(ca, {"dana", {"devs"}}, pki::Usage::Client, {});
    certs_ = make_temp_dir("rbac-escalation");
    write_file(certs_, "dana.crt", dana.cert_pem);
    write_file(certs_, "dana.key", dana.key_pem);
    // dana administers team: the `admin` ClusterRole lets her write Roles and RoleBindings there, but holds no `*`
    // on anything and nothing cluster-wide.
    ASSERT_EQ(admin({"create", "namespace", "team"}).rc, 0);
    auto bound = admin({"create", "rolebinding", "dana-admin", "--clusterrole=admin", "--user=dana", "-n", "team"});
    ASSERT_EQ(bound.rc, 0) << bound.err;
    ASSERT_TRUE(eventually([&] { return as_dana({"auth", "can-i", "create", "roles", "-n", "team"}).out == "yes\n"; }));
  }
  void TearDown() override {
    if (!certs_.empty()) std::filesystem::remove_all(certs_);
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(secure_port_); }
  // kubectl as the cluster admin (the apiserver's admin.kubeconfig: system:masters).
  CmdResult admin(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, kubectl_->binary(),
                                     "--kubeconfig=" + server_->dir() + "/data/admin.kubeconfig"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input);
  }
  // kubectl as dana, with only the server, the CA and her certificate.
  CmdResult as_dana(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, kubectl_->binary(), "--kubeconfig=/dev/null",
                                     "--server=" + url(), "--certificate-authority=" + server_->dir() + "/data/pki/ca.crt",
                                     "--client-certificate=" + certs_ + "/dana.crt",
                                     "--client-key=" + certs_ + "/dana.key"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input);
  }

  int secure_port_ = 0;
  std::string certs_;
};

// kube-apiserver's refusal of a write that grants what dana does not hold, as kubectl prints it: "Error from server
// (Forbidden): " first, but `kubectl create rolebinding` wraps the error in its own words.
std::string refusal(const std::string& resource, const std::string& name, const std::string& missing) {
  std::string lead = resource == "rolebindings" ? "error: failed to create rolebinding: " : "Error from server (Forbidden): ";
  return lead + resource + ".rbac.authorization.k8s.io \"" + name +
         "\" is forbidden: user \"dana\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC "
         "permissions not currently held:\n" + missing + "\n";
}

const char* const kAllSecrets = R"({APIGroups:[""], Resources:["secrets"], Verbs:["*"]})";
const char* const kEverything = "{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}";

}  // namespace

TEST_F(KubectlRbacEscalationTest, ARoleMayGrantOnlyWhatItsWriterHolds) {
  auto r = as_dana({"create", "role", "secret-admin", "--verb=*", "--resource=secrets", "-n", "team"});
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, refusal("roles", "secret-admin", kAllSecrets));
  EXPECT_EQ(admin({"get", "role", "secret-admin", "-n", "team"}).rc, 1);  // nothing was stored

  r = as_dana({"create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,pods/log", "-n", "team"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "role.rbac.authorization.k8s.io/pod-reader created\n");
  // A patch is an update: checked the same way.
  r = as_dana({"patch", "role", "pod-reader", "-n", "team", "--type=json", "-p",
               R"([{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["*"]}}])"});
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, refusal("roles", "pod-reader", kAllSecrets));
  // apply of a manifest that creates one.
  std::string manifest = write_file(certs_, "role.yaml", R"(apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: node-reader
  namespace: team
rules:
- apiGroups: [""]
  resources: ["nodes", "pods"]
  verbs: ["get", "delete"]
)");
  r = as_dana({"apply", "-f", manifest});
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(contains(r.err, "Error from server (Forbidden): error when creating \"" + manifest +
                                  "\": roles.rbac.authorization.k8s.io \"node-reader\" is forbidden: user \"dana\" "
                                  "(groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC "
                                  "permissions not currently held:\n"
                                  R"({APIGroups:[""], Resources:["nodes"], Verbs:["get" "delete"]})"))
      << r.err;

  // With `escalate` on roles in team, anything goes there.
  ASSERT_EQ(admin({"create", "role", "escalator", "--verb=escalate", "--resource=roles.rbac.authorization.k8s.io",
                   "-n", "team"}).rc, 0);
  ASSERT_EQ(admin({"create", "rolebinding", "dana-escalates", "--role=escalator", "--user=dana", "-n", "team"}).rc, 0);
  r = as_dana({"create", "role", "secret-admin", "--verb=*", "--resource=secrets", "-n", "team"});
  EXPECT_EQ(r.rc, 0) << r.err;
}

TEST_F(KubectlRbacEscalationTest, BindingClusterAdminNeedsTheBindVerb) {
  auto r = as_dana({"create", "rolebinding", "eve-root", "--clusterrole=cluster-admin", "--user=eve", "-n", "team"});
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, refusal("rolebindings", "eve-root", kEverything));
  // A role within dana's own permissions she may bind without asking.
  r = as_dana({"create", "rolebinding", "eve-view", "--clusterrole=view", "--user=eve", "-n", "team"});
  EXPECT_EQ(r.rc, 0) << r.err;
  // A role that does not exist: kube's 404 from reading it.
  r = as_dana({"create", "rolebinding", "eve-ghost", "--clusterrole=ghost", "--user=eve", "-n", "team"});
  EXPECT_EQ(r.err, "error: failed to create rolebinding: clusterroles.rbac.authorization.k8s.io \"ghost\" not found\n");

  // The admin lets dana bind cluster-admin, by name, in team.
  ASSERT_EQ(admin({"create", "role", "root-binder", "--verb=bind", "--resource=clusterroles.rbac.authorization.k8s.io",
                   "--resource-name=cluster-admin", "-n", "team"}).rc, 0);
  ASSERT_EQ(admin({"create", "rolebinding", "dana-binds", "--role=root-binder", "--user=dana", "-n", "team"}).rc, 0);
  EXPECT_EQ(as_dana({"auth", "can-i", "bind", "clusterroles/cluster-admin", "-n", "team"}).out, "yes\n");
  r = as_dana({"create", "rolebinding", "eve-root", "--clusterrole=cluster-admin", "--user=eve", "-n", "team"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "rolebinding.rbac.authorization.k8s.io/eve-root created\n");
  // Only that role: another she does not hold is still refused.
  r = as_dana({"create", "rolebinding", "eve-node", "--clusterrole=system:node", "--user=eve", "-n", "team"});
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(contains(r.err, "error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io \"eve-node\" "
                              "is forbidden: user \"dana\"")) << r.err;
  // eve now administers team through dana's binding.
  EXPECT_EQ(admin({"auth", "can-i", "delete", "secrets", "-n", "team", "--as=eve"}).out, "yes\n");
}
