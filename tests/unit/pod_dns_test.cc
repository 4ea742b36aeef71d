// A pod's resolv.conf and hosts file per spec.dnsPolicy and spec.dnsConfig, as the kubelet writes them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemons/kubelet/pod_dns.h"

using namespace kctl;
using namespace kctl::kubelet;
using nlohmann::json;

namespace {
const ResolvConf kNode{{"10.0.0.2", "10.0.0.3"}, {"corp.example"}, {"timeout:2"}};
const ClusterDnsConfig kCluster{{"10.96.0.10"}, "cluster.local", "/etc/resolv.conf"};

json pod(const std::string& spec_json) {
  return {{"metadata", {{"name", "web-0"}, {"namespace", "shop"}}}, {"spec", json::parse(spec_json)}};
}
std::string conf(const json& p, const ClusterDnsConfig& c = kCluster, std::vector<DnsWarning>* warnings = nullptr) {
  return format_resolv_conf(pod_resolv_conf(p, c, kNode, warnings));
}
}  // namespace

TEST(PodDnsTest, ClusterFirstIsTheDefault) {
  std::string expected =
      "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
      "nameserver 10.96.0.10\n"
      "options ndots:5\n";
  EXPECT_EQ(conf(pod("{}")), expected);
  EXPECT_EQ(conf(pod(R"({"dnsPolicy":"ClusterFirst"})")), expected);
  // ClusterFirstWithHostNet is ClusterFirst, with or without the host's network.
  EXPECT_EQ(conf(pod(R"({"dnsPolicy":"ClusterFirstWithHostNet","hostNetwork":true})")), expected);
}

TEST(PodDnsTest, ClusterFirstOnTheHostNetworkOrWithoutClusterDnsIsDefault) {
  std::string node = "search corp.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions timeout:2\n";
  EXPECT_EQ(conf(pod(R"({"hostNetwork":true})")), node);
  std::vector<DnsWarning> warnings;
  EXPECT_EQ(conf(pod("{}"), {{}, "cluster.local", "/etc/resolv.conf"}, &warnings), node);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].reason, "MissingClusterDNS");
  EXPECT_NE(warnings[0].message.find("Falling back to \"Default\""), std::string::npos);
  // ... and without a node file either: the node's own resolver.
  EXPECT_EQ(conf(pod("{}"), {{}, "cluster.local", ""}), "search .\nnameserver 127.0.0.1\n");
  // An unset policy on the host network is ClusterFirst there: Default.
  EXPECT_EQ(conf(pod(R"({"hostNetwork":true,"dnsPolicy":""})")), node);
  // Without a cluster domain, no cluster search domains.
  EXPECT_EQ(conf(pod("{}"), {{"10.96.0.10"}, "", "/etc/resolv.conf"}),
            "search corp.example\nnameserver 10.96.0.10\noptions ndots:5\n");
}

TEST(PodDnsTest, DefaultIsTheNodesAndNoneOnlyDnsConfig) {
  EXPECT_EQ(conf(pod(R"({"dnsPolicy":"Default"})")),
            "search corp.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions timeout:2\n");
  EXPECT_EQ(conf(pod(R"({"dnsPolicy":"Default"})"), {{}, "", ""}), "search .\nnameserver 127.0.0.1\n");
  EXPECT_EQ(conf(pod(R"({"dnsPolicy":"None","dnsConfig":{"nameservers":["1.2.3.4"],"searches":["ns1.example"],
                       "options":[{"name":"ndots","value":"2"},{"name":"edns0"}]}})")),
            "search ns1.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n");
  EXPECT_EQ(conf(pod(R"({"dnsPolicy":"None"})")), "");
}

TEST(PodDnsTest, ClusterFirstWithoutANodeFileHasOnlyTheClusterServer) {
  EXPECT_EQ(format_resolv_conf(pod_resolv_conf(pod("{}"), {{"10.96.0.10"}, "cluster.local", ""}, {})),
            "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
}

TEST(PodDnsTest, DnsConfigIsMergedAsKubeMergesIt) {
  EXPECT_EQ(conf(pod(R"({"dnsConfig":{"nameservers":["10.96.0.10","1.2.3.4"],"searches":["cluster.local","x.example"],
                       "options":[{"name":"ndots","value":"1"},{"name":"single-request-reopen"}]}})")),
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example x.example\n"
            "nameserver 10.96.0.10\nnameserver 1.2.3.4\n"
            "options ndots:1 single-request-reopen\n");
}

