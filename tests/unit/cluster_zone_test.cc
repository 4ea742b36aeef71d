// The names of the cluster zone as Kubernetes' DNS specification has them, and resolv.conf parsing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemons/common/resolv_conf.h"
#include "daemons/dns/cluster_zone.h"

using namespace kctl::dns;
using nlohmann::json;

namespace {

class ClusterZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zone.set_service(json::parse(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.5",
        "ports":[{"name":"http","port":80,"protocol":"TCP"},{"name":"dns","port":53,"protocol":"UDP"},{"port":9000}]}})"));
    zone.set_service(json::parse(R"({"metadata":{"namespace":"db","name":"pg"},"spec":{"clusterIP":"None",
        "ports":[{"name":"sql","port":5432}]}})"));
    zone.set_endpoints(json::parse(R"({"metadata":{"namespace":"db","name":"pg"},"subsets":[
        {"addresses":[{"ip":"10.244.1.5","hostname":"pg-0"},{"ip":"10.244.2.7"}],
         "notReadyAddresses":[{"ip":"10.244.3.9","hostname":"pg-2"}],
         "ports":[{"name":"sql","port":15432,"protocol":"TCP"}]}]})"));
    zone.set_service(json::parse(R"({"metadata":{"namespace":"default","name":"ext"},
        "spec":{"type":"ExternalName","externalName":"db.example.org"}})"));
  }
  ZoneAnswer ask(const std::string& name, uint16_t t = type::kA) { return zone.answer({name, t, kClassIN}); }
  static std::vector<std::string> data(const std::vector<Record>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(r.data);
    return out;
  }
  static bool negative_with_soa(const ZoneAnswer& a, uint8_t rc) {
    return a.kind == ZoneAnswer::Kind::Answer && a.rcode == rc && a.answers.empty() && a.authority.size() == 1 &&
           a.authority[0].type == type::kSOA && a.authority[0].name == "cluster.local";
  }
  ClusterZone zone;
};

}  // namespace

TEST_F(ClusterZoneTest, ServiceWithClusterIp) {
  auto a = ask("web.default.svc.cluster.local");
  EXPECT_EQ(a.rcode, rcode::kNoError);
  EXPECT_TRUE(a.authoritative);
  EXPECT_EQ(data(a.answers), std::vector<std::string>{"10.96.0.5"});
  EXPECT_EQ(a.answers[0].ttl, kDefaultTtl);
  EXPECT_EQ(a.answers[0].name, "web.default.svc.cluster.local");
  // Case-insensitive, and the owner name keeps the question's case; a final dot is the same name.
  auto upper = ask("WEB.Default.SVC.cluster.LOCAL.");
  EXPECT_EQ(data(upper.answers), std::vector<std::string>{"10.96.0.5"});
  EXPECT_EQ(upper.answers[0].name, "WEB.Default.SVC.cluster.LOCAL.");
  // AAAA of an IPv4 Service: NOERROR with no data (not NXDOMAIN: the name exists).
  EXPECT_TRUE(negative_with_soa(ask("web.default.svc.cluster.local", type::kAAAA), rcode::kNoError));
}

TEST_F(ClusterZoneTest, SrvForNamedPortsOnly) {
  auto a = ask("_http._tcp.web.default.svc.cluster.local", type::kSRV);
  EXPECT_EQ(data(a.answers), std::vector<std::string>{"0 100 80 web.default.svc.cluster.local"});
  EXPECT_EQ(data(a.additional), std::vector<std::string>{"10.96.0.5"});
  EXPECT_EQ(data(ask("_DNS._UDP.web.default.svc.cluster.local", type::kSRV).answers),
            std::vector<std::string>{"0 100 53 web.default.svc.cluster.local"});
  // The wrong protocol, or a port that is not there: no such name.
  EXPECT_TRUE(negative_with_soa(ask("_http._udp.web.default.svc.cluster.local", type::kSRV), rcode::kNXDomain));
  EXPECT_TRUE(negative_with_soa(ask("_nope._tcp.web.default.svc.cluster.local", type::kSRV), rcode::kNXDomain));
  // An A question for an SRV name: the name exists, no data.
  EXPECT_TRUE(negative_with_soa(ask("_http._tcp.web.default.svc.cluster.local", type::kA), rcode::kNoError));
  // SRV for the Service name itself: every named port (the unnamed 9000 has none).
  EXPECT_EQ(ask("web.default.svc.cluster.local", type::kSRV).answers.size(), 2u);
  // _tcp.<service>: an empty non-terminal.
  EXPECT_TRUE(negative_with_soa(ask("_tcp.web.default.svc.cluster.local", type::kSRV), rcode::kNoError));
}

