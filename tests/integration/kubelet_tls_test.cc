// The kubelet API (port 10250) over HTTPS, callable only by the apiserver: a kubelet given the cluster CA as
// --client-ca-file serves kubectl logs and exec relayed by an apiserver with its own PKI, answers 401 to a caller
// without a certificate and 403 to a plain user's; the apiserver's --kubelet-* flags choose its client certificate
// and the CA it checks kubelets against.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "api/pki.h"
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kLogPod = R"({
  "metadata": {"name": "talker"},
  "spec": {"nodeName": "node-1", "containers": [
    {"name": "main", "image": "kctl/busybox", "command": ["sh", "-c", "echo hello-from-talker; exec sleep 1000"]}]}})";

constexpr const char* kLogsPath = "/containerLogs/default/talker/main";

class KubeletTlsTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }

  // curl straight to the kubelet (not through the apiserver): "CODE BODY".
  static std::string curl_kubelet(const std::string& path, std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10", "-o", "-", "-w", " %{http_code}"};
    if (std::find(args.begin(), args.end(), "--cacert") == args.end()) argv.push_back("-k");
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("https://127.0.0.1:10250" + path);
    auto r = run(argv, "", 15);
    return r.rc == 0 ? r.out : "curl failed: " + r.err;
  }
  void start_talker() {
    create_pod(kLogPod);
    ASSERT_TRUE(wait_phase("talker", "Running")) << kubelet_->log();
  }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The status code at the end of curl_kubelet()'s answer.
std::string code_of(const std::string& answer) { return answer.size() < 3 ? answer : answer.substr(answer.size() - 3); }

}  // namespace

