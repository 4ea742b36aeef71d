// The resolver configuration a real kubelet gives real pods, read from inside their containers with kubectl exec:
// ClusterFirst (the cluster server, the namespace's search path, ndots:5), None with dnsConfig, the managed hosts
// file; and a pod that resolves a Service by its short name through kctl-dns at its --cluster-dns address.
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// The bridge's address in kPodCidr: what pods reach the node at, and so where the test's kctl-dns answers.
const char* kNodeBridgeIp = "10.244.1.1";

class KubeletDnsTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }
  void SetUp() override {
    dir_ = make_temp_dir("kubelet-dns");
    // The node's resolver configuration, which ClusterFirst keeps the search domains of.
    write_file(dir_, "resolv.conf", "nameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n");
    start_node({"--cluster-dns=" + std::string(kNodeBridgeIp), "--cluster-domain=cluster.local",
                "--resolv-conf=" + dir_ + "/resolv.conf"});
  }
  void TearDown() override {
    dns_.stop();
    KubeletNodeTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
  // A pod that sleeps, once it runs.
  void run_sleeper(const std::string& name, const std::string& spec_extra = "") {
    create_pod(R"({"metadata":{"name":")" + name + R"("},"spec":{"nodeName":"node-1",)" + spec_extra +
               R"("containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"]}]}})");
    ASSERT_TRUE(wait_phase(name, "Running", 60s)) << pod_status(name) << kubelet_->log();
  }
  CmdResult exec(const std::string& pod, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"exec", pod, "--"};
    args.insert(args.end(), command.begin(), command.end());
    return Kubectl(server_->url())(args);
  }

  std::string dir_;
  ChildProcess dns_;
};

}  // namespace

TEST_F(KubeletDnsTest, ClusterFirstPodsAskTheClusterServerWithTheNamespaceSearchPath) {
  run_sleeper("web");
  auto r = exec("web", {"cat", "/etc/resolv.conf"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "search default.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
            "nameserver 10.244.1.1\n"
            "options ndots:5\n");
  // The managed hosts file names the pod at its address.
  std::string ip = pod_status("web")["podIP"];
  auto hosts = exec("web", {"cat", "/etc/hosts"});
  EXPECT_NE(hosts.out.find("# Kubernetes-managed hosts file.\n"), std::string::npos) << hosts.out;
  EXPECT_NE(hosts.out.find(ip + "\tweb\n"), std::string::npos) << hosts.out;
}

TEST_F(KubeletDnsTest, NonePodsGetExactlyTheirDnsConfig) {
  run_sleeper("custom", R"("dnsPolicy":"None","dnsConfig":{"nameservers":["192.0.2.10","192.0.2.11"],
      "searches":["apps.example","example"],"options":[{"name":"ndots","value":"2"},{"name":"edns0"}]},)");
  auto r = exec("custom", {"cat", "/etc/resolv.conf"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "search apps.example example\n"
            "nameserver 192.0.2.10\n"
            "nameserver 192.0.2.11\n"
            "options ndots:2 edns0\n");
  // Default: the node's file as it is.
  run_sleeper("plain", R"("dnsPolicy":"Default",)");
  auto d = exec("plain", {"cat", "/etc/resolv.conf"});
  EXPECT_EQ(d.out, "search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n") << d.err;
}

TEST_F(KubeletDnsTest, PodsResolveServicesByTheirShortNames) {
  // kctl-dns where the pods' resolv.conf sends them: port 53 on the node's bridge (the node's namespace is the
  // test's own, so the port is free).
  dns_.start({std::string(KCTL_BIN_DIR) + "/kctl-dns", "--apiserver=" + server_->url(), "--bind-address=0.0.0.0",
              "--port=53", "--upstream=none"},
             dir_ + "/dns.log");
  ASSERT_TRUE(eventually([&] { return dns_.log().find("answering for") != std::string::npos; }, 30s)) << dns_.log();
  json svc = client_->resource("services", "default")
                 .create(json::parse(R"({"metadata":{"name":"shop"},"spec":{"ports":[{"port":80}]}})"));
  std::string ip = svc["spec"]["clusterIP"];
  run_sleeper("client");
  // busybox's nslookup tries the search domains of /etc/resolv.conf for a name without dots; the server learns
  // the Service from its watch, so ask until it knows it.
  CmdResult last;
  EXPECT_TRUE(wait_for(
      [&] {
        last = exec("client", {"nslookup", "shop"});
        return last.out.find("Address: " + ip) != std::string::npos;
      },
      60s))
      << last.out << last.err << dns_.log();
  auto fqdn = exec("client", {"nslookup", "shop.default.svc.cluster.local"});
  EXPECT_NE(fqdn.out.find("Address: " + ip), std::string::npos) << fqdn.out << fqdn.err;
}

TEST_F(KubeletDnsTest, ClusterFirstWithoutClusterDnsFallsBackToDefaultWithAnEvent) {
  kubelet_->stop();
  kubelet_->set_extra_args({"--cluster-dns=", "--resolv-conf=" + dir_ + "/resolv.conf"});
  kubelet_->start();
  std::string uid = create_pod(R"({"metadata":{"name":"lost"},"spec":{"nodeName":"node-1",
      "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"]}]}})")["metadata"]["uid"];
  ASSERT_TRUE(wait_phase("lost", "Running", 60s)) << pod_status("lost") << kubelet_->log();
  auto r = exec("lost", {"cat", "/etc/resolv.conf"});
  EXPECT_EQ(r.out, "search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n") << r.err;
  const std::string message = "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                              "\"ClusterFirst\" policy. Falling back to \"Default\" policy.";
  auto events_about = [&](const std::string& field) {
    api::ListOptions o;
    o.field_selector = field;
    return client_->resource("events", "").list(o).items;
  };
  json on_pod, on_node;
  EXPECT_TRUE(wait_for([&] {
    for (const auto& e : events_about("involvedObject.uid=" + uid))
      if (e["reason"] == "MissingClusterDNS") on_pod = e;
    for (const auto& e : events_about("involvedObject.kind=Node"))
      if (e["reason"] == "MissingClusterDNS") on_node = e;
    return !on_pod.is_null() && !on_node.is_null();
  }, 30s)) << kubelet_->log();
  EXPECT_EQ(on_pod.value("type", ""), "Warning");
  EXPECT_EQ(on_pod.value("message", ""), "pod: \"lost_default(" + uid + ")\". " + message);
  EXPECT_EQ(on_node.value("message", ""), message);
}
