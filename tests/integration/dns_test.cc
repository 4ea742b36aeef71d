// kctl-dns with a real apiserver, in a network namespace of the suite's own: Services and Endpoints created through
// the API become names (A, SRV, headless, endpoint hostnames) answered over UDP and TCP, asked by busybox's nslookup,
// by a small client and by the C library's resolver with a pod's resolv.conf (short names through the search path);
// unknown names are NXDOMAIN with the SOA; other names go to a fake upstream; the server keeps itself registered
// behind kube-system/kube-dns at the tenth service address beside the controller manager.
#include <sched.h>

#include <gtest/gtest.h>

#include "api/client.h"
#include "controller_manager_process.h"
#include "daemons/dns/dns_server.h"
#include "daemons/kubelet/pod_dns.h"
#include "dns_client.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class DnsTest : public ::testing::Test {
 protected:
  // A network namespace of the suite's own: port 53 on its loopback is free for the C library's resolver, which
  // asks nowhere else, and nothing is left behind.
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
    // An IPv4 address besides loopback, as a pod has: getaddrinfo's AI_ADDRCONFIG asks for no A records without.
    for (const auto& argv : std::vector<std::vector<std::string>>{{"ip", "link", "set", "lo", "up"},
                                                                  {"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"},
                                                                  {"ip", "addr", "add", "192.0.2.2/24", "dev", "eth0"},
                                                                  {"ip", "link", "set", "eth0", "up"},
                                                                  {"ip", "link", "set", "eth1", "up"}}) {
      auto r = run(argv);
      ASSERT_EQ(r.rc, 0) << r.err;
    }
  }
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    dir_ = make_temp_dir("dns");
  }
  void TearDown() override {
    dns_.stop();
    std::filesystem::remove_all(dir_);
  }
  void start_dns(const std::vector<std::string>& extra = {}, int port = 0) {
    port_ = port ? port : free_port();
    std::vector<std::string> argv = {std::string(KCTL_BIN_DIR) + "/kctl-dns", "--apiserver=" + server_->url(),
                                     "--bind-address=127.0.0.1", "--port=" + std::to_string(port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    // A log per start: the wait below must not find the line of a server stopped before.
    dns_.start(argv, dir_ + "/dns-" + std::to_string(++starts_) + ".log");
    ASSERT_TRUE(eventually([&] { return dns_.log().find("answering for") != std::string::npos; }, 10s)) << dns_.log();
  }
  std::optional<dns::Message> ask(const std::string& name, uint16_t qtype = dns::type::kA) {
    return ask_udp("127.0.0.1", port_, dns_query(name, qtype, ++id_));
  }
  // The answers' data once the name has at least one answer (the server learns from a watch: soon, not at once).
  std::vector<std::string> answers(const std::string& name, uint16_t qtype = dns::type::kA) {
    std::vector<std::string> out;
    eventually([&] {
      auto m = ask(name, qtype);
      out.clear();
      if (m)
        for (const auto& r : m->answers) out.push_back(r.data);
      return !out.empty();
    });
    return out;
  }
  json create(const std::string& resource, const std::string& ns, const std::string& manifest) {
    return client_->resource(resource, ns).create(json::parse(manifest));
  }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::string dir_;
  ChildProcess dns_;
  int port_ = 0, starts_ = 0;
  uint16_t id_ = 100;
};

const char* kWeb = R"({"metadata":{"name":"web"},"spec":{"selector":{"app":"web"},
    "ports":[{"name":"http","port":80,"targetPort":8080},{"name":"metrics","port":9090,"protocol":"UDP"}]}})";

}  // namespace

