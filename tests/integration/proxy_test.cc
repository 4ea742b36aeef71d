// kctl-proxy as a process against a real apiserver, on a node played by the test's own network namespace: pods are
// further namespaces behind veths on the node bridge, each serving its name over HTTP (busybox httpd), and an
// "outside" host sits behind a veth on the node's address. What the tests check is what a user sees (curl's
// answers, refusals) and what the kernel holds (`nft -j list table ip kctl`), never the proxy's own account.
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const char* kNode = "node-1";
const char* kBridgeIp = "10.244.1.1";
const char* kNodeIp = "192.168.77.1";     // the node's address on its uplink
const char* kOutsideIp = "192.168.77.2";  // a host outside the cluster
const char* kClientIp = "10.244.1.20";    // a pod that serves nothing
// The serving pods: name, address. Each answers GET / on 8080 with its name.
const std::vector<std::pair<std::string, std::string>> kPods = {
    {"p0", "10.244.1.10"}, {"p1", "10.244.1.11"}, {"p2", "10.244.1.12"}};
constexpr int kTargetPort = 8080;
// curl's exit code for "connection refused", what a reject gives (a drop or a black hole gives 28, timed out).
constexpr int kCurlRefused = 7;

std::string ns_name(const std::string& what) { return "kctl-pt-" + std::to_string(::getpid()) + "-" + what; }