// The apiserver with its own PKI (HTTPS on a free port) and a kubelet trusting only its CA: kubectl through the
// apiserver works; straight to the kubelet, no certificate is 401, a plain user's certificate from the same CA 403,
// the apiserver's kubelet client certificate 200, and one from another CA ends the handshake.
TEST_F(KubeletTlsTest, OnlyTheApiServerMayCallAKubeletWithAClientCa) {
  start_node({}, "127.0.0.1", {"--secure-port=" + std::to_string(free_port()), "--bind-address=127.0.0.1"});
  std::string pki = server_->dir() + "/data/pki/";
  ASSERT_TRUE(std::filesystem::exists(pki + "apiserver-kubelet-client.crt")) << server_->log();
  EXPECT_EQ(mode_of(pki + "apiserver-kubelet-client.key"), 0600u);
  // The CA exists once the apiserver runs: the kubelet starts again, trusting it.
  kubelet_->stop();
  kubelet_->set_extra_args({"--client-ca-file=" + pki + "ca.crt"});
  kubelet_->start();
  ASSERT_TRUE(wait_for([] { return curl_kubelet("/healthz") == "ok 200"; })) << kubelet_->log();
  start_talker();

  Kubectl kubectl(server_->url());
  ASSERT_TRUE(wait_for([&] { return kubectl({"logs", "talker"}).out == "hello-from-talker\n"; }))
      << kubectl({"logs", "talker"}).err << kubelet_->log();
  auto exec = kubectl({"exec", "talker", "--", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(exec.rc, 3) << exec.err;
  EXPECT_EQ(exec.out, "out\n");
  EXPECT_EQ(exec.err, "err\ncommand terminated with exit code 3\n");

  // No certificate: 401, as a Status.
  std::string anonymous = curl_kubelet(kLogsPath);
  EXPECT_TRUE(contains(anonymous, R"("reason":"Unauthorized")")) << anonymous;
  EXPECT_EQ(code_of(anonymous), "401") << anonymous;
  EXPECT_EQ(code_of(curl_kubelet("/exec/default/talker/main?command=id")), "401");
  EXPECT_EQ(code_of(curl_kubelet("/nowhere")), "401");
  // A user the cluster CA vouches for, but neither the apiserver nor an admin: 403 in the kubelet's words.
  pki::KeyPair ca{pki::read_pem(pki + "ca.crt"), pki::read_pem(pki + "ca.key")};
  std::string dir = make_temp_dir("users");
  auto user_flags = [&](const std::string& name, const pki::KeyPair& pair) {
    write_file(dir, name + ".crt", pair.cert_pem);
    write_file(dir, name + ".key", pair.key_pem);
    return std::vector<std::string>{"--cert", dir + "/" + name + ".crt", "--key", dir + "/" + name + ".key"};
  };
  auto bob = user_flags("bob", pki::issue(ca, {"bob", {"developers"}}, pki::Usage::Client, {}));
  std::string forbidden = curl_kubelet(kLogsPath, bob);
  EXPECT_TRUE(contains(forbidden, R"x("message":"Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)")x"))
      << forbidden;
  EXPECT_EQ(code_of(forbidden), "403") << forbidden;
  EXPECT_TRUE(contains(kubelet_->log(), "Forbidden (user=bob")) << kubelet_->log();
  // The apiserver's own kubelet client certificate, and the cluster admin's: served.
  EXPECT_EQ(curl_kubelet(kLogsPath, {"--cert", pki + "apiserver-kubelet-client.crt", "--key",
                                     pki + "apiserver-kubelet-client.key"}),
            "hello-from-talker\n 200");
  EXPECT_EQ(curl_kubelet(kLogsPath, {"--cert", pki + "admin.crt", "--key", pki + "admin.key"}),
            "hello-from-talker\n 200");
  // The same name from a CA the kubelet does not trust: no TLS session at all.
  auto stranger = user_flags("stranger", pki::issue(pki::make_ca("kubernetes"), {"kube-apiserver-kubelet-client",
                                                                                 {"system:masters"}},
                                                    pki::Usage::Client, {}));
  EXPECT_TRUE(contains(curl_kubelet(kLogsPath, stranger), "curl failed")) << curl_kubelet(kLogsPath, stranger);
  std::filesystem::remove_all(dir);
}

// Given no certificate, the kubelet makes a self-signed one for its IP and name (ROOT_DIR/pki, as the kubelet's
// --cert-dir), and a client that trusts it verifies the kubelet with it. An apiserver without a PKI of its own and
// without --kubelet-client-certificate shows kubelets no certificate: one that wants it refuses (401, relayed).
TEST_F(KubeletTlsTest, SelfSignedServingCertificateAndAnApiServerWithoutClientCertificate) {
  TestPki certs;
  start_node();
  ASSERT_TRUE(wait_for([] { return curl_kubelet("/healthz") == "ok 200"; })) << kubelet_->log();
  std::string crt = root_ + "/pki/kubelet.crt";
  EXPECT_EQ(mode_of(root_ + "/pki/kubelet.key"), 0600u);
  EXPECT_TRUE(contains(kubelet_->log(), "made a self-signed serving certificate " + crt)) << kubelet_->log();
  EXPECT_EQ(curl_kubelet("/healthz", {"--cacert", crt}), "ok 200");  // the chain's CA, the node IP in its SANs
  auto sans = run({"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", crt});
  EXPECT_TRUE(contains(sans.out, "DNS:node-1")) << sans.out;
  EXPECT_TRUE(contains(sans.out, "IP Address:127.0.0.1")) << sans.out;
  // Kept at the next start.
  std::string first = slurp(crt);
  kubelet_->stop();
  kubelet_->set_extra_args({"--client-ca-file=" + certs.ca_cert});
  kubelet_->start();
  ASSERT_TRUE(wait_for([] { return curl_kubelet("/healthz") == "ok 200"; })) << kubelet_->log();
  EXPECT_EQ(slurp(crt), first);

  start_talker();
  Kubectl kubectl(server_->url());
  auto logs = kubectl({"logs", "talker"});
  EXPECT_NE(logs.rc, 0);
  EXPECT_TRUE(contains(logs.err, "Unauthorized")) << logs.err;
}

// --kubelet-client-certificate/--kubelet-client-key are what the apiserver shows kubelets, and with
// --kubelet-certificate-authority it checks their serving certificates: the CA of the kubelet's --tls-cert-file lets
// kubectl logs through.
TEST_F(KubeletTlsTest, KubeletClientFlagsWithTheKubeletsCa) {
  TestPki certs;
  start_node({"--tls-cert-file=" + certs.server_cert, "--tls-private-key-file=" + certs.server_key,
              "--client-ca-file=" + certs.ca_cert},
             "127.0.0.1",
             {"--kubelet-client-certificate=" + certs.client_cert, "--kubelet-client-key=" + certs.client_key,
              "--kubelet-certificate-authority=" + certs.ca_cert});
  start_talker();
  Kubectl kubectl(server_->url());
  ASSERT_TRUE(wait_for([&] { return kubectl({"logs", "talker"}).out == "hello-from-talker\n"; }))
      << kubectl({"logs", "talker"}).err << kubelet_->log();
  EXPECT_FALSE(std::filesystem::exists(root_ + "/pki/kubelet.crt"));
}

// ... and a kubelet whose certificate another CA signed is not reached.
TEST_F(KubeletTlsTest, KubeletCertificateAuthorityRefusesAnotherCa) {
  TestPki certs;
  start_node({"--tls-cert-file=" + certs.server_cert, "--tls-private-key-file=" + certs.server_key,
              "--client-ca-file=" + certs.ca_cert},
             "127.0.0.1",
             {"--kubelet-client-certificate=" + certs.client_cert, "--kubelet-client-key=" + certs.client_key,
              "--kubelet-certificate-authority=" + certs.other_ca_cert});
  start_talker();
  Kubectl kubectl(server_->url());
  auto refused = kubectl({"logs", "talker"});
  EXPECT_NE(refused.rc, 0);
  EXPECT_TRUE(contains(refused.err, "certificate signed by unknown authority")) << refused.err;
  // A flag without its pair stops the apiserver at once.
  auto half = run({std::string(KCTL_BIN_DIR) + "/kctl-apiserver", "--kubelet-client-certificate=" + certs.client_cert});
  EXPECT_EQ(half.rc, 2);
  EXPECT_TRUE(contains(half.err, "--kubelet-client-certificate and --kubelet-client-key go together")) << half.err;
}
