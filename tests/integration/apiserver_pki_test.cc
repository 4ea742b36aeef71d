// A kctl-apiserver given only a data directory and a secure port: the PKI it makes at its first start, HTTPS with
// ALPN http/1.1, and its admin.kubeconfig used unchanged by kctl, the real kubectl (which verifies the serving
// certificate against the CA) and curl; a restart keeps every file.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kctl_compare.h"

using namespace kctl::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ApiServerPkiTest : public KctlTest {
 protected:
  std::vector<std::string> server_args() override {
    secure_port_ = free_port();
    return {"--secure-port=" + std::to_string(secure_port_)};
  }
  std::string data(const std::string& rel) const { return server_->dir() + "/data/" + rel; }
  std::string kubeconfig() const { return data("admin.kubeconfig"); }
  std::string https_url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(secure_port_);
  }

  int secure_port_ = 0;
};

TEST_F(ApiServerPkiTest, FirstStartMakesThePkiAndTheAdminKubeconfig) {
  // The data directory and the store hold every Secret and the keys: root's alone.
  EXPECT_EQ(mode_of(server_->dir() + "/data"), 0700u);
  for (const char* db : {"state.db", "state.db-wal", "state.db-shm"}) EXPECT_EQ(mode_of(data(db)), 0600u) << db;
  for (const char* key : {"pki/ca.key", "pki/apiserver.key", "pki/admin.key", "pki/apiserver-kubelet-client.key",
                          "admin.kubeconfig"})
    EXPECT_EQ(mode_of(data(key)), 0600u) << key;
  for (const char* cert : {"pki/ca.crt", "pki/apiserver.crt", "pki/admin.crt", "pki/apiserver-kubelet-client.crt"})
    EXPECT_EQ(mode_of(data(cert)), 0644u) << cert;
  // The serving certificate's names, as openssl reads them.
  auto sans = run({"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", data("pki/apiserver.crt")});
  ASSERT_EQ(sans.rc, 0) << sans.err;
  for (const char* name : {"DNS:kubernetes,", "DNS:kubernetes.default,", "DNS:kubernetes.default.svc,",
                           "DNS:kubernetes.default.svc.cluster.local,", "DNS:localhost", "IP Address:127.0.0.1",
                           "IP Address:10.96.0.1"})
    EXPECT_TRUE(contains(sans.out, name)) << name << " in " << sans.out;
  auto admin = run({"openssl", "x509", "-noout", "-subject", "-nameopt", "compat", "-in", data("pki/admin.crt")});
  EXPECT_EQ(admin.out, "subject=/O=system:masters/CN=kubernetes-admin\n");
  auto kubelet_client = run({"openssl", "x509", "-noout", "-subject", "-nameopt", "compat", "-in",
                             data("pki/apiserver-kubelet-client.crt")});
  EXPECT_EQ(kubelet_client.out, "subject=/O=system:masters/CN=kube-apiserver-kubelet-client\n");

  auto view = kubectl({"config", "view", "--kubeconfig=" + kubeconfig(), "-o",
                       "jsonpath={.current-context} {.clusters[0].name} {.users[0].name} {.clusters[0].cluster.server}"});
  EXPECT_EQ(view.out, "kubernetes-admin@kubernetes kubernetes kubernetes-admin " + https_url()) << view.err;
  EXPECT_TRUE(contains(server_->log(), "created the cluster CA")) << server_->log();
}