void must(const std::vector<std::string>& argv) {
  auto r = run(argv);
  ASSERT_EQ(r.rc, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << "...: " << r.err;
}

class ProxyTest : public ::testing::Test {
 protected:
  // The node: this process's own new network namespace, with the bridge kctl0 and an uplink to the outside host;
  // the pods and their servers, once for the suite.
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
    dir_ = make_temp_dir("proxy-pods");
    write_file("/proc/sys/net/ipv4", "ip_forward", "1\n");
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "link", "set", "lo", "up"},
             {"ip", "link", "add", "kctl0", "type", "bridge"},
             {"ip", "addr", "add", std::string(kBridgeIp) + "/24", "dev", "kctl0"},
             {"ip", "link", "set", "kctl0", "up"},
             {"ip", "netns", "add", ns_name("out")},
             {"ip", "link", "add", "kout0", "type", "veth", "peer", "name", "eth0", "netns", ns_name("out")},
             {"ip", "addr", "add", std::string(kNodeIp) + "/24", "dev", "kout0"},
             {"ip", "link", "set", "kout0", "up"},
             {"ip", "-n", ns_name("out"), "link", "set", "lo", "up"},
             {"ip", "-n", ns_name("out"), "addr", "add", std::string(kOutsideIp) + "/24", "dev", "eth0"},
             {"ip", "-n", ns_name("out"), "link", "set", "eth0", "up"}})
      must(argv);
    add_pod("client", kClientIp);
    for (const auto& [name, ip] : kPods) {
      add_pod(name, ip);
      std::string root = dir_ + "/" + name;
      std::filesystem::create_directories(root);
      write_file(root, "index.html", name + "\n");
      servers_.push_back(std::make_unique<ChildProcess>());
      servers_.back()->start({"/usr/bin/nsenter", "--net=/run/netns/" + ns_name(name), "/bin/busybox", "httpd",
                              "-f", "-p", std::to_string(kTargetPort), "-h", root},
                             dir_ + "/" + name + ".log");
    }
    for (const auto& [name, ip] : kPods)
      ASSERT_TRUE(eventually([&] { return fetch("client", "http://" + ip + ":8080/").out == name + "\n"; }, 10s))
          << name << " does not serve";
  }
  static void TearDownTestSuite() {
    servers_.clear();
    for (const auto& n : namespaces_) run({"ip", "netns", "del", n});
    run({"ip", "netns", "del", ns_name("out")});
    std::filesystem::remove_all(dir_);
  }
  // A pod: a namespace behind a veth on kctl0 (hairpin on, so that it can reach itself through a Service).
  static void add_pod(const std::string& name, const std::string& ip) {
    std::string ns = ns_name(name), veth = "v" + name;
    namespaces_.push_back(ns);
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", ns},
             {"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
             {"ip", "link", "set", veth, "master", "kctl0", "up"},
             {"ip", "link", "set", veth, "type", "bridge_slave", "hairpin", "on"},
             {"ip", "-n", ns, "link", "set", "lo", "up"},
             {"ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
             {"ip", "-n", ns, "link", "set", "eth0", "up"},
             {"ip", "-n", ns, "route", "add", "default", "via", kBridgeIp}})
      must(argv);
  }

  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    log_dir_ = make_temp_dir("proxy");
  }
  void TearDown() override {
    proxy_.stop();
    if (HasFailure()) std::cerr << "--- kctl-proxy log:\n" << proxy_.log() << "\n--- table:\n" << listing() << "\n";
    run({"nft", "delete", "table", "ip", "kctl"});
    run({"ip", "route", "del", "10.96.0.0/12"});
    std::filesystem::remove_all(log_dir_);
  }

  std::vector<std::string> proxy_args(const std::string& sync_period, const std::string& dbus) const {
    return {std::string(KCTL_BIN_DIR) + "/kctl-proxy", "--apiserver=" + server_->url(),
            std::string("--hostname-override=") + kNode, "--cluster-cidr=10.244.0.0/16",
            "--service-cluster-ip-range=10.96.0.0/12", "--bridge=kctl0", "--sync-period=" + sync_period, dbus};
  }
  void start_proxy(const std::string& sync_period = "30s", const std::string& dbus = "--dbus=none") {
    proxy_.start(proxy_args(sync_period, dbus), log_dir_ + "/proxy.log");
  }

  // A Service `name` on port 80 (targetPort 8080); `spec` is merged into its spec. Returns it as created (with its
  // ClusterIP and NodePort allocated).
  json create_service(const std::string& name, const json& spec = json::object()) {
    json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}};
    svc["spec"].merge_patch(spec);
    json created = client_->resource("services", "default").create(svc);
    cluster_ips_[name] = created["spec"]["clusterIP"];
    return created;
  }
  // The EndpointSlice of Service `name`: the pods in `pods` (names of kPods), on `node` each (kNode by default).
  static json slice(const std::string& name, const std::vector<std::string>& pods,
                    const std::map<std::string, std::string>& nodes = {}) {
    json endpoints = json::array();
    for (const auto& p : pods) {
      std::string ip;
      for (const auto& [n, a] : kPods)
        if (n == p) ip = a;
      auto node = nodes.count(p) ? nodes.at(p) : std::string(kNode);
      endpoints.push_back({{"addresses", {ip}}, {"conditions", {{"ready", true}}}, {"nodeName", node}});
    }
    return {{"apiVersion", "discovery.k8s.io/v1"},
            {"kind", "EndpointSlice"},
            {"metadata",
             {{"name", name + "-abcde"}, {"namespace", "default"}, {"labels", {{"kubernetes.io/service-name", name}}}}},
            {"addressType", "IPv4"},
            {"ports", {{{"name", "http"}, {"port", kTargetPort}, {"protocol", "TCP"}}}},
            {"endpoints", endpoints}};
  }
  void create_slice(const std::string& name, const std::vector<std::string>& pods,
                    const std::map<std::string, std::string>& nodes = {}) {
    client_->resource("endpointslices", "default").create(slice(name, pods, nodes));
  }
  void update_slice(const std::string& name, const std::vector<std::string>& pods) {
    auto slices = client_->resource("endpointslices", "default");
    json s = slices.get(name + "-abcde");
    s["endpoints"] = slice(name, pods)["endpoints"];
    slices.update(s);
  }

  // GET url with curl from a pod (`from`: a name of add_pod), from the outside host ("out") or from the node ("").
  static CmdResult fetch(const std::string& from, const std::string& url) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "5", url};
    if (!from.empty()) argv.insert(argv.begin(), {"nsenter", "--net=/run/netns/" + ns_name(from)});
    return run(argv, "", 30);
  }
  static std::string answer(const std::string& from, const std::string& url) {
    auto r = fetch(from, url);
    return r.rc == 0 ? r.out : "";
  }
  // Which pods answer `url` from `from` over `tries` requests (each answer once).
  static std::set<std::string> answers(const std::string& from, const std::string& url, int tries) {
    std::set<std::string> out;
    for (int i = 0; i < tries; ++i) out.insert(answer(from, url));
    return out;
  }

  // The table as nft lists it (its JSON form: {"nftables": [{"table": ...}, {"chain": ...}, ...]}); null when the
  // table is not there.
  static json table() {
    auto r = run({"nft", "-j", "list", "table", "ip", "kctl"});
    if (r.rc != 0) return nullptr;
    return parse_json(r.out)["nftables"];
  }
  static std::string listing() { return run({"nft", "list", "table", "ip", "kctl"}).out; }
  static std::set<std::string> chains() {
    std::set<std::string> out;
    json t = table();
    if (t.is_array())
      for (const auto& item : t)
        if (item.contains("chain")) out.insert(item["chain"]["name"].get<std::string>());
    return out;
  }
  // The endpoints the table sends default/NAME's port 80 to ("10.244.1.10/8080"): the values of the elements of
  // service-endpoints under its ClusterIP, and for a Service with ClientIP affinity its endpoint chains.
  std::set<std::string> endpoints(const std::string& name) {
    std::set<std::string> out;
    std::string marker = "-default/" + name + "/tcp/http__";
    for (const auto& c : chains())
      if (c.rfind("endpoint-", 0) == 0 && c.find(marker) != std::string::npos)
        out.insert(c.substr(c.find(marker) + marker.size()));
    for (const auto& e : elements("service-endpoints"))  // [{"concat": [ip, "tcp", 80, i]}, {"concat": [ip, port]}]
      if (e.is_array() && e[0]["concat"][0] == cluster_ips_[name] && e[0]["concat"][2] == 80)
        out.insert(e[1]["concat"][0].get<std::string>() + "/" + std::to_string(e[1]["concat"][1].get<int>()));
    return out;
  }
  // Whether chain `chain` has a rule with a `dnat` statement.
  static bool dnats(const std::string& chain) {
    for (const auto& r : rules(chain))
      for (const auto& e : r)
        if (e.contains("dnat")) return true;
    return false;
  }
  // The elements of a set or map: each as nft's JSON shows it (a key, or [key, value] for a map).
  static std::vector<json> elements(const std::string& set) {
    json t = table();
    if (!t.is_array()) return {};
    for (const auto& item : t)
      for (const char* kind : {"set", "map"})
        if (item.contains(kind) && (*item.find(kind))["name"] == set) {
          const json& s = *item.find(kind);
          return s.contains("elem") ? s["elem"].get<std::vector<json>>() : std::vector<json>{};
        }
    return {};
  }
  // The value of the element of map `map` whose key is `ip . tcp . port` (ip empty: a NodePort's `tcp . port`),
  // e.g. {"goto": {"target": "service-..."}}; null when none.
  static json map_value(const std::string& map, const std::string& ip, int port) {
    json key = ip.empty() ? json{{"concat", {"tcp", port}}} : json{{"concat", {ip, "tcp", port}}};
    for (const auto& e : elements(map))
      if (e.is_array() && e.size() == 2 && e[0] == key) return e[1];
    return nullptr;
  }
  static bool has_element(const std::string& set, const json& key) {
    for (const auto& e : elements(set))
      if (e == key || (e.is_object() && e.contains("elem") && e["elem"]["val"] == key)) return true;
    return false;
  }
  // The rules of a chain, as nft's JSON shows their expressions.
  static std::vector<json> rules(const std::string& chain) {
    std::vector<json> out;
    json t = table();
    if (t.is_array())
      for (const auto& item : t)
        if (item.contains("rule") && item["rule"]["chain"] == chain) out.push_back(item["rule"]["expr"]);
    return out;
  }
  static std::string full_chain_name(const std::string& prefix, const std::string& contains) {
    for (const auto& c : chains())
      if (c.rfind(prefix, 0) == 0 && c.find(contains) != std::string::npos) return c;
    return "";
  }

  std::map<std::string, std::string> cluster_ips_;  // Service name -> its ClusterIP, from create_service
  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::string log_dir_;
  ChildProcess proxy_;
  static inline std::string dir_;
  static inline std::vector<std::string> namespaces_;
  static inline std::vector<std::unique_ptr<ChildProcess>> servers_;
};

