// A worker joins as kubeadm's do: `kctl token create --print-join-command` on the master, `kctl node join` on the
// worker (cluster-info read without credentials, its CA trusted only with the right pin, the token checked), then a
// real kctl-kubelet with --bootstrap-kubeconfig asks for its client certificate with a CertificateSigningRequest
// that a real kctl-controller-manager approves (csrapproving) and signs (csrsigning). From then on the node is
// system:node:NAME: it runs its pods, and the real kubectl with its kubeconfig is refused another node's pods.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <regex>

#include <gtest/gtest.h>

#include "api/client.h"
#include "api/pki.h"
#include "controller_manager_process.h"
#include "kctl_compare.h"
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;

namespace {

class NodeJoinTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }

  void SetUp() override {
    secure_port_ = free_port();
    server_ = std::make_unique<ApiServerProcess>(
        std::vector<std::string>{"--secure-port=" + std::to_string(secure_port_), "--bind-address=127.0.0.1"});
    pki_ = server_->dir() + "/data/pki/";
    admin_ = server_->dir() + "/data/admin.kubeconfig";
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    root_ = make_temp_dir("joined-node");
    work_ = make_temp_dir("join");
  }
  void TearDown() override {
    KubeletNodeTest::TearDown();
    std::filesystem::remove_all(work_);
  }

  CmdResult kctl(std::vector<std::string> args, const std::string& kubeconfig = "") {
    std::vector<std::string> argv = {"env", "HOME=" + work_, kctl_binary()};
    if (!kubeconfig.empty()) argv.push_back("--kubeconfig=" + kubeconfig);
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 60);
  }
  CmdResult kubectl(std::vector<std::string> args, const std::string& kubeconfig) {
    std::vector<std::string> argv = {"env", "HOME=" + work_, Kubectl::find(""), "--kubeconfig=" + kubeconfig};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 60);
  }
  std::string secure_url() const { return "https://127.0.0.1:" + std::to_string(secure_port_); }

  int secure_port_ = 0;
  std::string pki_, admin_, work_;
};

}  // namespace