TEST_F(DnsTest, ServiceNamesResolveToTheClusterIp) {
  start_dns({"--upstream=none"});
  json svc = create("services", "default", kWeb);
  std::string ip = svc["spec"]["clusterIP"];
  EXPECT_EQ(answers("web.default.svc.cluster.local"), std::vector<std::string>{ip});
  auto m = ask("WEB.default.SVC.Cluster.Local");  // case-insensitive; the answer keeps the question's case
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->header.aa);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].name, "WEB.default.SVC.Cluster.Local");
  EXPECT_EQ(m->answers[0].ttl, 30u);
  // busybox's nslookup, as a user would ask.
  auto r = run({"busybox", "nslookup", "-port=" + std::to_string(port_), "web.default.svc.cluster.local", "127.0.0.1"});
  EXPECT_NE(r.out.find("Address: " + ip), std::string::npos) << r.out << r.err;
  // The kubernetes Service the apiserver made, at the first address.
  EXPECT_EQ(answers("kubernetes.default.svc.cluster.local"), std::vector<std::string>{"10.96.0.1"});
  // AAAA of an IPv4 Service: NOERROR without records.
  auto aaaa = ask("web.default.svc.cluster.local", dns::type::kAAAA);
  ASSERT_TRUE(aaaa);
  EXPECT_EQ(aaaa->header.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(aaaa->answers.empty());
  // Deleted: gone from DNS too.
  client_->resource("services", "default").remove("web");
  EXPECT_TRUE(eventually([&] {
    auto gone = ask("web.default.svc.cluster.local");
    return gone && gone->header.rcode == dns::rcode::kNXDomain;
  }));
}

TEST_F(DnsTest, SrvRecordsForNamedPorts) {
  start_dns({"--upstream=none"});
  json svc = create("services", "default", kWeb);
  EXPECT_EQ(answers("_http._tcp.web.default.svc.cluster.local", dns::type::kSRV),
            std::vector<std::string>{"0 100 80 web.default.svc.cluster.local"});
  EXPECT_EQ(answers("_metrics._udp.web.default.svc.cluster.local", dns::type::kSRV),
            std::vector<std::string>{"0 100 9090 web.default.svc.cluster.local"});
  auto m = ask("_http._tcp.web.default.svc.cluster.local", dns::type::kSRV);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->additional.size(), 1u);  // the target's address comes along
  EXPECT_EQ(m->additional[0].data, svc["spec"]["clusterIP"]);
  auto r = run({"busybox", "nslookup", "-type=SRV", "-port=" + std::to_string(port_),
                "_http._tcp.web.default.svc.cluster.local", "127.0.0.1"});
  EXPECT_NE(r.out.find("0 100 80 web.default.svc.cluster.local"), std::string::npos) << r.out << r.err;
}

TEST_F(DnsTest, HeadlessServicesAnswerTheirReadyEndpointsAndHostnames) {
  start_dns({"--upstream=none"});
  create("services", "default", R"({"metadata":{"name":"db"},"spec":{"clusterIP":"None",
      "ports":[{"name":"sql","port":5432}]}})");
  create("endpoints", "default", R"({"metadata":{"name":"db"},"subsets":[{
      "addresses":[{"ip":"10.244.1.5","hostname":"db-0"},{"ip":"10.244.2.6","hostname":"db-1"}],
      "notReadyAddresses":[{"ip":"10.244.3.7","hostname":"db-2"}],
      "ports":[{"name":"sql","port":15432}]}]})");
  auto ips = answers("db.default.svc.cluster.local");
  std::sort(ips.begin(), ips.end());
  EXPECT_EQ(ips, (std::vector<std::string>{"10.244.1.5", "10.244.2.6"}));
  EXPECT_EQ(answers("db-1.db.default.svc.cluster.local"), std::vector<std::string>{"10.244.2.6"});
  auto unready = ask("db-2.db.default.svc.cluster.local");
  ASSERT_TRUE(unready);
  EXPECT_EQ(unready->header.rcode, dns::rcode::kNXDomain);
  auto srv = answers("_sql._tcp.db.default.svc.cluster.local", dns::type::kSRV);
  std::sort(srv.begin(), srv.end());
  EXPECT_EQ(srv, (std::vector<std::string>{"0 50 15432 db-0.db.default.svc.cluster.local",
                                           "0 50 15432 db-1.db.default.svc.cluster.local"}));
  auto r = run({"busybox", "nslookup", "-port=" + std::to_string(port_), "db-0.db.default.svc.cluster.local",
                "127.0.0.1"});
  EXPECT_NE(r.out.find("Address: 10.244.1.5"), std::string::npos) << r.out << r.err;
}