std::string url(const std::string& ip, int port) { return "http://" + ip + ":" + std::to_string(port) + "/"; }

}  // namespace

TEST_F(ProxyTest, ClusterIpAnswersAndSpreadsOverItsEndpoints) {
  json svc = create_service("web");
  std::string ip = svc["spec"]["clusterIP"];
  create_slice("web", {"p0", "p1", "p2"});
  start_proxy();

  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 3; }, 20s)) << proxy_.log();
  EXPECT_EQ(endpoints("web"), (std::set<std::string>{"10.244.1.10/8080", "10.244.1.11/8080", "10.244.1.12/8080"}));
  // The dispatch: ClusterIP . tcp . 80 goes to the chain that picks one of 3 endpoints from the data map, and the
  // ClusterIP is a known one. No chain per Service or endpoint.
  json v = map_value("service-ips", ip, 80);
  ASSERT_TRUE(v.contains("goto")) << listing();
  EXPECT_EQ(v["goto"]["target"], "pick-3");
  EXPECT_TRUE(dnats("pick-3")) << listing();
  EXPECT_EQ(full_chain_name("endpoint-", "/"), "") << listing();
  EXPECT_EQ(full_chain_name("service-", "/"), "") << listing();
  EXPECT_TRUE(has_element("cluster-ips", ip)) << listing();

  // Every pod answers, from a pod and from the node itself.
  std::set<std::string> seen;
  for (int i = 0; i < 60 && seen.size() < 3; ++i) seen.insert(answer("client", url(ip, 80)));
  EXPECT_EQ(seen, (std::set<std::string>{"p0\n", "p1\n", "p2\n"}));
  seen.clear();
  for (int i = 0; i < 60 && seen.size() < 3; ++i) seen.insert(answer("", url(ip, 80)));
  EXPECT_EQ(seen, (std::set<std::string>{"p0\n", "p1\n", "p2\n"})) << "from the node's own namespace";
}