// The whole join, as a user runs it, and the node's identity afterwards.
TEST_F(NodeJoinTest, AWorkerJoinsWithABootstrapTokenAndMayOnlyTouchItsOwnPods) {
  ControllerManagerProcess cm(server_->url(), {"--controllers=csrapproving,csrsigning",
                                               "--cluster-signing-cert-file=" + pki_ + "ca.crt",
                                               "--cluster-signing-key-file=" + pki_ + "ca.key"});
  // On the master: a token, printed as the command the worker runs.
  auto created = kctl({"token", "create", "--ttl=1h", "--print-join-command", "--join-command-file", work_ + "/join-command"},
                      admin_);
  ASSERT_EQ(created.rc, 0) << created.err;
  EXPECT_EQ(mode_of(work_ + "/join-command"), 0600u);
  std::ifstream saved(work_ + "/join-command");
  std::stringstream saved_text;
  saved_text << saved.rdbuf();
  EXPECT_EQ(saved_text.str(), created.out);
  std::smatch m;
  std::string line = created.out;
  ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(kctl node join (\S+) --token (\S+) --ca-cert-hash (sha256:[0-9a-f]{64}))")))
      << line;
  std::string master = m[1], token = m[2], pin = m[3];
  EXPECT_EQ(master, "127.0.0.1:" + std::to_string(secure_port_));
  auto listed = kctl({"token", "list"}, admin_);
  EXPECT_TRUE(contains(listed.out, token) && contains(listed.out, "authentication,signing")) << listed.out;

  // On the worker: a wrong pin, or a token the master does not know, is refused before anything is written.
  std::string bootstrap = work_ + "/bootstrap-kubelet.conf", kubeconfig = work_ + "/kubelet.conf";
  std::string wrong_pin = "sha256:" + std::string(64, '0');
  auto refused = kctl({"node", "join", master, "--token", token, "--ca-cert-hash", wrong_pin, "--bootstrap-kubeconfig", bootstrap, "--flags-dir", work_});
  EXPECT_NE(refused.rc, 0);
  EXPECT_TRUE(contains(refused.err, "none of the public keys \"" + pin + "\" are pinned")) << refused.err;
  auto unknown = kctl({"node", "join", master, "--token", "zzzzzz.0123456789abcdef", "--ca-cert-hash", pin,
                       "--bootstrap-kubeconfig", bootstrap, "--flags-dir", work_});
  EXPECT_NE(unknown.rc, 0);
  EXPECT_TRUE(contains(unknown.err, "Unauthorized")) << unknown.err;
  EXPECT_FALSE(std::filesystem::exists(bootstrap));

  auto joined = kctl({"node", "join", master, "--token", token, "--ca-cert-hash", pin, "--bootstrap-kubeconfig", bootstrap, "--flags-dir", work_});
  ASSERT_EQ(joined.rc, 0) << joined.err;
  EXPECT_TRUE(contains(joined.out, "authenticates as system:bootstrap:" + token.substr(0, 6))) << joined.out;
  EXPECT_EQ(mode_of(bootstrap), 0600u);
  // The flags the node's units read (kubeadm's kubeadm-flags.env).
  std::ifstream env(work_ + "/kubelet/flags.env");
  std::string env_line;
  std::getline(env, env_line);
  EXPECT_EQ(env_line, "KCTL_KUBELET_ARGS=\"--bootstrap-kubeconfig=" + bootstrap + " --kubeconfig=" + work_ +
                          "/kubelet/kubeconfig --client-ca-file=" + work_ + "/pki/ca.crt\"");
  EXPECT_EQ(pki::public_key_pin(pki::read_pem(work_ + "/pki/ca.crt")), pin);

  // The kubelet bootstraps its certificate and registers as itself.
  kubelet_ = std::make_unique<KubeletProcess>(secure_url(), "worker-1", root_, kPodCidr, "127.0.0.1",
                                              std::vector<std::string>{"--bootstrap-kubeconfig=" + bootstrap,
                                                                       "--kubeconfig=" + kubeconfig});
  ASSERT_TRUE(wait_for([&] { return client_->resource("nodes").get("worker-1")["metadata"]["name"] == "worker-1"; }, 60s))
      << kubelet_->log() << cm.log();
  EXPECT_EQ(mode_of(kubeconfig), 0600u);
  EXPECT_EQ(mode_of(root_ + "/pki/kubelet-client-current.pem"), 0600u);
  auto csrs = client_->resource("certificatesigningrequests").list().items;
  ASSERT_EQ(csrs.size(), 1u);
  EXPECT_EQ(csrs[0]["spec"]["username"], "system:bootstrap:" + token.substr(0, 6));
  EXPECT_EQ(csrs[0]["status"]["conditions"][0]["reason"], "AutoApproved");
  EXPECT_FALSE(csrs[0]["status"].value("certificate", "").empty());
  auto whoami = kubectl({"auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"}, kubeconfig);
  EXPECT_EQ(whoami.out, "system:node:worker-1 [\"system:nodes\",\"system:authenticated\"]") << whoami.err;

  // Its own pod runs (the kubelet reads it and writes its status as system:node:worker-1).
  create_pod(R"({"metadata": {"name": "mine"}, "spec": {"nodeName": "worker-1", "containers": [
      {"name": "main", "image": "kctl/busybox", "command": ["sleep", "1000"]}]}})");
  EXPECT_TRUE(wait_phase("mine", "Running", 60s)) << kubelet_->log();

  // Another node's pod: the worker may read it, never change or delete it.
  client_->resource("nodes").create({{"metadata", {{"name", "worker-2"}}}});
  create_pod(R"({"metadata": {"name": "theirs"}, "spec": {"nodeName": "worker-2", "containers": [
      {"name": "main", "image": "kctl/busybox", "command": ["sleep", "1000"]}]}})");
  EXPECT_EQ(kubectl({"get", "pod", "theirs", "-o", "name"}, kubeconfig).out, "pod/theirs\n");
  auto del = kubectl({"delete", "pod", "theirs", "--wait=false"}, kubeconfig);
  EXPECT_NE(del.rc, 0);
  EXPECT_TRUE(contains(del.err, "Forbidden") && contains(del.err, "system:node:worker-1")) << del.err;
  auto label = kubectl({"label", "pod", "theirs", "stolen=yes"}, kubeconfig);
  EXPECT_NE(label.rc, 0);
  EXPECT_TRUE(contains(label.err, "Forbidden")) << label.err;
  auto other_node = kubectl({"annotate", "node", "worker-2", "stolen=yes"}, kubeconfig);
  EXPECT_NE(other_node.rc, 0);
  EXPECT_TRUE(contains(other_node.err, "Forbidden")) << other_node.err;
  EXPECT_EQ(client_->resource("pods", "default").get("theirs")["metadata"].value("labels", nlohmann::json::object()).size(), 0u);
  // Its own node, it may annotate.
  auto own = kubectl({"annotate", "node", "worker-1", "mine=yes"}, kubeconfig);
  EXPECT_EQ(own.rc, 0) << own.err;

  // A restart keeps the certificate: no second request.
  kubelet_->stop();
  kubelet_->start();
  EXPECT_TRUE(wait_for([&] { return contains(kubelet_->log(), "registered with"); }, 30s)) << kubelet_->log();
  EXPECT_EQ(client_->resource("certificatesigningrequests").list().items.size(), 1u);
  client_->resource("pods", "default").remove("theirs", {{"gracePeriodSeconds", 0}});
}