// The C library's resolver in a "pod" of namespace `ns`: the resolv.conf the kubelet writes for ClusterFirst with
// --cluster-dns=127.0.0.1, bound over /etc/resolv.conf in a mount namespace of getent's own. The first IPv4
// address, or "" when the name does not resolve.
std::string resolve_in_pod(const std::string& dir, const std::string& ns, const std::string& name) {
  json pod = {{"metadata", {{"name", "client"}, {"namespace", ns}}}, {"spec", json::object()}};
  std::string conf = write_file(dir, "resolv-" + ns + ".conf",
                                format_resolv_conf(kubelet::pod_resolv_conf(
                                    pod, {{"127.0.0.1"}, "cluster.local", ""}, {})));
  auto r = run({"unshare", "--mount", "sh", "-c",
                "mount --bind " + conf + " /etc/resolv.conf && exec getent ahostsv4 " + name});
  if (r.rc != 0) return "";
  return r.out.substr(0, r.out.find(' '));
}

TEST_F(DnsTest, ShortNamesResolveThroughThePodsSearchPath) {
  start_dns({"--upstream=none"}, 53);
  std::string web = create("services", "default", kWeb)["spec"]["clusterIP"];
  create("services", "default", R"({"metadata":{"name":"db"},"spec":{"clusterIP":"None","ports":[{"port":5432}]}})");
  create("endpoints", "default", R"({"metadata":{"name":"db"},"subsets":[{"addresses":[{"ip":"10.244.1.5"}],
      "ports":[{"port":5432}]}]})");
  create("namespaces", "", R"({"metadata":{"name":"shop"}})");
  std::string cart = create("services", "shop", R"({"metadata":{"name":"cart"},"spec":{"ports":[{"port":80}]}})")
                         ["spec"]["clusterIP"];
  // <service> from its own namespace, <service>.<namespace> from any, and the full name.
  EXPECT_TRUE(eventually([&] { return resolve_in_pod(dir_, "default", "web") == web; }, 30s)) << dns_.log();
  EXPECT_EQ(resolve_in_pod(dir_, "default", "web.default"), web);
  EXPECT_EQ(resolve_in_pod(dir_, "default", "web.default.svc"), web);
  EXPECT_EQ(resolve_in_pod(dir_, "default", "web.default.svc.cluster.local"), web);
  EXPECT_TRUE(eventually([&] { return resolve_in_pod(dir_, "default", "db") == "10.244.1.5"; }, 30s));
  EXPECT_TRUE(eventually([&] { return resolve_in_pod(dir_, "shop", "cart") == cart; }, 30s));
  EXPECT_EQ(resolve_in_pod(dir_, "shop", "web.default"), web);
  EXPECT_EQ(resolve_in_pod(dir_, "default", "cart.shop"), cart);
  // The kube-dns Service this server registered, from anywhere.
  EXPECT_TRUE(eventually([&] { return resolve_in_pod(dir_, "shop", "kube-dns.kube-system") == "10.96.0.10"; }, 30s));
  // Another namespace's Service is not found by its short name; nor is what does not exist.
  EXPECT_EQ(resolve_in_pod(dir_, "shop", "web"), "");
  EXPECT_EQ(resolve_in_pod(dir_, "default", "nothere"), "");
}