TEST_F(ProxyTest, NodePortAnswersOnTheNodesAddress) {
  json svc = create_service("np", {{"type", "NodePort"}});
  int node_port = svc["spec"]["ports"][0]["nodePort"];
  ASSERT_GT(node_port, 0);
  create_slice("np", {"p0", "p1"});
  start_proxy();

  ASSERT_TRUE(eventually([&] { return map_value("service-nodeports", "", node_port).contains("goto"); }, 20s))
      << proxy_.log() << listing();
  EXPECT_EQ(map_value("service-nodeports", "", node_port)["goto"]["target"], "pick-external-2");
  EXPECT_TRUE(dnats("pick-external-2")) << listing();
  size_t node_port_endpoints = 0;
  for (const auto& e : elements("nodeport-endpoints"))
    if (e[0]["concat"][1] == node_port) ++node_port_endpoints;
  EXPECT_EQ(node_port_endpoints, 2u) << listing();
  std::set<std::string> seen;
  for (int i = 0; i < 60 && seen.size() < 2; ++i) seen.insert(answer("out", url(kNodeIp, node_port)));
  EXPECT_EQ(seen, (std::set<std::string>{"p0\n", "p1\n"})) << "from outside the cluster to the node's address";
  // The ClusterIP of a NodePort Service works as well.
  EXPECT_NE(answer("client", url(svc["spec"]["clusterIP"], 80)), "");
  // A port no Service uses is not answered there.
  EXPECT_NE(fetch("out", url(kNodeIp, node_port == 32767 ? 32766 : node_port + 1)).rc, 0);
}

TEST_F(ProxyTest, APodReachesItselfThroughItsService) {
  json svc = create_service("self");
  std::string ip = svc["spec"]["clusterIP"];
  create_slice("self", {"p1"});
  start_proxy();

  ASSERT_TRUE(eventually([&] { return endpoints("self").size() == 1; }, 20s)) << proxy_.log();
  // The endpoint is on this node: postrouting masquerades the pod's own traffic to itself after DNAT.
  EXPECT_TRUE(has_element("hairpin-endpoints", json{{"concat", {"10.244.1.11", "10.244.1.11"}}})) << listing();
  bool marks = false;
  for (const auto& r : rules("masquerading"))
    for (const auto& e : r)
      if (e.contains("jump") && e["jump"]["target"] == "mark-for-masquerade") marks = true;
  EXPECT_TRUE(marks) << listing();
  EXPECT_EQ(answer("p1", url(ip, 80)), "p1\n") << "hairpin: p1 through its own Service";
  EXPECT_EQ(answer("client", url(ip, 80)), "p1\n");
}

