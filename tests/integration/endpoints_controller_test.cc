// The endpoints controller against a real apiserver: the test plays the kubelet (it writes pods' IPs and Ready
// conditions) and reads the Endpoints the controller writes, through the API and through kubectl 1.33.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "controller_manager_fixture.h"

namespace kctl::test {
namespace {

using nlohmann::json;

class EndpointsControllerTest : public ControllerTest {
 protected:
  EndpointsControllerTest() : ControllerTest("endpoint,endpointslice,garbagecollector") {}

  // A pod with labels and, optionally, named container ports ({"http", 8080}).
  json make_pod(const std::string& name, json labels, json ports = json::array()) {
    json c = {{"name", "c"}, {"image", "busybox"}};
    if (!ports.empty()) c["ports"] = ports;
    json pod = {{"metadata", {{"name", name}, {"labels", labels}}},
                {"spec", {{"containers", json::array({c})}, {"nodeName", "node1"}}}};
    return resource("pods").create(pod);
  }
  // What the kubelet reports: Running, an IP and the Ready condition.
  void set_status(const std::string& pod, const std::string& ip, bool ready,
                  const std::string& transition = "2025-01-01T00:00:00Z") {
    json status = {{"phase", "Running"},
                   {"conditions", json::array({{{"type", "Ready"},
                                                {"status", ready ? "True" : "False"},
                                                {"lastTransitionTime", transition}}})}};
    if (!ip.empty()) {
      status["podIP"] = ip;
      status["podIPs"] = json::array({{{"ip", ip}}});
    }
    resource("pods").patch(pod, api::PatchType::Merge, {{"status", status}}, "status");
  }
  json make_service(const std::string& name, json selector, json ports) {
    json svc = {{"metadata", {{"name", name}, {"labels", {{"team", "a"}}}}}, {"spec", {{"ports", ports}}}};
    if (!selector.is_null()) svc["spec"]["selector"] = selector;
    return resource("services").create(svc);
  }
  // The Endpoints once `pred` holds for it (null after the timeout).
  json endpoints_when(const std::string& name, const std::function<bool(const json&)>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    json last;
    bool ok = eventually(
        [&] {
          last = get_or_null("endpoints", name);
          return !last.is_null() && pred(last);
        },
        timeout);
    if (!ok) ADD_FAILURE() << "endpoints " << name << " never matched; last seen: " << last.dump();
    return ok ? last : json();
  }
  static std::vector<std::string> ips(const json& ep, const char* list) {
    std::vector<std::string> out;
    for (const auto& s : ep.value("subsets", json::array()))
      for (const auto& a : s.value(list, json::array())) out.push_back(a["ip"]);
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(EndpointsControllerTest, ReadyPodsAreAddressesAndOthersNotReadyAddresses) {
  make_pod("ready", {{"app", "web"}});
  make_pod("unready", {{"app", "web"}});
  make_pod("no-ip", {{"app", "web"}});
  make_pod("other", {{"app", "db"}});
  make_pod("done", {{"app", "web"}});
  set_status("ready", "10.244.0.10", true);
  set_status("unready", "10.244.0.11", false);
  set_status("other", "10.244.0.12", true);
  resource("pods").patch("done", api::PatchType::Merge,
                         {{"status", {{"phase", "Succeeded"}, {"podIP", "10.244.0.13"}}}}, "status");
  make_service("web", {{"app", "web"}}, json::array({{{"name", "http"}, {"port", 80}, {"targetPort", 8080}}}));

  json ep = endpoints_when("web", [](const json& e) {
    return ips(e, "addresses").size() == 1 && ips(e, "notReadyAddresses").size() == 1;
  });
  ASSERT_FALSE(ep.is_null());
  ASSERT_EQ(ep["subsets"].size(), 1u) << ep.dump(2);
  const json& s = ep["subsets"][0];
  EXPECT_EQ(s["addresses"][0]["ip"], "10.244.0.10");
  EXPECT_EQ(s["addresses"][0]["nodeName"], "node1");
  EXPECT_EQ(s["addresses"][0]["targetRef"]["kind"], "Pod");
  EXPECT_EQ(s["addresses"][0]["targetRef"]["name"], "ready");
  EXPECT_EQ(s["addresses"][0]["targetRef"]["namespace"], "default");
  EXPECT_FALSE(s["addresses"][0]["targetRef"].value("uid", "").empty());
  EXPECT_EQ(s["notReadyAddresses"][0]["ip"], "10.244.0.11");
  EXPECT_EQ(s["ports"], json::parse(R"([{"name":"http","port":8080,"protocol":"TCP"}])"));
  // The Service's labels, and when the change that made these Endpoints happened.
  EXPECT_EQ(ep["metadata"]["labels"], json({{"team", "a"}}));
  EXPECT_TRUE(ep["metadata"]["annotations"].contains("endpoints.kubernetes.io/last-change-trigger-time")) << ep.dump();

  auto r = (*kubectl_)({"get", "endpoints", "web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("10.244.0.10:8080"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("10.244.0.11"), std::string::npos) << r.out;  // kubectl lists ready addresses only
}

TEST_F(EndpointsControllerTest, NamedTargetPortIsResolvedInEachPod) {
  make_pod("a", {{"app", "web"}}, json::array({{{"name", "http"}, {"containerPort", 8080}}}));
  make_pod("b", {{"app", "web"}}, json::array({{{"name", "http"}, {"containerPort", 9090}}}));
  make_pod("c", {{"app", "web"}}, json::array({{{"name", "metrics"}, {"containerPort", 9100}}}));
  make_pod("d", {{"app", "web"}}, json::array({{{"name", "http"}, {"containerPort", 8080}}}));
  set_status("a", "10.244.0.20", true);
  set_status("b", "10.244.0.21", true);
  set_status("c", "10.244.0.22", true);
  set_status("d", "10.244.0.23", true);
  make_service("web", {{"app", "web"}}, json::array({{{"name", "web"}, {"port", 80}, {"targetPort", "http"}}}));

  json ep = endpoints_when("web", [](const json& e) { return ips(e, "addresses").size() == 3; });
  ASSERT_FALSE(ep.is_null());
  // Pods giving different numbers for the name land in different subsets; the pod without it is left out.
  ASSERT_EQ(ep["subsets"].size(), 2u) << ep.dump(2);
  std::map<int, std::vector<std::string>> by_port;
  for (const auto& s : ep["subsets"]) {
    ASSERT_EQ(s["ports"].size(), 1u);
    EXPECT_EQ(s["ports"][0]["name"], "web");
    for (const auto& a : s["addresses"]) by_port[s["ports"][0]["port"].get<int>()].push_back(a["ip"]);
  }
  EXPECT_EQ(by_port[8080], (std::vector<std::string>{"10.244.0.20", "10.244.0.23"}));
  EXPECT_EQ(by_port[9090], (std::vector<std::string>{"10.244.0.21"}));

  auto r = (*kubectl_)({"get", "ep", "web", "-o", "wide"});
  EXPECT_NE(r.out.find("10.244.0.20:8080"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10.244.0.21:9090"), std::string::npos) << r.out;
}

TEST_F(EndpointsControllerTest, ReadinessAndDeletionShowWithinASecond) {
  make_pod("p1", {{"app", "web"}});
  make_pod("p2", {{"app", "web"}});
  set_status("p1", "10.244.0.30", true);
  set_status("p2", "10.244.0.31", false);
  make_service("web", {{"app", "web"}}, json::array({{{"port", 80}}}));
  ASSERT_FALSE(endpoints_when("web", [](const json& e) { return ips(e, "addresses").size() == 1; }).is_null());

  auto t0 = std::chrono::steady_clock::now();
  set_status("p2", "10.244.0.31", true, "2025-01-01T00:01:00Z");
  json ep = endpoints_when("web", [](const json& e) { return ips(e, "addresses").size() == 2; }, std::chrono::seconds(1));
  auto became_ready = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(ep.is_null());
  EXPECT_TRUE(ips(ep, "notReadyAddresses").empty());
  // The trigger time is the change that caused the write: p2's Ready transition.
  EXPECT_EQ(ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"], "2025-01-01T00:01:00Z");

  t0 = std::chrono::steady_clock::now();
  resource("pods").remove("p1", {{"gracePeriodSeconds", 0}});
  ep = endpoints_when("web", [](const json& e) { return ips(e, "addresses") == std::vector<std::string>{"10.244.0.31"}; },
                      std::chrono::seconds(1));
  auto deleted = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(ep.is_null());

  // A pod being deleted (graceful, its kubelet still stopping it) leaves at once.
  t0 = std::chrono::steady_clock::now();
  resource("pods").remove("p2");
  ASSERT_FALSE(get_or_null("pods", "p2").is_null());  // still there: bound, 30 s of grace
  ep = endpoints_when("web", [](const json& e) { return !e.contains("subsets"); }, std::chrono::seconds(1));
  auto terminating = std::chrono::steady_clock::now() - t0;
  using ms = std::chrono::milliseconds;
  std::cout << "ready -> Endpoints: " << std::chrono::duration_cast<ms>(became_ready).count()
            << " ms, deleted -> Endpoints: " << std::chrono::duration_cast<ms>(deleted).count()
            << " ms, terminating -> Endpoints: " << std::chrono::duration_cast<ms>(terminating).count() << " ms\n";
  auto r = (*kubectl_)({"get", "endpoints", "web"});
  EXPECT_NE(r.out.find("<none>"), std::string::npos) << r.out;
}

TEST_F(EndpointsControllerTest, WrittenOnlyWhenItChanges) {
  make_pod("p", {{"app", "web"}});
  set_status("p", "10.244.0.40", true);
  make_service("web", {{"app", "web"}}, json::array({{{"port", 80}}}));
  json ep = endpoints_when("web", [](const json& e) { return ips(e, "addresses").size() == 1; });
  ASSERT_FALSE(ep.is_null());
  std::string rv = ep["metadata"]["resourceVersion"];
  // Changes the Endpoints do not show: a label the Service does not select on, an annotation.
  resource("pods").patch("p", api::PatchType::Merge, {{"metadata", {{"annotations", {{"note", "x"}}}, {"labels", {{"v", "2"}}}}}});
  resource("services").patch("web", api::PatchType::Merge, {{"metadata", {{"annotations", {{"note", "y"}}}}}});
  // Then one it does show, so that the controller has certainly seen the ones before.
  make_pod("q", {{"app", "web"}});
  set_status("q", "10.244.0.41", true);
  ep = endpoints_when("web", [](const json& e) { return ips(e, "addresses").size() == 2; });
  ASSERT_FALSE(ep.is_null());
  // One write for q (added with its IP; its Ready came in the same status write), none for the rest.
  EXPECT_GT(std::stoll(ep["metadata"]["resourceVersion"].get<std::string>()), std::stoll(rv));
  std::string rv2 = ep["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for a needless write to show
  EXPECT_EQ(get_or_null("endpoints", "web")["metadata"]["resourceVersion"], rv2);
}

TEST_F(EndpointsControllerTest, PublishNotReadyAddressesListsEveryPodAsReady) {
  make_pod("p", {{"app", "db"}});
  set_status("p", "10.244.0.50", false);
  json svc = {{"metadata", {{"name", "db"}}},
              {"spec",
               {{"clusterIP", "None"},
                {"publishNotReadyAddresses", true},
                {"selector", {{"app", "db"}}},
                {"ports", json::array({{{"port", 5432}}})}}}};
  resource("services").create(svc);
  json ep = endpoints_when("db", [](const json& e) { return ips(e, "addresses").size() == 1; });
  ASSERT_FALSE(ep.is_null());
  EXPECT_TRUE(ips(ep, "notReadyAddresses").empty());
  EXPECT_EQ(ep["metadata"]["labels"]["service.kubernetes.io/headless"], "");
}

TEST_F(EndpointsControllerTest, ServiceWithoutSelectorKeepsTheUsersEndpoints) {
  make_service("external", nullptr, json::array({{{"port", 5432}}}));
  json mine = {{"metadata", {{"name", "external"}}},
               {"subsets", json::array({{{"addresses", json::array({{{"ip", "192.0.2.7"}}})},
                                         {"ports", json::array({{{"port", 5432}}})}}})}};
  resource("endpoints").create(mine);
  // A selector-ful Service created after it shows the controller is running and has seen both.
  make_pod("p", {{"app", "web"}});
  set_status("p", "10.244.0.60", true);
  make_service("web", {{"app", "web"}}, json::array({{{"port", 80}}}));
  ASSERT_FALSE(endpoints_when("web", [](const json& e) { return e.contains("subsets"); }).is_null());
  json ep = get_or_null("endpoints", "external");
  ASSERT_FALSE(ep.is_null());
  EXPECT_EQ(ips(ep, "addresses"), std::vector<std::string>{"192.0.2.7"});
  EXPECT_FALSE(ep["metadata"].contains("annotations")) << ep.dump();
}

TEST_F(EndpointsControllerTest, EndpointsGoWithTheirService) {
  make_service("web", {{"app", "web"}}, json::array({{{"port", 80}}}));
  ASSERT_FALSE(endpoints_when("web", [](const json&) { return true; }).is_null());
  // Deleted by hand while its Service stands: written again.
  resource("endpoints").remove("web");
  ASSERT_FALSE(endpoints_when("web", [](const json&) { return true; }).is_null());
  auto r = (*kubectl_)({"delete", "service", "web"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(eventually([&] { return get_or_null("endpoints", "web").is_null(); }));
}

json slices_of(const api::ResourceClient& slices, const std::string& service) {
  api::ListOptions o;
  o.label_selector = "kubernetes.io/service-name=" + service;
  json out = json::array();
  for (auto& s : slices.list(o).items) out.push_back(s);
  return out;
}

TEST_F(EndpointsControllerTest, EndpointSlicesCarryThePodsWithTheirConditions) {
  make_pod("a", {{"app", "web"}}, json::array({{{"name", "http"}, {"containerPort", 8080}}}));
  make_pod("b", {{"app", "web"}}, json::array({{{"name", "http"}, {"containerPort", 9090}}}));
  make_pod("c", {{"app", "web"}}, json::array({{{"name", "http"}, {"containerPort", 8080}}}));
  set_status("a", "10.244.0.70", true);
  set_status("b", "10.244.0.71", true);
  set_status("c", "10.244.0.72", false);
  json svc = make_service("web", {{"app", "web"}}, json::array({{{"name", "web"}, {"port", 80}, {"targetPort", "http"}}}));
  auto slices = resource("endpointslices.discovery.k8s.io");

  json got;
  ASSERT_TRUE(eventually([&] {
    got = slices_of(slices, "web");
    size_t n = 0;
    for (const auto& s : got) n += s["endpoints"].size();
    return got.size() == 2 && n == 3;
  })) << got.dump(2);
  // One slice per port number the name resolves to, each owned by the Service.
  std::map<int, json> by_port;
  for (const auto& s : got) {
    EXPECT_EQ(s["addressType"], "IPv4");
    EXPECT_EQ(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
    EXPECT_EQ(s["metadata"]["labels"]["team"], "a");
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], svc["metadata"]["uid"]);
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["kind"], "Service");
    EXPECT_TRUE(s["metadata"]["ownerReferences"][0]["controller"].get<bool>());
    EXPECT_EQ(s["metadata"]["name"].get<std::string>().rfind("web-", 0), 0u);
    by_port[s["ports"][0]["port"].get<int>()] = s;
  }
  ASSERT_EQ(by_port.size(), 2u);
  EXPECT_EQ(by_port[8080]["ports"], json::parse(R"([{"name":"web","port":8080,"protocol":"TCP"}])"));
  ASSERT_EQ(by_port[8080]["endpoints"].size(), 2u);
  json a = by_port[8080]["endpoints"][0], c = by_port[8080]["endpoints"][1];
  EXPECT_EQ(a["addresses"], json::array({"10.244.0.70"}));
  EXPECT_EQ(a["conditions"], json::parse(R"({"ready":true,"serving":true,"terminating":false})"));
  EXPECT_EQ(a["targetRef"]["name"], "a");
  EXPECT_EQ(a["nodeName"], "node1");
  EXPECT_EQ(c["conditions"], json::parse(R"({"ready":false,"serving":false,"terminating":false})"));

  // A pod being deleted stays in its slice, terminating and not ready (the Endpoints drop it).
  resource("pods").remove("a");
  ASSERT_TRUE(eventually([&] {
    for (const auto& s : slices_of(slices, "web"))
      for (const auto& e : s["endpoints"])
        if (e["addresses"][0] == "10.244.0.70") return e["conditions"]["terminating"] == true && e["conditions"]["ready"] == false;
    return false;
  }));

  auto r = (*kubectl_)({"get", "endpointslices", "-l", "kubernetes.io/service-name=web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("IPv4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10.244.0.71"), std::string::npos) << r.out;
  // kubectl 1.33 describes a Service's endpoints from its slices: the ready ones.
  r = (*kubectl_)({"describe", "service", "web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("10.244.0.71:9090"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("10.244.0.72"), std::string::npos) << r.out;
  std::cout << r.out;

  // The Service goes, its slices with it (through their ownerReference and the garbage collector).
  resource("services").remove("web");
  EXPECT_TRUE(eventually([&] { return slices_of(slices, "web").empty(); }));
}

TEST_F(EndpointsControllerTest, AServiceWithoutPodsHasOnePlaceholderSlice) {
  make_service("idle", {{"app", "nothing"}}, json::array({{{"port", 80}}}));
  auto slices = resource("endpointslices.discovery.k8s.io");
  json got;
  ASSERT_TRUE(eventually([&] { return (got = slices_of(slices, "idle")).size() == 1; }));
  EXPECT_EQ(got[0]["endpoints"], json::array());
  EXPECT_FALSE(got[0].contains("ports"));
  auto r = (*kubectl_)({"describe", "service", "idle"});
  EXPECT_NE(r.out.find("Endpoints:"), std::string::npos) << r.out;
  // A pod arrives: the placeholder is reused, not joined by a second slice.
  make_pod("p", {{"app", "nothing"}});
  set_status("p", "10.244.0.80", true);
  ASSERT_TRUE(eventually([&] {
    got = slices_of(slices, "idle");
    return got.size() == 1 && got[0]["endpoints"].size() == 1;
  })) << got.dump(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(slices_of(slices, "idle").size(), 1u);
}

}  // namespace
}  // namespace kctl::test
