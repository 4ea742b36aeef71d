// kctl-proxy's rules without a kernel: Service and EndpointSlice objects into ServicePorts (readiness, locality,
// policies), and the batches the Proxier commits (through a fake nftables writer): a change to one Service touches
// only its own elements (and pick chains), a full sync removes what nothing wants any more and nothing it does not own.
#include <algorithm>
#include <cerrno>

#include <gtest/gtest.h>

#include "daemons/proxy/proxier.h"

using namespace kctl;
using namespace kctl::proxy;
using nlohmann::json;

namespace {

class FakeWriter : public nft::Writer {
 public:
  std::optional<nft::Error> commit(const nft::Transaction& tx) override {
    committed.push_back(tx.operations());
    return answer;
  }
  std::optional<nft::TableContents> list_table(nft::Family, const std::string&, nft::Error*) override {
    return contents;
  }
  std::vector<std::vector<std::string>> committed;
  std::optional<nft::Error> answer;
  nft::TableContents contents;
};

json service(const std::string& name, const json& spec = json::object()) {
  json s = {{"metadata", {{"namespace", "default"}, {"name", name}}},
            {"spec",
             {{"clusterIP", "10.96.0.10"}, {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}}}};
  s["spec"].merge_patch(spec);
  return s;
}

// An endpoint of a slice: address, node, ready (and serving/terminating when given).
json endpoint(const std::string& ip, const std::string& node, bool ready, json extra = json::object()) {
  json conditions = {{"ready", ready}};
  conditions.merge_patch(extra);
  return {{"addresses", {ip}}, {"nodeName", node}, {"conditions", conditions}};
}

api::ObjectPtr slice(const std::string& service, json endpoints) {
  return std::make_shared<const json>(json{
      {"metadata", {{"namespace", "default"}, {"name", service + "-x"}, {"labels", {{kServiceNameLabel, service}}}}},
      {"addressType", "IPv4"},
      {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
      {"endpoints", std::move(endpoints)}});
}

bool mentions(const std::vector<std::string>& ops, const std::string& text) {
  return std::any_of(ops.begin(), ops.end(), [&](const std::string& op) { return op.find(text) != std::string::npos; });
}

}  // namespace

TEST(ServicePortsTest, ReadyEndpointsSortedWithTheirLocality) {
  auto ports = service_ports(service("web"),
                             {slice("web", {endpoint("10.244.2.5", "node-2", true), endpoint("10.244.1.5", "node-1", true),
                                            endpoint("10.244.1.6", "node-1", false)})},
                             "node-1");
  ASSERT_EQ(ports.size(), 1u);
  const ServicePort& p = ports[0];
  EXPECT_EQ(p.key(), "default/web:http");
  EXPECT_EQ(p.port, 80);
  EXPECT_EQ(format_ipv4(p.cluster_ip), "10.96.0.10");
  ASSERT_EQ(p.endpoints.size(), 2u) << "the one not ready is left out";
  EXPECT_EQ(p.endpoints[0].to_string(), "10.244.1.5:8080");
  EXPECT_TRUE(p.endpoints[0].local);
  EXPECT_EQ(p.endpoints[1].to_string(), "10.244.2.5:8080");
  EXPECT_FALSE(p.endpoints[1].local);
}

TEST(ServicePortsTest, ServingTerminatingEndpointsOnlyWhenNoneIsReady) {
  json terminating = {{"serving", true}, {"terminating", true}};
  auto ports = service_ports(service("web"), {slice("web", {endpoint("10.244.1.7", "node-1", false, terminating)})},
                             "node-1");
  ASSERT_EQ(ports.size(), 1u);
  ASSERT_EQ(ports[0].endpoints.size(), 1u);
  EXPECT_EQ(ports[0].endpoints[0].to_string(), "10.244.1.7:8080");
  ports = service_ports(service("web"),
                        {slice("web", {endpoint("10.244.1.7", "node-1", false, terminating),
                                       endpoint("10.244.1.8", "node-1", true)})},
                        "node-1");
  ASSERT_EQ(ports[0].endpoints.size(), 1u);
  EXPECT_EQ(ports[0].endpoints[0].to_string(), "10.244.1.8:8080");
}

TEST(ServicePortsTest, PoliciesAffinityAndServicesWithoutRules) {
  auto p = service_ports(service("web", {{"type", "NodePort"},
                                         {"sessionAffinity", "ClientIP"},
                                         {"sessionAffinityConfig", {{"clientIP", {{"timeoutSeconds", 60}}}}},
                                         {"externalTrafficPolicy", "Local"},
                                         {"internalTrafficPolicy", "Local"},
                                         {"ports", {{{"name", "http"}, {"port", 80}, {"nodePort", 30080}}}}}),
                         {}, "node-1");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].node_port, 30080);
  EXPECT_TRUE(p[0].affinity);
  EXPECT_EQ(p[0].affinity_timeout, 60u);
  EXPECT_TRUE(p[0].external_local);
  EXPECT_TRUE(p[0].internal_local);
  EXPECT_TRUE(service_ports(service("headless", {{"clusterIP", "None"}}), {}, "node-1").empty());
  EXPECT_TRUE(service_ports(service("ext", {{"type", "ExternalName"}}), {}, "node-1").empty());
}

