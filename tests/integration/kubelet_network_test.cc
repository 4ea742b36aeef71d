// Pod egress through the kubelet's masquerade table, with a real kubelet and real pods in a node namespace of the
// test's own: an "outside" host (another network namespace behind a veth, 192.168.77.2, with no route to the pod
// network) sees a pod's connection come from the node's address, while a pod reaching another pod keeps its own
// address; and the table the kubelet made holds exactly one rule however often it restarts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const char* kNodeIp = "192.168.77.1";
const char* kOutsideIp = "192.168.77.2";

// A TCP listener in a given network namespace that answers every connection with a tiny HTTP response naming the
// peer address it saw, and records that address.
class PeerRecorder {
 public:
  PeerRecorder(const std::string& netns_path, int port) {
    // setns() moves only the calling thread; the socket stays in the namespace it was made in.
    std::thread([&] {
      int ns = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) return;
      ::close(ns);
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(uint16_t(port));
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
    }).join();
    if (fd_ >= 0) thread_ = std::thread([this] { serve(); });
  }
  ~PeerRecorder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool listening() const { return fd_ >= 0; }
  std::vector<std::string> peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int c = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      {
        std::lock_guard lock(mutex_);
        peers_.push_back(ip);
      }
      char req[2048];
      pollfd r{c, POLLIN, 0};
      if (::poll(&r, 1, 2000) > 0) (void)!::read(c, req, sizeof req);
      std::string body = std::string("peer ") + ip + "\n";
      std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
      (void)!::write(c, resp.data(), resp.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> peers_;
};

// A pod that fetches http://TARGET/ until it gets an answer and prints it.
std::string fetching_pod(const std::string& name, const std::string& url) {
  return R"({"metadata":{"name":")" + name + R"("},"spec":{"nodeName":"node-1","restartPolicy":"Never",
    "containers":[{"name":"c","image":"kctl/busybox","command":["sh","-c",
      "for i in $(seq 1 100); do timeout 5 wget -q -O - )" + url + R"( && exit 0; sleep 0.2; done; exit 1"]}]}})";
}

class KubeletNetworkTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() {
    enter_node_namespace();
    // The outside host: a namespace behind a veth, which knows nothing of the pod network.
    outside_ = "kctl-it-outside-" + std::to_string(::getpid());
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", outside_},
             {"ip", "link", "add", "kout0", "type", "veth", "peer", "name", "eth0", "netns", outside_},
             {"ip", "addr", "add", std::string(kNodeIp) + "/24", "dev", "kout0"},
             {"ip", "link", "set", "kout0", "up"},
             {"ip", "-n", outside_, "link", "set", "lo", "up"},
             {"ip", "-n", outside_, "addr", "add", std::string(kOutsideIp) + "/24", "dev", "eth0"},
             {"ip", "-n", outside_, "link", "set", "eth0", "up"}}) {
      auto r = run_process(argv);
      ASSERT_TRUE(r.ok()) << describe_failure(argv, r);
    }
  }
  static void TearDownTestSuite() {
    if (!outside_.empty()) run_process({"ip", "netns", "del", outside_});
  }
  void SetUp() override { start_node({}, kNodeIp); }

  // The rules of the kubelet's table, as nft's JSON lists them.
  static std::vector<json> table_rules() {
    auto r = run({"nft", "-j", "list", "table", "ip", "kctl-kubelet"});
    std::vector<json> out;
    if (r.rc != 0) return out;
    json all = parse_json(r.out);
    for (const auto& item : all["nftables"])
      if (item.contains("rule")) out.push_back(item["rule"]);
    return out;
  }
  static std::string table_listing() { return run({"nft", "list", "table", "ip", "kctl-kubelet"}).out; }
  bool node_ready() {
    json n = client_->resource("nodes").get("node-1");
    for (const auto& c : n["status"]["conditions"])
      if (c["type"] == "Ready") return c["status"] == "True";
    return false;
  }

  static std::string outside_;
};

std::string KubeletNetworkTest::outside_;

}  // namespace