TEST_F(ClusterZoneTest, HeadlessServiceAnswersReadyEndpoints) {
  auto a = ask("pg.db.svc.cluster.local");
  EXPECT_EQ(data(a.answers), (std::vector<std::string>{"10.244.1.5", "10.244.2.7"}));  // not the unready one
  EXPECT_EQ(data(ask("pg-0.pg.db.svc.cluster.local").answers), std::vector<std::string>{"10.244.1.5"});
  // An endpoint without a hostname is named by its dashed address.
  EXPECT_EQ(data(ask("10-244-2-7.pg.db.svc.cluster.local").answers), std::vector<std::string>{"10.244.2.7"});
  EXPECT_TRUE(negative_with_soa(ask("pg-2.pg.db.svc.cluster.local"), rcode::kNXDomain));
  // SRV: one per ready endpoint and port, naming the endpoint, with the endpoint's port.
  auto srv = ask("_sql._tcp.pg.db.svc.cluster.local", type::kSRV);
  EXPECT_EQ(data(srv.answers), (std::vector<std::string>{"0 50 15432 pg-0.pg.db.svc.cluster.local",
                                                         "0 50 15432 10-244-2-7.pg.db.svc.cluster.local"}));
  EXPECT_EQ(data(srv.additional), (std::vector<std::string>{"10.244.1.5", "10.244.2.7"}));
  // A headless Service without ready endpoints: the name exists, no records.
  zone.set_endpoints(json::parse(R"({"metadata":{"namespace":"db","name":"pg"},"subsets":[]})"));
  EXPECT_TRUE(negative_with_soa(ask("pg.db.svc.cluster.local"), rcode::kNoError));
  // Hostnames are for headless Services only.
  EXPECT_TRUE(negative_with_soa(ask("x.web.default.svc.cluster.local"), rcode::kNXDomain));
}

TEST_F(ClusterZoneTest, ExternalNameIsACname) {
  auto a = ask("ext.default.svc.cluster.local");
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].type, type::kCNAME);
  EXPECT_EQ(a.answers[0].data, "db.example.org");
}

TEST_F(ClusterZoneTest, UnknownNamesAreNxdomainWithTheSoa) {
  for (const char* n : {"nothere.default.svc.cluster.local", "web.nons.svc.cluster.local", "x.cluster.local",
                        "a.b.c.d.e.f.svc.cluster.local", "nons.svc.cluster.local"}) {
    auto a = ask(n);
    EXPECT_TRUE(negative_with_soa(a, rcode::kNXDomain)) << n;
  }
  auto soa = ask("nothere.default.svc.cluster.local").authority[0];
  EXPECT_TRUE(soa.data.starts_with("ns.dns.cluster.local hostmaster.cluster.local ")) << soa.data;
  EXPECT_TRUE(soa.data.ends_with(" 7200 1800 86400 30")) << soa.data;
  // Names that exist without records of their own: the zone, svc, a namespace with Services.
  EXPECT_TRUE(negative_with_soa(ask("svc.cluster.local"), rcode::kNoError));
  EXPECT_TRUE(negative_with_soa(ask("default.svc.cluster.local"), rcode::kNoError));
  EXPECT_TRUE(negative_with_soa(ask("cluster.local"), rcode::kNoError));
  EXPECT_EQ(ask("cluster.local", type::kSOA).answers.size(), 1u);
  EXPECT_EQ(data(ask("cluster.local", type::kNS).answers), std::vector<std::string>{"ns.dns.cluster.local"});
  EXPECT_EQ(data(ask("dns-version.cluster.local", type::kTXT).answers), std::vector<std::string>{"\"1.1.0\""});
}

TEST_F(ClusterZoneTest, NameServerIsTheKubeDnsService) {
  EXPECT_TRUE(negative_with_soa(ask("ns.dns.cluster.local"), rcode::kNoError));
  zone.set_service(json::parse(R"({"metadata":{"namespace":"kube-system","name":"kube-dns"},
      "spec":{"clusterIP":"10.96.0.10"}})"));
  EXPECT_EQ(data(ask("ns.dns.cluster.local").answers), std::vector<std::string>{"10.96.0.10"});
}

