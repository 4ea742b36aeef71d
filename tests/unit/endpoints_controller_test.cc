// The pure parts of the endpoints, EndpointSlice and namespace controllers: kube's subset repacking, per-pod port
// resolution, the trigger time, the slice grouping and the namespace deletion conditions.
#include <gtest/gtest.h>

#include "daemons/controller-manager/endpoints_controller.h"
#include "daemons/controller-manager/endpointslice_controller.h"
#include "daemons/controller-manager/namespace_controller.h"

namespace kctl::controllers {
namespace {

using nlohmann::json;

json addr(const std::string& ip, const std::string& uid) { return {{"ip", ip}, {"targetRef", {{"uid", uid}}}}; }
json port(int p, const std::string& name = "") {
  json o = {{"port", p}, {"protocol", "TCP"}};
  if (!name.empty()) o["name"] = name;
  return o;
}

TEST(RepackSubsets, AddressesOfferingTheSamePortsShareASubset) {
  json in = json::array({
      {{"addresses", {addr("10.0.0.2", "b")}}, {"ports", {port(80, "http")}}},
      {{"addresses", {addr("10.0.0.1", "a")}}, {"ports", {port(80, "http")}}},
      {{"addresses", {addr("10.0.0.1", "a")}}, {"ports", {port(443, "https")}}},
      {{"addresses", {addr("10.0.0.2", "b")}}, {"ports", {port(443, "https")}}},
      {{"addresses", {addr("10.0.0.3", "c")}}, {"ports", {port(8080, "http")}}},
  });
  json out = repack_subsets(in);
  ASSERT_EQ(out.size(), 2u) << out.dump(2);
  EXPECT_EQ(out[0]["addresses"], json::array({addr("10.0.0.1", "a"), addr("10.0.0.2", "b")}));
  EXPECT_EQ(out[0]["ports"].size(), 2u);
  EXPECT_EQ(out[1]["addresses"], json::array({addr("10.0.0.3", "c")}));
  EXPECT_EQ(out[1]["ports"], json::array({port(8080, "http")}));
  // The order of the input does not matter: equal contents repack equal.
  json reversed = json(std::vector<json>(in.rbegin(), in.rend()));
  EXPECT_EQ(repack_subsets(reversed), out);
}

TEST(RepackSubsets, NotReadyTrumpsReadyAndPortlessAddressesStay) {
  json in = json::array({
      {{"addresses", {addr("10.0.0.1", "a")}}, {"ports", {port(80)}}},
      {{"notReadyAddresses", {addr("10.0.0.1", "a")}}, {"ports", {port(80)}}},
      {{"addresses", {addr("10.0.0.9", "z")}}},
  });
  json out = repack_subsets(in);
  ASSERT_EQ(out.size(), 2u) << out.dump(2);
  EXPECT_FALSE(out[0].contains("addresses"));
  EXPECT_EQ(out[0]["notReadyAddresses"], json::array({addr("10.0.0.1", "a")}));
  EXPECT_EQ(out[1]["addresses"], json::array({addr("10.0.0.9", "z")}));
  EXPECT_FALSE(out[1].contains("ports"));
}

json pod_with(json ports, json init = json::array()) {
  json pod = {{"spec", {{"containers", json::array({{{"name", "c"}, {"ports", ports}}})}}}};
  if (!init.empty()) pod["spec"]["initContainers"] = init;
  return pod;
}

TEST(FindPort, NumbersAsIsNamesPerPodAndProtocol) {
  json pod = pod_with(json::parse(R"([{"name":"dns","containerPort":53,"protocol":"UDP"},
                                      {"name":"http","containerPort":8080}])"));
  EXPECT_EQ(find_port(pod, {{"targetPort", 9000}}), 9000);
  EXPECT_EQ(find_port(pod, {{"targetPort", "http"}, {"protocol", "TCP"}}), 8080);
  EXPECT_EQ(find_port(pod, {{"targetPort", "dns"}, {"protocol", "UDP"}}), 53);
  EXPECT_EQ(find_port(pod, {{"targetPort", "dns"}, {"protocol", "TCP"}}), std::nullopt);
  EXPECT_EQ(find_port(pod, {{"targetPort", "metrics"}}), std::nullopt);
  // A sidecar (restartable init container) serves ports too; a plain init container does not.
  json side = pod_with(json::array(), json::parse(R"([{"name":"proxy","restartPolicy":"Always",
                                                       "ports":[{"name":"mesh","containerPort":15001}]},
                                                      {"name":"setup","ports":[{"name":"once","containerPort":1}]}])"));
  EXPECT_EQ(find_port(side, {{"targetPort", "mesh"}}), 15001);
  EXPECT_EQ(find_port(side, {{"targetPort", "once"}}), std::nullopt);
}

TEST(PodInEndpoints, TerminalPodsAndPodsWithoutIPAreOut) {
  json running = {{"status", {{"phase", "Running"}, {"podIP", "10.0.0.1"}}}};
  EXPECT_TRUE(pod_in_endpoints(running, false));
  json done = running;
  done["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(pod_in_endpoints(done, true));
  json no_ip = {{"status", {{"phase", "Running"}}}};
  EXPECT_FALSE(pod_in_endpoints(no_ip, true));
  json deleting = running;
  deleting["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z";
  EXPECT_FALSE(pod_in_endpoints(deleting, false));
  EXPECT_TRUE(pod_in_endpoints(deleting, true));
}

api::ObjectPtr ready_pod(const std::string& name, const std::string& transition) {
  return std::make_shared<const json>(json{
      {"metadata", {{"name", name}}},
      {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", transition}}})}}}});
}

TEST(TriggerTimeTracker, FirstTheServiceThenTheEarliestChange) {
  TriggerTimeTracker t;
  json svc = {{"metadata", {{"creationTimestamp", "2025-01-01T00:00:00Z"}}}};
  auto a = ready_pod("a", "2025-01-01T00:00:05Z"), b = ready_pod("b", "2025-01-01T00:00:07Z");
  EXPECT_EQ(t.compute("ns/s", svc, {a}), "2025-01-01T00:00:00Z");  // first sync: the Service's creation
  EXPECT_EQ(t.compute("ns/s", svc, {a}), "");                      // nothing changed
  auto a2 = ready_pod("a", "2025-01-01T00:00:09Z");
  EXPECT_EQ(t.compute("ns/s", svc, {a2, b}), "2025-01-01T00:00:07Z");  // b is new, a changed later
  t.forget("ns/s");
  EXPECT_EQ(t.compute("ns/s", svc, {a2, b}), "2025-01-01T00:00:00Z");
}

TEST(DesiredSlices, GroupedByResolvedPortsAndCut) {
  json svc = {{"metadata", {{"name", "web"}}},
              {"spec", {{"ports", json::array({{{"name", "web"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}}})}}}};
  std::vector<api::ObjectPtr> pods;
  for (int i = 0; i < 5; ++i) {
    json p = pod_with(json::array({{{"name", "http"}, {"containerPort", i < 3 ? 8080 : 9090}}}));
    p["metadata"] = {{"name", "p" + std::to_string(i)}, {"namespace", "ns"}, {"uid", "u" + std::to_string(i)}};
    p["status"] = {{"phase", "Running"}, {"podIP", "10.0.0." + std::to_string(10 + i)}};
    pods.push_back(std::make_shared<const json>(p));
  }
  auto slices = desired_slices(svc, pods, 2);
  ASSERT_EQ(slices.size(), 3u);  // 8080: 2 + 1, 9090: 2
  EXPECT_EQ(slices[0].ports[0]["port"], 8080);
  EXPECT_EQ(slices[0].endpoints.size(), 2u);
  EXPECT_EQ(slices[1].endpoints.size(), 1u);
  EXPECT_EQ(slices[2].ports[0]["port"], 9090);
  EXPECT_EQ(slices[0].endpoints[0]["conditions"]["ready"], false);  // no Ready condition
}

TEST(NamespaceConditions, KubesReasonsAndMessages) {
  json conditions = json::array();
  NamespaceContent content;
  content.remaining["pods."] = 2;
  content.finalizers_remaining["example.com/x"] = 1;
  EXPECT_TRUE(update_namespace_conditions(conditions, content, "2025-01-01T00:00:00Z"));
  ASSERT_EQ(conditions.size(), 5u);
  auto find = [&](const std::string& type) {
    for (const auto& c : conditions)
      if (c["type"] == type) return c;
    return json();
  };
  EXPECT_EQ(find("NamespaceContentRemaining")["message"], "Some resources are remaining: pods. has 2 resource instances");
  EXPECT_EQ(find("NamespaceFinalizersRemaining")["message"],
            "Some content in the namespace has finalizers remaining: example.com/x in 1 resource instances");
  EXPECT_EQ(find("NamespaceDeletionContentFailure")["status"], "False");
  // The same again changes nothing; a status flip moves the transition time.
  EXPECT_FALSE(update_namespace_conditions(conditions, content, "2025-01-01T00:01:00Z"));
  content = {};
  EXPECT_TRUE(update_namespace_conditions(conditions, content, "2025-01-01T00:02:00Z"));
  EXPECT_EQ(find("NamespaceContentRemaining")["status"], "False");
  EXPECT_EQ(find("NamespaceContentRemaining")["reason"], "ContentRemoved");
  EXPECT_EQ(find("NamespaceContentRemaining")["lastTransitionTime"], "2025-01-01T00:02:00Z");
  EXPECT_EQ(find("NamespaceDeletionDiscoveryFailure")["lastTransitionTime"], "2025-01-01T00:00:00Z");
}

}  // namespace
}  // namespace kctl::controllers