TEST_F(ProxyTest, NoEndpointsUnallocatedClusterIpsAndUnusedPortsAreRefusedAtOnce) {
  json empty = create_service("empty");
  std::string empty_ip = empty["spec"]["clusterIP"];
  json web = create_service("web");
  std::string web_ip = web["spec"]["clusterIP"];
  create_slice("web", {"p0"});
  start_proxy();

  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 1; }, 20s)) << proxy_.log();
  json v = map_value("no-endpoint-services", empty_ip, 80);
  ASSERT_TRUE(v.contains("goto")) << listing();
  EXPECT_EQ(v["goto"]["target"], "reject-chain");
  // TCP is refused with a reset: ICMP errors to a pod are rate-limited by the kernel, and most would never come.
  auto reject = rules("reject-chain");
  ASSERT_EQ(reject.size(), 2u) << listing();
  EXPECT_EQ(reject[0].back(), json({{"reject", {{"type", "tcp reset"}}}})) << reject[0].dump();

  // Refused (ICMP port unreachable: curl's "connection refused"), not left to time out; from a pod and the node.
  for (const std::string from : {"client", ""}) {
    EXPECT_EQ(fetch(from, url(empty_ip, 80)).rc, kCurlRefused) << "no endpoints, from " << from;
    EXPECT_EQ(fetch(from, url(web_ip, 81)).rc, kCurlRefused) << "a port the ClusterIP does not serve, from " << from;
    // An address of the service range that no Service has.
    std::string unallocated;
    for (std::string candidate : {"10.111.222.33", "10.111.222.34"})
      if (candidate != empty_ip && candidate != web_ip) unallocated = candidate;
    EXPECT_FALSE(has_element("cluster-ips", unallocated));
    EXPECT_EQ(fetch(from, url(unallocated, 80)).rc, kCurlRefused) << "unallocated ClusterIP, from " << from;
    EXPECT_EQ(answer(from, url(web_ip, 80)), "p0\n");
  }

  // Endpoints appear: the Service answers.
  create_slice("empty", {"p2"});
  ASSERT_TRUE(eventually([&] { return answer("client", url(empty_ip, 80)) == "p2\n"; }, 20s)) << listing();
  EXPECT_TRUE(map_value("no-endpoint-services", empty_ip, 80).is_null()) << listing();
}

TEST_F(ProxyTest, SessionAffinityClientIpSticksToOneEndpoint) {
  json svc = create_service("sticky", {{"sessionAffinity", "ClientIP"},
                                       {"sessionAffinityConfig", {{"clientIP", {{"timeoutSeconds", 600}}}}}});
  std::string ip = svc["spec"]["clusterIP"];
  create_slice("sticky", {"p0", "p1", "p2"});
  start_proxy();

  ASSERT_TRUE(eventually([&] { return endpoints("sticky").size() == 3; }, 20s)) << proxy_.log();
  std::string first = answer("client", url(ip, 80));
  ASSERT_NE(first, "");
  EXPECT_EQ(answers("client", url(ip, 80), 15), std::set<std::string>{first}) << "every request to one pod";
  // The client's address is remembered, with the Service's timeout, in the affinity set of the pod it reached.
  std::string pod_ip;
  for (const auto& [n, a] : kPods)
    if (n + "\n" == first) pod_ip = a;
  std::string set = full_chain_name("endpoint-", "-default/sticky/tcp/http__" + pod_ip + "/8080");
  set.replace(0, std::string("endpoint-").size(), "affinity-");
  json declared;
  for (const auto& item : table())
    if (item.contains("set") && item["set"]["name"] == set) declared = item["set"];
  EXPECT_EQ(declared.value("timeout", 0), 600) << declared.dump();
  bool remembered = false;
  for (const auto& e : elements(set))
    if (e.is_object() && e.contains("elem") && e["elem"]["val"] == kClientIp) {
      remembered = true;
      int expires = e["elem"].value("expires", 0);
      EXPECT_TRUE(expires > 0 && expires <= 600) << e.dump();
    }
  EXPECT_TRUE(remembered) << listing();
  // Another client (the node) gets an entry of its own and sticks to its pod as well.
  EXPECT_EQ(answers("", url(ip, 80), 10).size(), 1u);
}