// Without a signer the request stays pending, and the kubelet says what it waits for; a denied request ends it.
TEST_F(NodeJoinTest, ADeniedRequestStopsTheKubeletWithTheReason) {
  auto created = kctl({"token", "create", "abcdef.0123456789abcdef"}, admin_);
  ASSERT_EQ(created.rc, 0) << created.err;
  EXPECT_EQ(created.out, "abcdef.0123456789abcdef\n");
  std::string bootstrap = work_ + "/bootstrap-kubelet.conf";
  // As a booted worker joins: the master and token from /etc/kctl/join.conf (here, a file of the test's).
  std::string join_conf = write_file(work_, "join.conf", "# written by the image\nKCTL_MASTER=127.0.0.1:" +
                                                             std::to_string(secure_port_) +
                                                             "\nKCTL_TOKEN=\"abcdef.0123456789abcdef\"\n");
  auto joined = kctl({"node", "join", "--join-config", join_conf, "--discovery-token-unsafe-skip-ca-verification",
                      "--bootstrap-kubeconfig", bootstrap, "--flags-dir", work_});
  ASSERT_EQ(joined.rc, 0) << joined.err;
  auto nothing = kctl({"node", "join", "--join-config", work_ + "/absent.conf", "--flags-dir", work_});
  EXPECT_NE(nothing.rc, 0);
  EXPECT_TRUE(contains(nothing.err, "no master to join")) << nothing.err;
  kubelet_ = std::make_unique<KubeletProcess>(secure_url(), "worker-3", root_, kPodCidr, "127.0.0.1",
                                              std::vector<std::string>{"--bootstrap-kubeconfig=" + bootstrap,
                                                                       "--kubeconfig=" + work_ + "/kubelet.conf"});
  auto csrs = client_->resource("certificatesigningrequests");
  ASSERT_TRUE(wait_for([&] { return csrs.list().items.size() == 1; }, 30s)) << kubelet_->log();
  std::string name = csrs.list().items[0]["metadata"]["name"];
  EXPECT_TRUE(wait_for([&] { return contains(kubelet_->log(), "Waiting for the certificate of CertificateSigningRequest " + name); }))
      << kubelet_->log();
  Kubectl admin(server_->url());
  auto denied = admin({"certificate", "deny", name});
  ASSERT_EQ(denied.rc, 0) << denied.err;
  EXPECT_TRUE(wait_for([&] { return contains(kubelet_->log(), "certificate request " + name + " was denied"); }, 20s))
      << kubelet_->log();
  EXPECT_FALSE(std::filesystem::exists(work_ + "/kubelet.conf"));
  auto deleted = kctl({"token", "delete", "abcdef"}, admin_);
  EXPECT_EQ(deleted.out, "bootstrap token \"abcdef\" deleted\n") << deleted.err;
}