// The position of the first operation that starts with `prefix` (ops.size() when none).
size_t position(const std::vector<std::string>& ops, const std::string& prefix) {
  return size_t(std::find_if(ops.begin(), ops.end(), [&](const std::string& op) { return op.rfind(prefix, 0) == 0; }) -
                ops.begin());
}

TEST(ProxierTest, AnEndpointChangeIsOnlyElementsOfThatService) {
  FakeWriter writer;
  Proxier proxier(writer, {nft::Ipv4Prefix::parse("10.244.0.0/16"), nft::Ipv4Prefix::parse("10.96.0.0/12")});
  auto a = service("a"), b = service("b", {{"clusterIP", "10.96.0.11"}});
  ServiceMap all;
  all["default/a"] = service_ports(a, {slice("a", {endpoint("10.244.1.5", "node-1", true),
                                                   endpoint("10.244.2.5", "node-2", true)})}, "node-1");
  all["default/b"] = service_ports(b, {slice("b", {endpoint("10.244.1.9", "node-1", true)})}, "node-1");
  ASSERT_FALSE(proxier.full_sync(all));
  EXPECT_EQ(proxier.services(), 2u);
  EXPECT_EQ(proxier.endpoints(), 3u);
  const auto& full = writer.committed.back();
  EXPECT_TRUE(mentions(full, "add chain ip kctl pick-2"));
  EXPECT_TRUE(mentions(full, "add chain ip kctl pick-1"));
  EXPECT_FALSE(mentions(full, "add chain ip kctl endpoint-")) << "no chain per endpoint";
  EXPECT_FALSE(mentions(full, "add chain ip kctl service-")) << "no chain per service port";

  // One endpoint replaced: the same number of endpoints, so only the data map's element changes.
  ServiceMap change;
  change["default/a"] = service_ports(a, {slice("a", {endpoint("10.244.1.5", "node-1", true),
                                                      endpoint("10.244.3.5", "node-3", true)})}, "node-1");
  ASSERT_FALSE(proxier.partial_sync(change));
  EXPECT_EQ(writer.committed.back(), (std::vector<std::string>{"delete element ip kctl service-endpoints",
                                                               "add element ip kctl service-endpoints"}));
  EXPECT_EQ(proxier.endpoints(), 3u);

  // The same objects again (an informer resync): nothing to write, no batch.
  size_t batches = writer.committed.size();
  ASSERT_FALSE(proxier.partial_sync(change));
  EXPECT_EQ(writer.committed.size(), batches);
  EXPECT_EQ(proxier.last_operations(), 0u);

  // A third endpoint: the dispatch element goes to pick-3, made first; pick-2, which no port uses any more, goes
  // after the element that named it.
  change["default/a"] = service_ports(a, {slice("a", {endpoint("10.244.1.5", "node-1", true),
                                                      endpoint("10.244.3.5", "node-3", true),
                                                      endpoint("10.244.4.5", "node-4", true)})}, "node-1");
  ASSERT_FALSE(proxier.partial_sync(change));
  const auto& grown = writer.committed.back();
  EXPECT_FALSE(mentions(grown, "default/b/"));
  EXPECT_LT(position(grown, "add chain ip kctl pick-3"), position(grown, "add element ip kctl service-ips"));
  EXPECT_LT(position(grown, "add rule ip kctl pick-3"), position(grown, "add element ip kctl service-ips"));
  EXPECT_LT(position(grown, "delete element ip kctl service-ips"), position(grown, "delete chain ip kctl pick-2"));
  EXPECT_LT(position(grown, "flush chain ip kctl pick-2"), position(grown, "delete chain ip kctl pick-2"));
  EXPECT_TRUE(mentions(grown, "add element ip kctl service-endpoints"));
  EXPECT_FALSE(mentions(grown, "pick-1")) << "b still uses pick-1";

  // A Service deleted: its elements leave the dispatch and data maps, its ClusterIP the cluster-ips set, and the
  // pick chain only it used goes.
  ASSERT_FALSE(proxier.partial_sync({{"default/b", {}}}));
  const auto& removed = writer.committed.back();
  EXPECT_TRUE(mentions(removed, "delete element ip kctl service-ips"));
  EXPECT_TRUE(mentions(removed, "delete element ip kctl service-endpoints"));
  EXPECT_TRUE(mentions(removed, "delete element ip kctl cluster-ips"));
  EXPECT_TRUE(mentions(removed, "delete element ip kctl hairpin-endpoints")) << "10.244.1.9 was b's alone";
  EXPECT_TRUE(mentions(removed, "delete chain ip kctl pick-1"));
  EXPECT_EQ(proxier.services(), 1u);
}