TEST_F(ProxyTest, LocalTrafficPoliciesKeepTrafficOnThisNodesEndpoints) {
  // p0 is on this node; p1 says it runs on node-2 (it is reachable all the same, so a wrong rule would show).
  json internal = create_service("ilocal", {{"internalTrafficPolicy", "Local"}});
  json external = create_service("elocal", {{"type", "NodePort"}, {"externalTrafficPolicy", "Local"}});
  json remote_only = create_service("remote", {{"internalTrafficPolicy", "Local"}});
  create_slice("ilocal", {"p0", "p1"}, {{"p1", "node-2"}});
  create_slice("elocal", {"p0", "p1"}, {{"p1", "node-2"}});
  create_slice("remote", {"p1"}, {{"p1", "node-2"}});
  start_proxy();
  int node_port = external["spec"]["ports"][0]["nodePort"];

  ASSERT_TRUE(eventually([&] { return map_value("service-nodeports", "", node_port).contains("goto"); }, 20s))
      << proxy_.log() << listing();
  EXPECT_EQ(answers("client", url(internal["spec"]["clusterIP"], 80), 15), std::set<std::string>{"p0\n"})
      << "internalTrafficPolicy Local: only this node's endpoint";
  EXPECT_EQ(answers("out", url(kNodeIp, node_port), 15), std::set<std::string>{"p0\n"})
      << "externalTrafficPolicy Local: only this node's endpoint";
  // Its ClusterIP still reaches every endpoint (the policy is for external traffic).
  std::set<std::string> seen;
  for (int i = 0; i < 60 && seen.size() < 2; ++i) seen.insert(answer("client", url(external["spec"]["clusterIP"], 80)));
  EXPECT_EQ(seen, (std::set<std::string>{"p0\n", "p1\n"}));
  // In the table: the local endpoint only, for internal traffic; for external traffic a chain that picks one of
  // both for this node's pods and the local one for the rest.
  EXPECT_EQ(endpoints("ilocal"), std::set<std::string>{"10.244.1.10/8080"}) << listing();
  EXPECT_EQ(map_value("service-nodeports", "", node_port)["goto"]["target"], "pick-external-local-2-1") << listing();
  // Local with endpoints only elsewhere: dropped, as kube-proxy does (not rejected: the Service has endpoints).
  EXPECT_TRUE(map_value("no-endpoint-services", remote_only["spec"]["clusterIP"], 80).contains("drop")) << listing();
}

TEST_F(ProxyTest, ScalingEndpointsRewritesOnlyThatServicesRules) {
  json web = create_service("web");
  json other = create_service("other");
  std::string ip = web["spec"]["clusterIP"];
  create_slice("web", {"p0"});
  create_slice("other", {"p2"});
  start_proxy("1h");  // no periodic full sync: it would rewrite every chain and element
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 1 && endpoints("other").size() == 1; },
                         20s))
      << proxy_.log();
  // Both use pick-1. The handles of a chain's rules: a rewrite (flush and add) gives them new ones.
  std::string other_chain = "pick-1";
  json other_dispatch = map_value("service-ips", other["spec"]["clusterIP"], 80);
  auto handle_of = [&](const std::string& chain) {
    std::vector<int> handles;
    for (const auto& item : table())
      if (item.contains("rule") && item["rule"]["chain"] == chain) handles.push_back(item["rule"]["handle"]);
    return handles;
  };
  auto other_handle = handle_of(other_chain);
  ASSERT_FALSE(other_handle.empty());

  auto t0 = std::chrono::steady_clock::now();
  update_slice("web", {"p0", "p1", "p2"});
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 3; }, 10s)) << proxy_.log();
  EXPECT_EQ(map_value("service-ips", ip, 80)["goto"]["target"], "pick-3") << "made when a port needs it";
  std::cout << "scale 1 -> 3 endpoints in the table after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms (from the API update)\n";
  std::set<std::string> seen;
  for (int i = 0; i < 60 && seen.size() < 3; ++i) seen.insert(answer("client", url(ip, 80)));
  EXPECT_EQ(seen, (std::set<std::string>{"p0\n", "p1\n", "p2\n"}));

  update_slice("web", {"p2"});
  ASSERT_TRUE(eventually([&] { return endpoints("web") == std::set<std::string>{"10.244.1.12/8080"}; }, 10s))
      << listing();
  EXPECT_EQ(answers("client", url(ip, 80), 10), std::set<std::string>{"p2\n"});
  // The other Service's rules were left as they were: pick-1's rule not rewritten, its elements the same.
  EXPECT_EQ(handle_of(other_chain), other_handle);
  EXPECT_EQ(map_value("service-ips", other["spec"]["clusterIP"], 80), other_dispatch);
  EXPECT_EQ(endpoints("other"), std::set<std::string>{"10.244.1.12/8080"});
  EXPECT_EQ(chains().count("pick-3"), 0u) << "gone once no port uses it";

  client_->resource("services", "default").remove("web");
  ASSERT_TRUE(eventually([&] { return endpoints("web").empty(); }, 10s)) << listing();
  EXPECT_FALSE(has_element("cluster-ips", ip));
  EXPECT_EQ(fetch("client", url(ip, 80)).rc, kCurlRefused) << "a deleted Service's address is refused";
}

