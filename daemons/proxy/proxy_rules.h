// The shape of the proxy's nftables table `ip kctl`: kube-proxy's nftables mode (a verdict map keyed by
// `ip daddr . meta l4proto . th dport` into one chain per service port, one chain per endpoint that DNATs and marks
// hairpin traffic, NodePorts in a second map, reject for Services without endpoints and for ClusterIPs or ports
// that are not allocated), with one change: the service chain picks its endpoint with a cascade of rules instead
// of kube-proxy's `numgen random mod N vmap { ... }`. See proxy_rules.cc and docs/proxy.md for why.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemons/common/nftables.h"
#include "daemons/proxy/service_port.h"

namespace kctl::proxy {

inline constexpr const char* kTable = "kctl";
// The bit of the packet mark that asks the masquerading chain to SNAT (kube-proxy's 0x4000, bit 14).
inline constexpr uint32_t kMasqueradeMark = 0x4000;

// The names of the fixed maps, sets and chains (kube-proxy's).
namespace names {
inline constexpr const char* kServiceIps = "service-ips";
inline constexpr const char* kServiceNodePorts = "service-nodeports";
inline constexpr const char* kNoEndpointServices = "no-endpoint-services";
inline constexpr const char* kNoEndpointNodePorts = "no-endpoint-nodeports";
inline constexpr const char* kClusterIps = "cluster-ips";
inline constexpr const char* kServices = "services";
inline constexpr const char* kEndpointsCheck = "endpoints-check";
inline constexpr const char* kClusterIpsCheck = "cluster-ips-check";
inline constexpr const char* kRejectChain = "reject-chain";
inline constexpr const char* kMarkForMasquerade = "mark-for-masquerade";
inline constexpr const char* kMasquerading = "masquerading";
}  // namespace names

struct ProxyConfig {
  // The pods' addresses (--cluster-cidr): traffic to a ClusterIP from outside it is masqueraded, so that replies
  // come back through this node. Unset: none is.
  std::optional<nft::Ipv4Prefix> cluster_cidr;
  // The ClusterIP range (--service-cluster-ip-range): traffic to an address in it that is no ClusterIP is rejected.
  std::optional<nft::Ipv4Prefix> service_cidr;
};

// The chains of one service port, the elements it puts in the shared maps, and its affinity sets: everything a
// change to that port rewrites. Chains come in the order they can be written (targets before what jumps to them).
struct ServicePortObjects {
  struct Chain {
    std::string name;
    std::vector<nft::Rule> rules;
  };
  std::vector<Chain> chains;
  std::vector<nft::Set> sets;
  std::map<std::string, std::vector<nft::Element>> elements;  // map name -> its elements
};

ServicePortObjects service_port_objects(const ServicePort& port, const ProxyConfig& config);

// The chain names of a service port, derived from it like kube-proxy's ("service-ULMVA6XW-default/web/tcp/http",
// "endpoint-5OJB2KTY-default/web/tcp/http__10.244.1.5/8080").
std::string service_chain_name(const ServicePort& port);
std::string local_chain_name(const ServicePort& port);
std::string external_chain_name(const ServicePort& port);
std::string endpoint_chain_name(const ServicePort& port, const Endpoint& endpoint);
std::string affinity_set_name(const ServicePort& port, const Endpoint& endpoint);
// Whether a chain or set of the table is per service port (and so removed once no port wants it).
bool is_service_port_object(const std::string& name);

// Adds to `tx` the table and its fixed part: base chains, the dispatch, check and masquerade chains, and the shared
// maps and sets (declared, not filled). `flush` empties what may already be there (a full resync).
void add_fixed_objects(nft::Transaction& tx, const ProxyConfig& config, bool flush);

// Whether two elements hold the same value (a verdict map's verdict and chain, a data map's data).
bool same_value(const nft::Element& a, const nft::Element& b);

}  // namespace kctl::proxy