TEST(ProxierTest, SharedElementsStayWhileAnyServiceUsesThem) {
  FakeWriter writer;
  Proxier proxier(writer, {nft::Ipv4Prefix::parse("10.244.0.0/16"), nft::Ipv4Prefix::parse("10.96.0.0/12")});
  // Two Services with the same pod on this node: one hairpin element, one pick-1 chain, both counted twice.
  auto a = service("a"), b = service("b", {{"clusterIP", "10.96.0.11"}});
  ServiceMap all;
  all["default/a"] = service_ports(a, {slice("a", {endpoint("10.244.1.5", "node-1", true)})}, "node-1");
  all["default/b"] = service_ports(b, {slice("b", {endpoint("10.244.1.5", "node-1", true)})}, "node-1");
  ASSERT_FALSE(proxier.full_sync(all));
  ASSERT_FALSE(proxier.partial_sync({{"default/b", {}}}));
  const auto& removed = writer.committed.back();
  EXPECT_FALSE(mentions(removed, "hairpin-endpoints")) << "a still DNATs to 10.244.1.5";
  EXPECT_FALSE(mentions(removed, "pick-1")) << "a still uses pick-1";
  ASSERT_FALSE(proxier.partial_sync({{"default/a", {}}}));
  EXPECT_TRUE(mentions(writer.committed.back(), "delete element ip kctl hairpin-endpoints"));
  EXPECT_TRUE(mentions(writer.committed.back(), "delete chain ip kctl pick-1"));
}

TEST(ProxierTest, ClientIpAffinityKeepsAChainPerEndpoint) {
  FakeWriter writer;
  Proxier proxier(writer, {nft::Ipv4Prefix::parse("10.244.0.0/16"), nft::Ipv4Prefix::parse("10.96.0.0/12")});
  auto a = service("a", {{"sessionAffinity", "ClientIP"}});
  ServiceMap all;
  all["default/a"] = service_ports(a, {slice("a", {endpoint("10.244.1.5", "node-1", true),
                                                   endpoint("10.244.2.5", "node-2", true)})}, "node-1");
  ASSERT_FALSE(proxier.full_sync(all));
  const auto& full = writer.committed.back();
  EXPECT_TRUE(mentions(full, "add chain ip kctl service-"));
  EXPECT_TRUE(mentions(full, "add chain ip kctl endpoint-"));
  EXPECT_TRUE(mentions(full, "add set ip kctl affinity-"));
  EXPECT_FALSE(mentions(full, "add chain ip kctl pick-"));
  // One endpoint replaced: its chain and set come, the old ones go, the kept endpoint's chain stays.
  ServiceMap change;
  change["default/a"] = service_ports(a, {slice("a", {endpoint("10.244.1.5", "node-1", true),
                                                      endpoint("10.244.3.5", "node-3", true)})}, "node-1");
  ASSERT_FALSE(proxier.partial_sync(change));
  const auto& ops = writer.committed.back();
  EXPECT_TRUE(mentions(ops, "default/a/tcp/http__10.244.3.5/8080"));
  EXPECT_FALSE(mentions(ops, "default/a/tcp/http__10.244.1.5/8080"));
  EXPECT_TRUE(mentions(ops, "delete chain ip kctl endpoint-"));
}