TEST_F(KubeletNetworkTest, PodEgressLeavesWithTheNodeAddressAndPodToPodKeepsThePodAddress) {
  PeerRecorder outside("/run/netns/" + outside_, 8080);
  ASSERT_TRUE(outside.listening());

  create_pod(fetching_pod("egress", "http://" + std::string(kOutsideIp) + ":8080/"));
  ASSERT_TRUE(wait_phase("egress", "Succeeded")) << pod_status("egress").dump(2) << kubelet_->log();
  ASSERT_FALSE(outside.peers().empty());
  EXPECT_EQ(outside.peers().back(), kNodeIp) << "the outside host saw the pod's own address";
  // The node forwards: the kubelet turned it on in its namespace (a new one starts with forwarding off).
  EXPECT_EQ(slurp("/proc/sys/net/ipv4/ip_forward"), "1\n");
  std::string pod_ip = pod_status("egress")["podIP"];
  EXPECT_EQ(pod_ip.rfind("10.244.1.", 0), 0u);
  auto logs = server_->client().request("GET", "/api/v1/namespaces/default/pods/egress/log");
  // (nspawn may add a warning about /run not being a tmpfs after it: the first line is the pod's.)
  EXPECT_EQ(logs.body.substr(0, logs.body.find('\n') + 1), std::string("peer ") + kNodeIp + "\n") << logs.body;
  // Counted by the kubelet's rule.
  EXPECT_EQ(table_listing().find("counter packets 0 "), std::string::npos) << table_listing();

  // Pod to pod inside the cluster CIDR: the server pod's network namespace gets a listener; the client pod's
  // address arrives unchanged.
  create_pod(R"({"metadata":{"name":"server"},"spec":{"nodeName":"node-1",
    "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","1000"]}]}})");
  ASSERT_TRUE(wait_phase("server", "Running")) << kubelet_->log();
  std::string server_uid = pods().get("server")["metadata"]["uid"];
  std::string server_ip = pod_status("server")["podIP"];
  PeerRecorder in_pod("/run/netns/kctl-" + server_uid, 8081);
  ASSERT_TRUE(in_pod.listening());
  create_pod(fetching_pod("client", "http://" + server_ip + ":8081/"));
  ASSERT_TRUE(wait_phase("client", "Succeeded")) << pod_status("client").dump(2);
  std::string client_ip = pod_status("client")["podIP"];
  ASSERT_FALSE(in_pod.peers().empty());
  EXPECT_EQ(in_pod.peers().back(), client_ip);
  EXPECT_NE(client_ip, kNodeIp);
}

// The table is made as one batch at start-up and replaced, not added to, at every start: one rule, whatever was in
// it; it stays when the kubelet exits (its pods keep running and need it).
TEST_F(KubeletNetworkTest, RestartsConvergeOnOneRule) {
  ASSERT_TRUE(wait_for([&] { return node_ready(); }, 20s)) << kubelet_->log();
  auto rules = table_rules();
  ASSERT_EQ(rules.size(), 1u) << table_listing() << kubelet_->log();
  std::string text = table_listing();
  EXPECT_NE(text.find("type nat hook postrouting priority srcnat; policy accept;"), std::string::npos) << text;
  EXPECT_NE(text.find("ip saddr 10.244.1.0/24 ip daddr != 10.244.0.0/16 counter packets"), std::string::npos) << text;
  EXPECT_NE(text.find(" masquerade comment"), std::string::npos) << text;

  kubelet_->stop();
  EXPECT_EQ(table_rules().size(), 1u) << "the table went with the kubelet";
  // Something else added to the table meanwhile.
  ASSERT_EQ(run({"nft", "add", "rule", "ip", "kctl-kubelet", "postrouting", "counter"}).rc, 0);
  ASSERT_EQ(run({"nft", "add", "chain", "ip", "kctl-kubelet", "stray"}).rc, 0);
  for (int i = 0; i < 2; ++i) {
    kubelet_->start();
    ASSERT_TRUE(wait_for([&] { return table_rules().size() == 1 && table_listing().find("stray") == std::string::npos; },
                         20s))
        << table_listing() << kubelet_->log();
    kubelet_->stop();
  }
  // A new cluster CIDR replaces the rule.
  kubelet_->set_extra_args({"--cluster-cidr=10.0.0.0/8"});
  kubelet_->start();
  ASSERT_TRUE(wait_for([&] { return table_listing().find("ip daddr != 10.0.0.0/8") != std::string::npos; }, 20s))
      << table_listing() << kubelet_->log();
  EXPECT_EQ(table_rules().size(), 1u) << table_listing();
}

// Flags that would leave the node half-configured stop the kubelet before it starts, naming the flag.
TEST_F(KubeletNetworkTest, BadFlagsAreRefused) {
  for (auto [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"--cluster-cidr=10.244.0.0", "--cluster-cidr must be an IPv4 CIDR"},
           {"--cluster-cidr=fd00::/8", "--cluster-cidr must be an IPv4 CIDR"},
           {"--container-log-max-size=0", "--container-log-max-size must be a positive quantity"},
           {"--container-log-max-size=ten", "--container-log-max-size must be a positive quantity"},
           {"--container-log-max-files=1", "--container-log-max-files must be at least 2"}}) {
    auto r = run({std::string(KCTL_BIN_DIR) + "/kctl-kubelet", "--apiserver=" + server_->url(), "--node-ip=127.0.0.1",
                  flag, "--dbus=none", "--root-dir=" + root_ + "/other"});
    EXPECT_EQ(r.rc, 2) << flag;
    EXPECT_NE(r.err.find(message), std::string::npos) << flag << ": " << r.err;
  }
}
