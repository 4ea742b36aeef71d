// The shape of the proxy's nftables table `ip kctl`: kube-proxy's dispatch (a verdict map keyed by `ip daddr . meta
// l4proto . th dport`, NodePorts in a second map, reject for Services without endpoints and for ClusterIPs or ports
// that are not allocated), but a service port's endpoints are elements of data maps that a few shared pick chains
// DNAT through, so that an endpoint change is an element change. See proxy_rules.cc and docs/proxy.md for why.
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
// The data maps the pick chains DNAT through: ClusterIP . proto . port . i (NodePorts: proto . nodePort . i) -> the
// service port's endpoint i, address . port.
inline constexpr const char* kServiceEndpoints = "service-endpoints";
inline constexpr const char* kNodePortEndpoints = "nodeport-endpoints";
inline constexpr const char* kNodePortLocalEndpoints = "nodeport-local-endpoints";
// This node's endpoints as `address . address`: a connection DNATed from a pod to itself (hairpin) is masqueraded.
inline constexpr const char* kHairpinEndpoints = "hairpin-endpoints";
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

// The elements one service port puts in the maps (its dispatch, its endpoints), and for a port with ClientIP
// affinity its chains and affinity sets: everything a change to that port rewrites. Chains come in the order they
// can be written (targets before what jumps to them).
struct ServicePortObjects {
  struct Chain {
    std::string name;
    std::vector<nft::Rule> rules;
  };
  std::vector<Chain> chains;
  std::vector<nft::Set> sets;
  std::map<std::string, std::vector<nft::Element>> elements;  // map name -> its elements
  // What other service ports may want as well, kept while any does (the Proxier counts them): the pick chains and
  // keys of shared sets (a ClusterIP in cluster-ips, a local endpoint in hairpin-endpoints).
  std::vector<Chain> shared_chains;
  std::map<std::string, std::vector<nft::Key>> shared_elements;  // set name -> its keys
};

ServicePortObjects service_port_objects(const ServicePort& port, const ProxyConfig& config);

// The chain names of a service port with ClientIP affinity, derived from it like kube-proxy's
// ("service-ULMVA6XW-default/web/tcp/http", "endpoint-5OJB2KTY-default/web/tcp/http__10.244.1.5/8080").
std::string service_chain_name(const ServicePort& port);
std::string local_chain_name(const ServicePort& port);
std::string external_chain_name(const ServicePort& port);
std::string endpoint_chain_name(const ServicePort& port, const Endpoint& endpoint);
std::string affinity_set_name(const ServicePort& port, const Endpoint& endpoint);
// The shared chains that DNAT to one of N endpoints (ClusterIP traffic, and NodePort traffic with
// externalTrafficPolicy Cluster), and to one of N endpoints for this node's pods or one of M local ones for the
// rest (NodePort traffic with externalTrafficPolicy Local): "pick-5", "pick-external-5", "pick-external-local-5-1".
std::string pick_chain_name(size_t n);
std::string external_pick_chain_name(size_t n);
std::string external_local_pick_chain_name(size_t n, size_t m);
// Whether a chain or set of the table is per service port or a pick chain (and so removed once nothing wants it).
bool is_service_port_object(const std::string& name);

// Adds to `tx` the table and its fixed part: base chains, the dispatch, check and masquerade chains, and the shared
// maps and sets (declared, not filled). `flush` empties what may already be there (a full resync).
void add_fixed_objects(nft::Transaction& tx, const ProxyConfig& config, bool flush);

// Whether two elements hold the same value (a verdict map's verdict and chain, a data map's data).
bool same_value(const nft::Element& a, const nft::Element& b);

}  // namespace kctl::proxy