TEST_F(ClusterZoneTest, PodsByDashedAddress) {
  EXPECT_EQ(data(ask("10-244-1-9.default.pod.cluster.local").answers), std::vector<std::string>{"10.244.1.9"});
  EXPECT_TRUE(negative_with_soa(ask("10-244-1-999.default.pod.cluster.local"), rcode::kNXDomain));
}

TEST_F(ClusterZoneTest, ReverseLookupsOfServicesAndOtherAddressesForwarded) {
  auto a = zone.answer({"5.0.96.10.in-addr.arpa", type::kPTR, kClassIN});
  EXPECT_EQ(data(a.answers), std::vector<std::string>{"web.default.svc.cluster.local"});
  EXPECT_EQ(data(zone.answer({"5.1.244.10.in-addr.arpa", type::kPTR, kClassIN}).answers),
            std::vector<std::string>{"pg-0.pg.db.svc.cluster.local"});
  EXPECT_EQ(zone.answer({"8.8.8.8.in-addr.arpa", type::kPTR, kClassIN}).kind, ZoneAnswer::Kind::Forward);
  zone.remove_service("default", "web");
  EXPECT_EQ(zone.answer({"5.0.96.10.in-addr.arpa", type::kPTR, kClassIN}).kind, ZoneAnswer::Kind::Forward);
}

TEST_F(ClusterZoneTest, OtherDomainsAreForwarded) {
  EXPECT_EQ(ask("debian.org").kind, ZoneAnswer::Kind::Forward);
  EXPECT_EQ(ask("notcluster.local").kind, ZoneAnswer::Kind::Forward);
  ClusterZone other("Kctl.Test.");
  EXPECT_EQ(other.domain(), "kctl.test");
  EXPECT_EQ(other.answer({"web.default.svc.cluster.local", type::kA, kClassIN}).kind, ZoneAnswer::Kind::Forward);
}

TEST_F(ClusterZoneTest, RemovedServicesAreGone) {
  zone.remove_service("default", "web");
  zone.remove_service("default", "ext");
  EXPECT_TRUE(negative_with_soa(ask("web.default.svc.cluster.local"), rcode::kNXDomain));
  // The namespace has no Services left.
  EXPECT_TRUE(negative_with_soa(ask("default.svc.cluster.local"), rcode::kNXDomain));
  EXPECT_EQ(zone.services(), 1u);
}

TEST(ResolvConfTest, ParsesAsTheCLibraryAndTheKubeletDo) {
  auto c = kctl::parse_resolv_conf(
      "# generated\nnameserver 10.0.0.2\nsearch old.example\nnameserver 10.0.0.3 ; comment\n"
      "search corp.example. example.\noptions ndots:2 edns0\noptions timeout:1\ndomain ignored.example\n\n");
  EXPECT_EQ(c.nameservers, (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(c.searches, (std::vector<std::string>{"corp.example", "example"}));
  EXPECT_EQ(c.options, (std::vector<std::string>{"ndots:2", "edns0", "timeout:1"}));
  EXPECT_EQ(kctl::format_resolv_conf(c),
            "search corp.example example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions ndots:2 edns0 timeout:1\n");
  EXPECT_EQ(kctl::format_resolv_conf({}), "");
  std::string error;
  EXPECT_EQ(kctl::read_resolv_conf("/nonexistent/resolv.conf", &error), kctl::ResolvConf{});
  EXPECT_NE(error.find("/nonexistent/resolv.conf"), std::string::npos);
}

TEST(ResolvConfTest, PodsGetResolvedsUpstreamServersInsteadOfItsLoopbackStub) {
  char tmpl[] = "/tmp/kctl-resolv-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  std::string stub = write("stub.conf", "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n");
  std::string plain = write("plain.conf", "nameserver 127.0.0.53\nnameserver 10.0.0.2\n");
  std::string upstream = write("upstream.conf", "nameserver 10.0.0.2\n");
  EXPECT_EQ(kctl::resolv_conf_for_pods(stub, upstream), upstream);
  EXPECT_EQ(kctl::resolv_conf_for_pods(plain, upstream), plain);           // a real server beside the stub: as is
  EXPECT_EQ(kctl::resolv_conf_for_pods(stub, dir + "/absent"), stub);     // resolved not running: as is
  EXPECT_EQ(kctl::resolv_conf_for_pods(dir + "/absent", upstream), dir + "/absent");
  std::filesystem::remove_all(dir);
}