TEST_F(ProxyTest, TrafficKeepsFlowingWhileTheProxyRestarts) {
  json svc = create_service("web");
  std::string ip = svc["spec"]["clusterIP"];
  create_slice("web", {"p0", "p1"});
  start_proxy();
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 2; }, 20s)) << proxy_.log();

  proxy_.stop();  // SIGTERM
  EXPECT_NE(proxy_.log().find("stays"), std::string::npos) << proxy_.log();
  EXPECT_EQ(endpoints("web").size(), 2u) << "the table stays when the proxy stops";
  for (int i = 0; i < 10; ++i) EXPECT_NE(answer("client", url(ip, 80)), "") << "request " << i << " in the gap";

  // A change while nobody watches, and a Service deleted meanwhile: the restarted proxy's first sync catches up.
  update_slice("web", {"p2"});
  json gone = create_service("gone");
  start_proxy();
  ASSERT_TRUE(eventually([&] { return endpoints("web") == std::set<std::string>{"10.244.1.12/8080"}; }, 20s))
      << proxy_.log() << listing();
  EXPECT_EQ(answers("client", url(ip, 80), 5), std::set<std::string>{"p2\n"});
  EXPECT_TRUE(map_value("no-endpoint-services", gone["spec"]["clusterIP"], 80).contains("goto"));
}

TEST_F(ProxyTest, DriftIsRepairedByTheSyncPeriod) {
  json svc = create_service("web");
  std::string ip = svc["spec"]["clusterIP"];
  create_slice("web", {"p0", "p1"});
  start_proxy("1s");
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 2; }, 20s)) << proxy_.log();

  // Every rule gone (the chains, sets and elements stay). Whether the next period has come already is not
  // asserted here: BusShowsTheProxyAndSyncRepairsDriftAtOnce sees the flushed table, without a period.
  must({"nft", "flush", "table", "ip", "kctl"});
  ASSERT_TRUE(eventually([&] { return !rules("services").empty() && !rules("nat-prerouting").empty(); }, 20s))
      << listing();
  EXPECT_NE(answer("client", url(ip, 80)), "");

  // An endpoint's element deleted by hand, and the pick chain emptied.
  must({"nft", "delete", "element", "ip", "kctl", "service-endpoints", "{", ip + " . tcp . 80 . 0", "}"});
  must({"nft", "flush", "chain", "ip", "kctl", "pick-2"});
  ASSERT_EQ(endpoints("web").size(), 1u);
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 2 && dnats("pick-2"); }, 20s)) << listing();
  std::set<std::string> seen;
  for (int i = 0; i < 60 && seen.size() < 2; ++i) seen.insert(answer("client", url(ip, 80)));
  EXPECT_EQ(seen, (std::set<std::string>{"p0\n", "p1\n"}));
}