TEST(PodDnsTest, ListsAreCutToTheResolversLimits) {
  std::vector<DnsWarning> warnings;
  auto c = pod_resolv_conf(pod(R"({"dnsConfig":{"nameservers":["1.1.1.1","2.2.2.2","3.3.3.3"]}})"), kCluster, kNode,
                           &warnings);
  EXPECT_EQ(c.nameservers, (std::vector<std::string>{"10.96.0.10", "1.1.1.1", "2.2.2.2"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].reason, "DNSConfigForming");
  EXPECT_EQ(warnings[0].message,
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: "
            "10.96.0.10 1.1.1.1 2.2.2.2");
  json many = json::array();
  for (int i = 0; i < 40; ++i) many.push_back("s" + std::to_string(i) + ".example");
  json p = pod("{}");
  p["spec"]["dnsConfig"]["searches"] = many;
  warnings.clear();
  c = pod_resolv_conf(p, kCluster, kNode, &warnings);
  ASSERT_EQ(c.searches.size(), kMaxDnsSearchPaths);
  EXPECT_EQ(c.searches.back(), "s27.example");  // 4 of the cluster's and the node's, then the first 28
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(warnings[0].message.starts_with("Search Line limits were exceeded")) << warnings[0].message;
  // A domain longer than a DNS name is dropped; a line past 2048 characters loses its last domains.
  p["spec"]["dnsConfig"]["searches"] = {std::string(254, 'a'), std::string(250, 'b'), std::string(250, 'c'),
                                        std::string(250, 'd'), std::string(250, 'e'), std::string(250, 'f'),
                                        std::string(250, 'g'), std::string(250, 'h'), std::string(250, 'i')};
  c = pod_resolv_conf(p, kCluster, kNode);
  EXPECT_EQ(c.searches.size(), 4u + 7u);  // the eighth 250-character domain would pass 2048 characters
  EXPECT_EQ(c.searches.back(), std::string(250, 'h'));  // 'i' went
  size_t line = 0;
  for (const auto& s : c.searches) line += s.size() + 1;
  EXPECT_LE(line - 1, kMaxDnsSearchListChars);
}

TEST(PodDnsTest, FilesAreWrittenAndBoundUnlessTheContainerMountsItsOwn) {
  std::string dir = ::testing::TempDir() + "/pod-dns-" + std::to_string(::getpid());
  std::string node_file = dir + "-node.conf";
  {
    std::ofstream(node_file) << "nameserver 10.0.0.2\nsearch corp.example .\n";
  }
  json p = pod("{}");
  auto warnings = write_pod_dns_files(p, dir, "10.244.1.5", {{"10.96.0.10"}, "cluster.local", node_file});
  EXPECT_TRUE(warnings.empty());
  std::ifstream in(dir + "/resolv.conf");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
                  "nameserver 10.96.0.10\noptions ndots:5\n");
  auto mounts = pod_dns_mounts(p, json::object(), dir);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].source, dir + "/resolv.conf");
  EXPECT_EQ(mounts[0].target, "/etc/resolv.conf");
  EXPECT_EQ(mounts[1].target, "/etc/hosts");
  json own = {{"volumeMounts", {{{"name", "x"}, {"mountPath", "/etc/resolv.conf"}}}}};
  mounts = pod_dns_mounts(p, own, dir);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].target, "/etc/hosts");
  // The kubelet cannot make the sandbox when the node's file is gone.
  EXPECT_THROW(write_pod_dns_files(p, dir, "10.244.1.5", {{"10.96.0.10"}, "cluster.local", dir + "/missing"}),
               std::runtime_error);
  std::filesystem::remove_all(dir);
  std::filesystem::remove(node_file);
}

TEST(PodDnsTest, HostsFileHasThePodAndItsAliases) {
  json p = pod(R"({"hostAliases":[{"ip":"10.1.2.3","hostnames":["foo.local","bar.local"]}]})");
  EXPECT_EQ(pod_hosts_file(p, "10.244.1.5", "cluster.local"),
            "# Kubernetes-managed hosts file.\n"
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "fe00::0\tip6-mcastprefix\n"
            "fe00::1\tip6-allnodes\n"
            "fe00::2\tip6-allrouters\n"
            "10.244.1.5\tweb-0\n"
            "\n# Entries added by HostAliases.\n"
            "10.1.2.3\tfoo.local\tbar.local\n");
  json sub = pod(R"({"hostname":"db","subdomain":"pg"})");
  EXPECT_NE(pod_hosts_file(sub, "10.244.1.6", "cluster.local").find("10.244.1.6\tdb.pg.shop.svc.cluster.local\tdb\n"),
            std::string::npos);
  EXPECT_EQ(pod_hostname(sub), "db");
  json long_name = {{"metadata", {{"name", std::string(62, 'a') + "-b"}}}};
  EXPECT_EQ(pod_hostname(long_name), std::string(62, 'a'));
}