TEST_F(ApiServerPkiTest, AdminKubeconfigServesKctlAndKubectl) {
  // kubectl verifies the serving certificate against certificate-authority-data: no --insecure-skip-tls-verify.
  auto ns = same_with_kubeconfig(kubeconfig(), {"get", "ns"});
  EXPECT_EQ(ns.rc, 0) << ns.err;
  EXPECT_TRUE(contains(ns.out, "kube-system")) << ns.out;
  auto created = run({"env", "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubeconfig(), "create", "configmap",
                      "over-pki", "--from-literal=a=b"});
  ASSERT_EQ(created.rc, 0) << created.err;
  EXPECT_TRUE(contains(same_with_kubeconfig(kubeconfig(), {"get", "cm", "over-pki"}).out, "over-pki"));
  // The certificate's other names reach the same server.
  auto by_name = same_with_kubeconfig(kubeconfig(), {"get", "ns", "default", "--server=" + https_url("localhost")});
  EXPECT_EQ(by_name.rc, 0) << by_name.err;
  auto by_service = same_with_kubeconfig(kubeconfig(), {"get", "ns", "default",
                                                        "--tls-server-name=kubernetes.default.svc.cluster.local"});
  EXPECT_EQ(by_service.rc, 0) << by_service.err;
  // The `kubernetes` Endpoints lead to the secure port.
  auto ep = same_with_kubeconfig(kubeconfig(), {"get", "endpoints", "kubernetes", "-o",
                                                "jsonpath={.subsets[0].ports[0].port}"});
  EXPECT_EQ(ep.out, std::to_string(secure_port_));
}

TEST_F(ApiServerPkiTest, CurlWithTheCaAndTheAdminCertificate) {
  auto r = run({"curl", "-sS", "--cacert", data("pki/ca.crt"), "--cert", data("pki/admin.crt"), "--key",
                data("pki/admin.key"), https_url() + "/version"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(parse_json(r.out).value("major", ""), "1") << r.out;
  // Without the CA, curl does not trust the server (60: the peer's certificate cannot be verified).
  r = run({"curl", "-sS", https_url() + "/version"});
  EXPECT_EQ(r.rc, 60) << r.out << r.err;
}

TEST_F(ApiServerPkiTest, AlpnSelectsHttp11) {
  auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(secure_port_), "-alpn",
                "h2,http/1.1", "-CAfile", data("pki/ca.crt"), "-verify_ip", "127.0.0.1", "-verify_return_error"});
  EXPECT_TRUE(contains(r.out, "ALPN protocol: http/1.1")) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "Verify return code: 0 (ok)")) << r.out;
}

// Bound to 127.0.0.1, the serving certificate does not name the host's addresses, which a suite running beside this
// one (a local cluster's bridge) may change between the two starts.
class ApiServerPkiRestartTest : public ApiServerPkiTest {
 protected:
  std::vector<std::string> server_args() override {
    auto args = ApiServerPkiTest::server_args();
    args.push_back("--bind-address=127.0.0.1");
    return args;
  }
};

TEST_F(ApiServerPkiRestartTest, RestartKeepsEveryFile) {
  std::vector<std::string> files = {"pki/ca.crt", "pki/ca.key", "pki/apiserver.crt", "pki/apiserver.key",
                                    "pki/admin.crt", "pki/admin.key", "admin.kubeconfig"};
  std::vector<std::string> before;
  for (const auto& f : files) before.push_back(slurp(data(f)));
  server_->stop();
  // As an older kctl-apiserver left them: readable by everyone. The start tightens them.
  fs::permissions(server_->dir() + "/data", fs::perms(0755));
  fs::permissions(data("state.db"), fs::perms(0644));
  server_->start();
  for (size_t i = 0; i < files.size(); ++i) EXPECT_EQ(slurp(data(files[i])), before[i]) << files[i] << " changed";
  EXPECT_EQ(mode_of(server_->dir() + "/data"), 0700u);
  EXPECT_EQ(mode_of(data("state.db")), 0600u);
  auto ns = same_with_kubeconfig(kubeconfig(), {"get", "ns", "default"});
  EXPECT_EQ(ns.rc, 0) << ns.err;
}

TEST(ApiServerPki, SecurePortZeroServesNoHttps) {
  // The harness's default: --secure-port=0, kube-apiserver's "no HTTPS"; no certificate is made under the data dir,
  // only the ServiceAccount token key (tokens are signed whatever the transport).
  ApiServerProcess server;
  std::vector<std::string> made;
  for (const auto& e : fs::directory_iterator(server.dir() + "/data/pki")) made.push_back(e.path().filename());
  std::sort(made.begin(), made.end());
  EXPECT_EQ(made, (std::vector<std::string>{"sa.key", "sa.pub"}));
  EXPECT_FALSE(fs::exists(server.dir() + "/data/admin.kubeconfig"));
  EXPECT_FALSE(contains(server.log(), "https://")) << server.log();
}

}  // namespace
