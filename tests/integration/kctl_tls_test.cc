// kctl and kubectl 1.33 against a kctl-apiserver serving HTTPS: one kubeconfig with a CA and a client certificate,
// as files and inline as *-data, used by both tools; and the TLS failures (an unknown authority, a name the
// certificate is not for, plain HTTP to the HTTPS port, a CA file that is missing)
// worded and exited as kubectl words and exits them.
#include <fstream>
#include <sstream>

#include "api/go_json.h"
#include "kctl_compare.h"

using namespace kctl::test;

namespace {

class KctlTlsTest : public KctlTest {
 protected:
  std::vector<std::string> server_args() override {
    secure_port_ = free_port();
    return pki_.apiserver_flags(secure_port_);
  }
  std::string https_url() const { return "https://127.0.0.1:" + std::to_string(secure_port_); }
  static std::string base64_of(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return kctl::api::base64_encode(ss.str());
  }
  // A kubeconfig for `server` whose cluster and user entries hold the given lines.
  std::string kubeconfig(const std::string& name, const std::string& server, const std::string& cluster_lines,
                         const std::string& user_lines) {
    return file(name, "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: " + server + "\n" +
                          cluster_lines + "contexts:\n- name: s\n  context:\n    cluster: s\n    user: u\n"
                          "current-context: s\nusers:\n- name: u\n  user:\n" + user_lines);
  }
  std::string with_files(const std::string& name, const std::string& ca) {
    return kubeconfig(name, https_url(), "    certificate-authority: " + ca + "\n",
                      "    client-certificate: " + pki_.client_cert + "\n    client-key: " + pki_.client_key + "\n");
  }

  TestPki pki_;
  int secure_port_ = 0;
};

TEST_F(KctlTlsTest, OneKubeconfigWithCertificateFilesServesBothTools) {
  std::string kc = with_files("files", pki_.ca_cert);
  auto created = run({"env", "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kc, "create", "configmap", "over-tls",
                      "--from-literal=a=b"});
  ASSERT_EQ(created.rc, 0) << created.err;
  EXPECT_EQ(created.out, "configmap/over-tls created\n");
  EXPECT_TRUE(contains(same_with_kubeconfig(kc, {"get", "cm"}).out, "over-tls"));
  same_with_kubeconfig(kc, {"get", "ns"});
  same_with_kubeconfig(kc, {"get", "cm", "over-tls", "-o", "yaml"});
  same_with_kubeconfig(kc, {"get", "svc", "kubernetes", "-o", "jsonpath={.spec.ports[0].port}"});
  // The `kubernetes` Endpoints lead to the secure port, as kube-apiserver's do.
  auto ep = same_with_kubeconfig(kc, {"get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].ports[0].port}"});
  EXPECT_EQ(ep.out, std::to_string(secure_port_));
  auto del = same_with_kubeconfig(kc, {"delete", "cm", "nope"});
  EXPECT_EQ(del.rc, 1);
}

TEST_F(KctlTlsTest, InlineCertificateDataServesBothTools) {
  std::string kc = kubeconfig("inline", https_url(), "    certificate-authority-data: " + base64_of(pki_.ca_cert) + "\n",
                              "    client-certificate-data: " + base64_of(pki_.client_cert) +
                                  "\n    client-key-data: " + base64_of(pki_.client_key) + "\n");
  EXPECT_TRUE(contains(same_with_kubeconfig(kc, {"get", "ns"}).out, "kube-system"));
  // A token user presents no certificate: the connection is made all the same, and the unknown token is refused
  // (401) alike by both tools.
  std::string token = kubeconfig("token", https_url(),
                                 "    certificate-authority-data: " + base64_of(pki_.ca_cert) + "\n", "    token: abc\n");
  auto refused = same_with_kubeconfig(token, {"get", "ns"});
  EXPECT_NE(refused.rc, 0);
  EXPECT_TRUE(contains(refused.err, "error: You must be logged in to the server")) << refused.err;
}

TEST_F(KctlTlsTest, TlsFailuresReadLikeKubectls) {
  std::string untrusted = with_files("untrusted", pki_.other_ca_cert);
  auto r = same_with_kubeconfig(untrusted, {"get", "pods"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.err, "x509: certificate signed by unknown authority")) << r.err;
  // --insecure-skip-tls-verify sets the kubeconfig's CA aside.
  r = same_with_kubeconfig(untrusted, {"get", "ns", "default", "--insecure-skip-tls-verify"});
  EXPECT_EQ(r.rc, 0) << r.err;
  std::string trusted = with_files("trusted", pki_.ca_cert);
  r = same_with_kubeconfig(trusted, {"get", "pods", "--tls-server-name=elsewhere.example"});
  EXPECT_TRUE(contains(r.err, "x509: certificate is valid for localhost, not elsewhere.example")) << r.err;
  r = same_with_kubeconfig(trusted, {"get", "ns", "default", "--server=https://localhost:" + std::to_string(secure_port_)});
  EXPECT_EQ(r.rc, 0) << r.err;
  // Plain HTTP to the HTTPS port gets Go's answer (kubectl reports the connection reset that follows it).
  auto plain = kctl({"get", "pods", "--server=http://127.0.0.1:" + std::to_string(secure_port_)});
  EXPECT_EQ(plain.rc, 1);
  EXPECT_EQ(plain.err, "Error from server (BadRequest): Client sent an HTTP request to an HTTPS server.\n");
  same_with_kubeconfig(with_files("missing-ca", dir_ + "/no-such-ca.crt"), {"get", "pods"});
}

}  // namespace