TEST_F(DnsTest, UnknownNamesAreNxdomainWithTheSoa) {
  start_dns({"--upstream=none", "--cluster-domain=kctl.test"});
  auto m = ask("nothere.default.svc.kctl.test");
  ASSERT_TRUE(m) << dns_.log();
  EXPECT_EQ(m->header.rcode, dns::rcode::kNXDomain);
  EXPECT_TRUE(m->header.aa);
  ASSERT_EQ(m->authority.size(), 1u);
  EXPECT_EQ(m->authority[0].type, dns::type::kSOA);
  EXPECT_EQ(m->authority[0].name, "kctl.test");
  EXPECT_TRUE(m->authority[0].data.starts_with("ns.dns.kctl.test hostmaster.kctl.test ")) << m->authority[0].data;
  auto r = run({"busybox", "nslookup", "-port=" + std::to_string(port_), "nothere.default.svc.kctl.test", "127.0.0.1"});
  EXPECT_NE(r.out.find("NXDOMAIN"), std::string::npos) << r.out << r.err;
  // Outside the cluster domain with no upstream: REFUSED.
  auto outside = ask("debian.org");
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->header.rcode, dns::rcode::kRefused);
}

TEST_F(DnsTest, OtherNamesAreForwardedToTheUpstream) {
  FakeUpstream upstream("192.0.2.44");
  start_dns({"--upstream=" + upstream.address()});
  auto m = ask_udp("127.0.0.1", port_, dns_query("www.example.org", dns::type::kA, 0xBEEF));
  ASSERT_TRUE(m) << dns_.log();
  EXPECT_EQ(m->header.id, 0xBEEF);  // the client's id, whatever id went upstream
  EXPECT_EQ(m->header.rcode, dns::rcode::kNoError);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].data, "192.0.2.44");
  EXPECT_EQ(upstream.queries(), 1);
  auto r = run({"busybox", "nslookup", "-port=" + std::to_string(port_), "www.example.org", "127.0.0.1"});
  EXPECT_NE(r.out.find("Address: 192.0.2.44"), std::string::npos) << r.out << r.err;
  // The node's resolv.conf is the default upstream.
  dns_.stop();
  write_file(dir_, "resolv.conf", "search example\nnameserver " + upstream.address() + "\n");
  start_dns({"--resolv-conf=" + dir_ + "/resolv.conf"});
  auto again = ask("www.example.org");
  ASSERT_TRUE(again) << dns_.log() << " upstream queries: " << upstream.queries();
  ASSERT_EQ(again->answers.size(), 1u);
  EXPECT_EQ(again->answers[0].data, "192.0.2.44");
}

TEST_F(DnsTest, SilentUpstreamsGiveServfail) {
  FakeUpstream silent("192.0.2.1", true);
  start_dns({"--upstream=" + silent.address()});
  auto start = std::chrono::steady_clock::now();
  auto m = ask_udp("127.0.0.1", port_, dns_query("www.example.org", dns::type::kA, 7), 30000);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.rcode, dns::rcode::kServFail);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1900ms);  // after the upstream's 2 s
  EXPECT_EQ(silent.queries(), 1);
}

TEST_F(DnsTest, TcpAnswersWhatUdpTruncates) {
  start_dns({"--upstream=none"});
  create("services", "default", R"({"metadata":{"name":"big"},"spec":{"clusterIP":"None","ports":[{"port":80}]}})");
  json addrs = json::array();
  for (int i = 1; i <= 60; ++i) addrs.push_back({{"ip", "10.244.9." + std::to_string(i)}});
  client_->resource("endpoints", "default")
      .create({{"metadata", {{"name", "big"}}}, {"subsets", json::array({{{"addresses", addrs}, {"ports", json::array({{{"port", 80}}})}}})}});
  ASSERT_TRUE(eventually([&] {
    auto m = ask_tcp("127.0.0.1", port_, dns_query("big.default.svc.cluster.local", dns::type::kA, 9));
    return m && m->answers.size() == 60;
  })) << dns_.log();
  auto udp = ask("big.default.svc.cluster.local");
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->header.tc);
  EXPECT_LT(udp->answers.size(), 60u);
  auto tcp = ask_tcp("127.0.0.1", port_, dns_query("big.default.svc.cluster.local", dns::type::kA, 10));
  ASSERT_TRUE(tcp);
  EXPECT_FALSE(tcp->header.tc);
  EXPECT_EQ(tcp->header.id, 10);
  EXPECT_EQ(tcp->answers.size(), 60u);
}

