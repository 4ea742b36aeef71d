// The seed scenario of Services on a real local cluster (a master with the apiserver, controller manager,
// scheduler and cluster DNS; two workers with their kubelets and proxies, in network namespaces inside the
// test's): the `mypods` Service of examples/40-mypods.yaml gets a ClusterIP and one endpoint per ready pod; from a
// pod, http://mypods/ (through the cluster DNS) and http://<ClusterIP>/ answer, spread over every pod; the NodePort
// answers on each node's address; scaling the RC changes the endpoints and each node's table; with no pod left the
// ClusterIP refuses at once; a Service without pods exists on its own and refuses too.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "api/http_client.h"
#include "local_cluster_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Its nodes are svc-worker-1 and -2, so it may run beside the other local cluster tests.
constexpr const char* kName = "svc";

// What a TCP connect from this namespace gets: 0 when it connects, else the errno (ECONNREFUSED for a reject).
int tcp_connect(const std::string& ip, int port, std::chrono::milliseconds* took = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  auto start = std::chrono::steady_clock::now();
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  if (took) *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ::close(fd);
  return rc;
}

class LocalClusterService : public LocalClusterFixture {
 protected:
  void SetUp() override { up(kName); }
  static std::string node_ip(int i) { return "10.250.0." + std::to_string(10 + i); }
  // The Running and Ready pods of the RC, name -> node.
  std::map<std::string, std::string> ready_pods() {
    std::map<std::string, std::string> out;
    api::ListOptions o;
    o.label_selector = "name=mypod";
    for (const auto& p : client_->resource("pods", "default").list(o).items) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      bool ready = false;
      for (const auto& c : p.value("/status/conditions"_json_pointer, json::array()))
        if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
      if (ready) out[p["metadata"]["name"]] = p.value("/spec/nodeName"_json_pointer, std::string());
    }
    return out;
  }
  // The ready addresses of Endpoints mypods.
  std::set<std::string> endpoint_ips(const std::string& name = "mypods") {
    std::set<std::string> out;
    json ep = client_->resource("endpoints", "default").get(name);
    for (const auto& s : ep.value("subsets", json::array()))
      for (const auto& a : s.value("addresses", json::array())) out.insert(a.value("ip", ""));
    return out;
  }
  // The elements of a named map or set of a node's table, read back with nft itself.
  size_t table_elements(int i, const std::string& name) {
    auto r = run({"ip", "netns", "exec", node(i), "nft", "-j", "list", "table", "ip", "kctl"});
    if (r.rc != 0) return 0;
    json t = json::parse(r.out, nullptr, false);
    size_t n = 0;
    for (const auto& item : t.value("nftables", json::array()))
      for (const char* kind : {"map", "set"})
        if (item.contains(kind) && item[kind].value("name", "") == name) n += item[kind].value("elem", json::array()).size();
    return n;
  }
  // The endpoints a node's table sends default/mypods's port 80 to ("10.244.1.5/80"): the values of the elements of
  // its data map `service-endpoints` under the Service's ClusterIP (ClusterIP . tcp . 80 . i -> address . port).
  std::set<std::string> table_endpoints(int i) {
    std::set<std::string> out;
    std::string cluster_ip = client_->resource("services", "default").get("mypods")["spec"]["clusterIP"];
    auto r = run({"ip", "netns", "exec", node(i), "nft", "-j", "list", "table", "ip", "kctl"});
    json t = json::parse(r.out, nullptr, false);
    for (const auto& item : t.value("nftables", json::array())) {
      if (!item.contains("map") || item["map"].value("name", "") != "service-endpoints") continue;
      for (const auto& e : item["map"].value("elem", json::array()))
        if (e.is_array() && e[0]["concat"][0] == cluster_ip && e[0]["concat"][2] == 80)
          out.insert(e[1]["concat"][0].get<std::string>() + "/" + std::to_string(e[1]["concat"][1].get<int>()));
    }
    return out;
  }
  // wget inside a pod; the page, or "" with the error in *err. (busybox 1.35's wget -T crashes: timeout instead.)
  std::string fetch_in(const std::string& pod, const std::string& url, std::string* err = nullptr) {
    auto r = kctl({"exec", pod, "--", "timeout", "5", "wget", "-q", "-O", "-", url});
    if (err) *err = r.err;
    return r.rc == 0 ? r.out : "";
  }
};

}  // namespace