TEST(ProxierTest, AServiceChangesLayoutWhenItsAffinityDoes) {
  FakeWriter writer;
  Proxier proxier(writer, {nft::Ipv4Prefix::parse("10.244.0.0/16"), nft::Ipv4Prefix::parse("10.96.0.0/12")});
  auto endpoints = slice("a", {endpoint("10.244.1.5", "node-1", true), endpoint("10.244.2.5", "node-2", true)});
  ASSERT_FALSE(proxier.full_sync({{"default/a", service_ports(service("a"), {endpoints}, "node-1")}}));
  // ClientIP affinity: its chains come before the dispatch element names them, the data elements go.
  auto sticky = service("a", {{"sessionAffinity", "ClientIP"}});
  ASSERT_FALSE(proxier.partial_sync({{"default/a", service_ports(sticky, {endpoints}, "node-1")}}));
  const auto& on = writer.committed.back();
  EXPECT_LT(position(on, "add chain ip kctl service-"), position(on, "add element ip kctl service-ips"));
  EXPECT_TRUE(mentions(on, "delete element ip kctl service-endpoints"));
  EXPECT_TRUE(mentions(on, "delete chain ip kctl pick-2"));
  EXPECT_LT(position(on, "delete element ip kctl service-ips"), position(on, "delete chain ip kctl pick-2"));
  // And back: the chains go after the element that named them.
  ASSERT_FALSE(proxier.partial_sync({{"default/a", service_ports(service("a"), {endpoints}, "node-1")}}));
  const auto& off = writer.committed.back();
  EXPECT_LT(position(off, "add chain ip kctl pick-2"), position(off, "add element ip kctl service-ips"));
  EXPECT_TRUE(mentions(off, "add element ip kctl service-endpoints"));
  EXPECT_LT(position(off, "delete element ip kctl service-ips"), position(off, "delete chain ip kctl service-"));
  EXPECT_TRUE(mentions(off, "delete set ip kctl affinity-"));
}

TEST(ProxierTest, AFullSyncRemovesStaleChainsAndSetsButNothingItDoesNotOwn) {
  FakeWriter writer;
  writer.contents.exists = true;
  writer.contents.chains = {"services", "nat-prerouting", "service-AAAAAAAA-default/gone/tcp/http",
                            "endpoint-AAAAAAAA-default/gone/tcp/http__10.244.1.5/8080", "pick-7"};
  writer.contents.sets = {"service-ips", "affinity-AAAAAAAA-default/gone/tcp/http__10.244.1.5/8080"};
  Proxier proxier(writer, {});
  ASSERT_FALSE(proxier.full_sync({}));
  const auto& ops = writer.committed.back();
  EXPECT_TRUE(mentions(ops, "delete chain ip kctl service-AAAAAAAA-default/gone/tcp/http"));
  EXPECT_TRUE(mentions(ops, "delete chain ip kctl endpoint-AAAAAAAA-default/gone/tcp/http__10.244.1.5/8080"));
  EXPECT_TRUE(mentions(ops, "delete set ip kctl affinity-AAAAAAAA-default/gone"));
  EXPECT_TRUE(mentions(ops, "delete chain ip kctl pick-7")) << "a pick chain no port uses";
  EXPECT_FALSE(mentions(ops, "delete chain ip kctl services"));
  EXPECT_FALSE(mentions(ops, "delete chain ip kctl nat-prerouting"));
  EXPECT_FALSE(mentions(ops, "delete table"));
  // The existing fixed chains are emptied and rewritten (drift repaired), not recreated.
  EXPECT_TRUE(mentions(ops, "flush chain ip kctl services"));
}

TEST(ProxierTest, APartialSyncNeedsAFullSyncFirstAndAFailedCommitChangesNothing) {
  FakeWriter writer;
  Proxier proxier(writer, {});
  EXPECT_TRUE(proxier.partial_sync({{"default/a", {}}}));
  EXPECT_TRUE(writer.committed.empty());
  writer.answer = nft::Error{EINVAL, "add rule ip kctl services: Invalid argument"};
  auto err = proxier.full_sync({{"default/a", service_ports(service("a"), {}, "node-1")}});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message, "add rule ip kctl services: Invalid argument");
  EXPECT_FALSE(proxier.initialized());
  EXPECT_EQ(proxier.services(), 0u);
}