// kctl-dns puts itself behind kube-system/kube-dns at the tenth service address, with the controller manager's
// endpoint, endpointslice and garbage collector controllers running beside it: they leave the selector-less
// Service's Endpoints and the slice kctl-dns manages alone, and whatever is deleted comes back.
TEST_F(DnsTest, RegistersBehindTheKubeDnsServiceAndRepairsIt) {
  ControllerManagerProcess cm(server_->url(), {"--controllers=endpoint,endpointslice,garbagecollector"});
  // Many Services first: random allocation leaves the static band, and so 10.96.0.10, alone.
  for (int i = 0; i < 30; ++i) {
    json s = create("services", "default", R"({"metadata":{"name":"s)" + std::to_string(i) +
                                               R"("},"spec":{"ports":[{"port":80}]}})");
    std::string ip = s["spec"]["clusterIP"];
    EXPECT_FALSE(ip.starts_with("10.96.0.")) << ip;
  }
  start_dns({"--upstream=none", "--advertise-address=10.250.0.1"});
  auto services = client_->resource("services", "kube-system");
  auto endpoints = client_->resource("endpoints", "kube-system");
  auto slices = client_->resource("endpointslices", "kube-system");
  auto kube_dns_slices = [&] {
    api::ListOptions o;
    o.label_selector = "kubernetes.io/service-name=kube-dns,endpointslice.kubernetes.io/managed-by=kctl-dns";
    return slices.list(o).items;
  };
  std::string port = std::to_string(port_);
  // Everything in place, and consistent: the slice owned by the Service as it is now.
  auto registered = [&] {
    json svc = services.get("kube-dns");
    json ep = endpoints.get("kube-dns");
    auto items = kube_dns_slices();
    if (items.size() != 1) return false;
    const json& slice = items[0];
    return svc["spec"]["clusterIP"] == "10.96.0.10" && !svc["spec"].contains("selector") &&
           ep["subsets"].size() == 1 && ep["subsets"][0]["addresses"].size() == 1 &&
           ep["subsets"][0]["addresses"][0]["ip"] == "10.250.0.1" &&
           slice["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"] &&
           slice["endpoints"].size() == 1 && slice["endpoints"][0]["addresses"] == json::array({"10.250.0.1"});
  };
  ASSERT_TRUE(eventually([&] {
    try {
      return registered();
    } catch (const std::exception&) {
      return false;
    }
  }, 30s)) << dns_.log() << cm.log();

  json svc = services.get("kube-dns");
  EXPECT_EQ(svc["metadata"]["labels"]["k8s-app"], "kube-dns");
  json ports = svc["spec"]["ports"];
  ASSERT_EQ(ports.size(), 2u) << svc;
  EXPECT_EQ(ports[0]["name"], "dns");
  EXPECT_EQ(ports[0]["protocol"], "UDP");
  EXPECT_EQ(ports[0]["port"], 53);
  EXPECT_EQ(ports[0]["targetPort"], port_);
  EXPECT_EQ(ports[1]["name"], "dns-tcp");
  EXPECT_EQ(ports[1]["protocol"], "TCP");
  EXPECT_EQ(ports[1]["port"], 53);
  json ep = endpoints.get("kube-dns");
  EXPECT_EQ(ep["subsets"][0]["ports"].size(), 2u) << ep;
  for (const auto& p : ep["subsets"][0]["ports"]) EXPECT_EQ(p["port"], port_) << ep;
  json slice = kube_dns_slices().at(0);
  EXPECT_EQ(slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "kctl-dns");
  EXPECT_EQ(slice["addressType"], "IPv4");
  EXPECT_EQ(slice["endpoints"][0]["conditions"]["ready"], true);
  ASSERT_EQ(slice["ports"].size(), 2u) << slice;
  EXPECT_EQ(slice["ports"][0]["port"], port_);

  // Its own name, and the SRV records of its named ports.
  EXPECT_EQ(answers("kube-dns.kube-system.svc.cluster.local"), std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(answers("ns.dns.cluster.local"), std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(answers("_dns._udp.kube-dns.kube-system.svc.cluster.local", dns::type::kSRV),
            std::vector<std::string>{"0 100 53 kube-dns.kube-system.svc.cluster.local"});
  EXPECT_EQ(answers("_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local", dns::type::kSRV),
            std::vector<std::string>{"0 100 53 kube-dns.kube-system.svc.cluster.local"});

  auto repaired = [&](const std::string& what) {
    EXPECT_TRUE(eventually([&] {
      try {
        return registered();
      } catch (const std::exception&) {
        return false;
      }
    }, 60s)) << what << "\n" << dns_.log() << cm.log();
  };
  // Deleted Endpoints, an edited one, a deleted slice: back as they were.
  endpoints.remove("kube-dns");
  repaired("Endpoints deleted");
  json edited = endpoints.get("kube-dns");
  edited["subsets"][0]["addresses"][0]["ip"] = "10.250.0.99";
  endpoints.update(edited);
  repaired("Endpoints edited");
  slices.remove(kube_dns_slices().at(0)["metadata"]["name"]);
  repaired("EndpointSlice deleted");
  // The Service deleted: the endpoints controller deletes its Endpoints, the garbage collector its slice; all three
  // come back, the slice owned by the new Service.
  std::string old_uid = services.get("kube-dns")["metadata"]["uid"];
  services.remove("kube-dns");
  EXPECT_TRUE(eventually([&] {
    try {
      return services.get("kube-dns")["metadata"]["uid"] != old_uid && registered();
    } catch (const std::exception&) {
      return false;
    }
  }, 60s)) << dns_.log() << cm.log();
  // A selector a user added is taken off again (else the endpoints controller would empty the Endpoints).
  json with_selector = services.get("kube-dns");
  with_selector["spec"]["selector"] = {{"k8s-app", "kube-dns"}};
  services.update(with_selector);
  repaired("selector added");
  EXPECT_FALSE(services.get("kube-dns")["spec"].contains("selector"));
  // The endpointslice controller made a slice while the selector was there; it selects no pod, so it holds no
  // endpoint to send queries to.
  api::ListOptions all;
  all.label_selector = "kubernetes.io/service-name=kube-dns";
  for (const auto& s : slices.list(all).items) {
    if (s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] != "kctl-dns") {
      EXPECT_TRUE(s.value("endpoints", json::array()).empty()) << s;
    }
  }
}