TEST_F(LocalClusterService, MypodsByNameClusterIpAndNodePortSpreadScaleAndRefuse) {
  // A client pod on the second worker, and the seed's RC and Service.
  auto r = kctl({"run", "client", "--image=kctl/busybox", "--overrides",
                 R"({"spec":{"nodeName":")" + node(2) + R"(","terminationGracePeriodSeconds":1}})", "--", "sleep",
                 "3600"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  r = kctl({"apply", "-f", std::string(KCTL_SOURCE_DIR) + "/examples/40-mypods.yaml"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(until([&] { return ready_pods().size() == 3; }, 90s)) << log("kctl-controller-manager");
  ASSERT_TRUE(until([&] {
    return client_->resource("pods", "default").get("client").value("/status/phase"_json_pointer, std::string()) ==
           "Running";
  }, 60s));

  // kctl get svc shows the ClusterIP and the NodePort; the endpoints one address per ready pod.
  json svc = client_->resource("services", "default").get("mypods");
  std::string cluster_ip = svc["spec"]["clusterIP"];
  int node_port = svc["spec"]["ports"][0]["nodePort"];
  r = kctl({"get", "svc", "mypods"});
  EXPECT_NE(r.out.find(cluster_ip), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("80:" + std::to_string(node_port) + "/TCP"), std::string::npos) << r.out;
  std::set<std::string> pod_ips;
  for (const auto& [name, n] : ready_pods())
    pod_ips.insert(client_->resource("pods", "default").get(name)["status"]["podIP"].get<std::string>());
  ASSERT_TRUE(until([&] { return endpoint_ips() == pod_ips; }, 10s)) << json(endpoint_ips()).dump();
  r = kctl({"get", "endpoints", "mypods"});
  for (const auto& ip : pod_ips) EXPECT_NE(r.out.find(ip + ":80"), std::string::npos) << r.out;

  // From the pod on the other node: by name through the cluster DNS, and by ClusterIP, spread over all three.
  for (const std::string& url : std::vector<std::string>{"http://mypods/", "http://" + cluster_ip + "/"}) {
    std::set<std::string> answered;
    std::string err;
    for (int i = 0; i < 60 && answered.size() < 3; ++i) {
      std::string page = fetch_in("client", url, &err);
      if (page.rfind("hello from ", 0) == 0) answered.insert(page);
    }
    EXPECT_EQ(answered.size(), 3u) << url << ": " << json(answered).dump() << " " << err << log("kctl-dns");
  }
  // The full name too, and the search path's middle form.
  EXPECT_EQ(fetch_in("client", "http://mypods.default.svc.cluster.local/").rfind("hello from ", 0), 0u);
  EXPECT_EQ(fetch_in("client", "http://mypods.default/").rfind("hello from ", 0), 0u);

  // The NodePort on every node's address, from the master (outside the nodes).
  for (int i = 1; i <= 2; ++i) {
    http::Client c("http://" + node_ip(i) + ":" + std::to_string(node_port));
    std::set<std::string> answered;
    for (int k = 0; k < 60 && answered.size() < 3; ++k) {
      try {
        auto resp = c.request("GET", "/");
        if (resp.status == 200) answered.insert(resp.body);
      } catch (const std::exception& e) {
        ADD_FAILURE() << node_ip(i) << ":" << node_port << ": " << e.what();
        break;
      }
    }
    EXPECT_EQ(answered.size(), 3u) << node(i) << ": " << json(answered).dump();
  }

  // Scaling the RC: the endpoints and every node's rules follow.
  auto before = std::chrono::steady_clock::now();
  r = kctl({"scale", "--replicas=1", "rc/mypod"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(until([&] { return endpoint_ips().size() == 1; }, 30s)) << json(endpoint_ips()).dump();
  auto endpoints_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(until([&] { return table_endpoints(1).size() == 1 && table_endpoints(2).size() == 1; }, 10s))
      << json(table_endpoints(1)).dump() << log("kctl-proxy-" + node(1));
  auto rules_at = std::chrono::steady_clock::now();
  std::cout << "scale 3 -> 1: endpoints after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(endpoints_at - before).count()
            << " ms, both nodes' rules "
            << std::chrono::duration_cast<std::chrono::milliseconds>(rules_at - endpoints_at).count()
            << " ms after that\n";
  EXPECT_EQ(*table_endpoints(1).begin(), *endpoint_ips().begin() + "/80");

  // No pod left: the ClusterIP refuses at once, from a pod and from the node itself.
  r = kctl({"scale", "--replicas=0", "rc/mypod"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_TRUE(until([&] { return endpoint_ips().empty() && table_endpoints(2).empty(); }, 30s));
  std::string err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch_in("client", "http://" + cluster_ip + "/", &err), "");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_NE(err.find("Connection refused"), std::string::npos) << err;
  std::cout << "a fetch of the ClusterIP with no endpoint failed in " << took.count() << " ms: " << err;
  std::chrono::milliseconds connect_took{};
  EXPECT_EQ(tcp_connect(node_ip(1), node_port, &connect_took), ECONNREFUSED);
  std::cout << "the NodePort with no endpoint refused in " << connect_took.count() << " ms\n";

  // A Service that selects no pod is valid and exists on its own; it refuses as well.
  r = kctl({"create", "service", "clusterip", "lonely", "--tcp=8080:8080"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  r = kctl({"get", "svc", "lonely"});
  EXPECT_EQ(r.rc, 0) << r.err;
  std::string lonely_ip = client_->resource("services", "default").get("lonely")["spec"]["clusterIP"];
  ASSERT_TRUE(until([&] {
    std::string e;
    fetch_in("client", "http://" + lonely_ip + ":8080/", &e);
    return e.find("Connection refused") != std::string::npos;
  }, 10s));
}