TEST_F(ProxyTest, BusShowsTheProxyAndSyncRepairsDriftAtOnce) {
  DbusDaemon bus;
  json svc = create_service("web");
  std::string ip = svc["spec"]["clusterIP"];
  create_service("empty");
  create_slice("web", {"p0", "p1", "p2"});
  start_proxy("1h", "--dbus-address=" + bus.address());  // no periodic repair during the test
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 3; }, 20s)) << proxy_.log();

  auto busctl = [&](std::vector<std::string> args, bool as_nobody = false) {
    std::vector<std::string> argv = {"busctl", "--address=" + bus.address()};
    if (as_nobody) argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  auto prop = [&](const std::string& name) {
    return busctl({"get-property", "org.kctl.Proxy1", "/org/kctl/Proxy1", "org.kctl.Proxy1", name}).out;
  };
  // web's three and the apiserver's own, from the kubernetes EndpointSlice.
  ASSERT_TRUE(eventually([&] { return prop("Endpoints") == "u 4\n"; }, 10s)) << proxy_.log();
  EXPECT_EQ(prop("Table"), "s \"ip kctl\"\n");
  // web, empty and the apiserver's own default/kubernetes.
  EXPECT_EQ(prop("Services"), "u " + std::to_string(client_->resource("services", "").list().items.size()) + "\n");
  auto count = [&](const std::string& name) {
    std::string out = prop(name);  // "t 123\n"
    return out.size() > 2 ? std::stoull(out.substr(2)) : 0ull;
  };
  uint64_t syncs = count("SyncCount");
  EXPECT_GE(syncs, 1u);
  EXPECT_GT(count("LastSyncMicroseconds"), 0u);
  auto introspect = busctl({"introspect", "org.kctl.Proxy1", "/org/kctl/Proxy1"});
  EXPECT_NE(introspect.out.find(".Sync"), std::string::npos) << introspect.out;

  // Drift: the table flushed by hand. Sync() returns once the repairing sync is committed.
  std::string ep = "pick-3";
  must({"nft", "flush", "table", "ip", "kctl"});
  ASSERT_TRUE(rules(ep).empty()) << listing();  // (nft flushes the rules; the maps keep their elements)
  ASSERT_TRUE(rules("services").empty());
  EXPECT_NE(fetch("client", url(ip, 80)).rc, 0) << "nothing DNATs any more";
  auto synced = busctl({"call", "org.kctl.Proxy1", "/org/kctl/Proxy1", "org.kctl.Proxy1", "Sync"});
  ASSERT_EQ(synced.rc, 0) << synced.err;
  EXPECT_EQ(endpoints("web").size(), 3u) << listing();
  EXPECT_FALSE(rules(ep).empty()) << listing();
  EXPECT_FALSE(rules("services").empty());
  EXPECT_TRUE(map_value("service-ips", ip, 80).contains("goto")) << listing();
  EXPECT_GT(count("SyncCount"), syncs);
  EXPECT_NE(answer("client", url(ip, 80)), "");

  // Looking is anyone's; syncing is root's.
  EXPECT_EQ(busctl({"get-property", "org.kctl.Proxy1", "/org/kctl/Proxy1", "org.kctl.Proxy1", "Table"}, true).rc, 0);
  auto denied = busctl({"call", "org.kctl.Proxy1", "/org/kctl/Proxy1", "org.kctl.Proxy1", "Sync"}, true);
  EXPECT_NE(denied.rc, 0);
  EXPECT_NE(denied.err.find("Access denied"), std::string::npos) << denied.err;
}

TEST_F(ProxyTest, CleanupRemovesTheTableAndTheRoute) {
  json svc = create_service("web");
  create_slice("web", {"p0"});
  start_proxy();
  ASSERT_TRUE(eventually([&] { return endpoints("web").size() == 1; }, 20s)) << proxy_.log();
  ASSERT_TRUE(eventually([&] { return run({"ip", "route", "show", "10.96.0.0/12"}).out.find("kctl0") !=
                                      std::string::npos; }, 10s))
      << "the service range is routed onto the bridge";
  proxy_.stop();
  ASSERT_FALSE(table().is_null());

  auto cleanup = [&] {
    return run({std::string(KCTL_BIN_DIR) + "/kctl-proxy", "--cleanup", "--service-cluster-ip-range=10.96.0.0/12"});
  };
  auto r = cleanup();
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(table().is_null()) << listing();
  EXPECT_EQ(run({"ip", "route", "show", "10.96.0.0/12"}).out, "");
  EXPECT_NE(fetch("client", url(svc["spec"]["clusterIP"], 80)).rc, 0) << "no Service any more";
  // Nothing left to remove is no error.
  r = cleanup();
  EXPECT_EQ(r.rc, 0) << r.err;
}