TEST_F(DnsTest, AdvertisesItsBindAddressAndTakesTheTenthAddressOfItsRange) {
  // A specific --bind-address is the endpoint; --service-cluster-ip-range decides the ClusterIP. The apiserver's
  // own range must hold it: 10.96.0.0/12 holds 10.100.0.10 too.
  start_dns({"--upstream=none", "--service-cluster-ip-range=10.100.0.0/16"});
  auto services = client_->resource("services", "kube-system");
  auto endpoints = client_->resource("endpoints", "kube-system");
  ASSERT_TRUE(eventually([&] {
    try {
      return services.get("kube-dns")["spec"]["clusterIP"] == "10.100.0.10" &&
             endpoints.get("kube-dns")["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1";
    } catch (const std::exception&) {
      return false;
    }
  }, 30s)) << dns_.log();
  // A range without a tenth address is refused.
  auto r = run({std::string(KCTL_BIN_DIR) + "/kctl-dns", "--service-cluster-ip-range=10.96.0.0/30", "--upstream=none"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--service-cluster-ip-range"), std::string::npos) << r.err;
}

TEST_F(DnsTest, StopsCleanlyOnSigterm) {
  start_dns({"--upstream=none"});
  // A TCP client that stays connected does not hold the stop up.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = ipv4_address("127.0.0.1", port_);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto start = std::chrono::steady_clock::now();
  dns_.stop();
  // Below the 10 s idle timeout a server that waited for its clients would take.
  EXPECT_LT(std::chrono::steady_clock::now() - start, dns::kTcpIdleTimeout - 1s);
  ::close(fd);
  EXPECT_NE(dns_.log().find("stopping on SIGTERM"), std::string::npos) << dns_.log();
}
