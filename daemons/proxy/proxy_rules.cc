// The rules of `ip kctl`, built as nft::Rule objects for the netlink writer.
//
// Why data maps and shared pick chains: a batch that adds a rule with a verdict, a jump or a DNAT, or a verdict map
// element, makes the kernel revalidate every chain reachable from the base chains before it commits; with one chain
// per service port and per endpoint (kube-proxy's shape, 60,000 chains at 10,000 Services) that alone took ~80 ms
// for any endpoint change, and anonymous maps (kube-proxy's `numgen random mod N vmap { ... }`) grow the full load
// quadratically (tests/bench/proxy_layouts_bench.cc). So a service port's endpoints are elements of one named data
// map (`service-endpoints`: ClusterIP . proto . port . i -> address . port), and its dispatch element goes to the
// chain shared by all ports with the same number N of endpoints, `pick-N`: `dnat ip to ip daddr . meta l4proto .
// th dport . numgen random mod N map @service-endpoints`. Replacing an endpoint changes one data element (no
// revalidation); a new N changes the dispatch element, which revalidates the few pick chains only. NodePorts work
// the same way through `nodeport-endpoints`; hairpin traffic is found after DNAT by `ip saddr . ip daddr` in a set
// of this node's endpoints. Services with ClientIP affinity (rare) keep a chain per endpoint, whose rule updates
// the endpoint's affinity set (a dynamic set per endpoint is what remembers the client).
#include "daemons/proxy/proxy_rules.h"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <tuple>

namespace kctl::proxy {

namespace {

using nft::Family;
using nft::Verdict;

nft::Rule rule(const std::string& chain) { return nft::Rule(Family::Ipv4, kTable, chain); }

// kube-proxy's name hash: 8 base32 characters of a hash of the full name, so that names that differ in one digit
// look different and a truncated name stays unique. FNV-1a here (no cryptography needed).
std::string hashed(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out(8, 'A');
  for (int i = 0; i < 8; ++i) out[i] = kAlphabet[(h >> (i * 5)) & 31];
  // nft names are at most 255 characters; namespaces and names are at most 63 each, so this never truncates in
  // practice.
  std::string full = out + "-" + name;
  if (full.size() > 200) full = full.substr(0, 197) + "...";
  return full;
}

std::string port_base(const ServicePort& p) {
  return p.ns + "/" + p.name + "/" + p.protocol_name() + "/" + p.port_name;
}

std::string endpoint_base(const ServicePort& p, const Endpoint& e) {
  return port_base(p) + "__" + format_ipv4(e.ip) + "/" + std::to_string(e.port);
}

std::vector<uint8_t> zero32() { return {0, 0, 0, 0}; }

// The affinity rules, then the cascade: the body of a service or local chain over `endpoints` (not empty).
std::vector<nft::Rule> balancing_rules(const ServicePort& p, const std::string& chain,
                                       const std::vector<Endpoint>& endpoints) {
  std::vector<nft::Rule> rules;
  if (p.affinity)
    for (const auto& e : endpoints)
      rules.push_back(std::move(rule(chain).load_ip_saddr().lookup(affinity_set_name(p, e))
                                    .verdict(Verdict::Goto, endpoint_chain_name(p, e))));
  size_t n = endpoints.size();
  for (size_t i = 0; i + 1 < n; ++i)
    rules.push_back(std::move(rule(chain)
                                  .numgen_random(uint32_t(n - i))
                                  .cmp(nft::Register::R1, nft::CmpOp::Eq, zero32())
                                  .verdict(Verdict::Goto, endpoint_chain_name(p, endpoints[i]))));
  rules.push_back(std::move(rule(chain).verdict(Verdict::Goto, endpoint_chain_name(p, endpoints[n - 1]))));
  return rules;
}

nft::Key service_key(const ServicePort& p) { return nft::Key().ipv4(p.cluster_ip).proto(p.protocol).port(p.port); }
nft::Key node_port_key(const ServicePort& p) { return nft::Key().proto(p.protocol).port(p.node_port); }

}  // namespace

std::string service_chain_name(const ServicePort& p) { return "service-" + hashed(port_base(p)); }
std::string local_chain_name(const ServicePort& p) { return "local-" + hashed(port_base(p)); }
std::string external_chain_name(const ServicePort& p) { return "external-" + hashed(port_base(p)); }
std::string endpoint_chain_name(const ServicePort& p, const Endpoint& e) {
  return "endpoint-" + hashed(endpoint_base(p, e));
}
std::string affinity_set_name(const ServicePort& p, const Endpoint& e) {
  return "affinity-" + hashed(endpoint_base(p, e));
}

bool is_service_port_object(const std::string& name) {
  // The per-port names all contain a '/', which no fixed name does (as in kube-proxy); the pick chains' start so.
  return name.find('/') != std::string::npos || name.rfind("pick-", 0) == 0;
}

bool same_value(const nft::Element& a, const nft::Element& b) {
  return a.verdict == b.verdict && a.chain == b.chain && a.data == b.data;
}

namespace {

// Which endpoints a port's traffic goes to: internal (ClusterIP) and external (NodePort) traffic, each all of them
// or only this node's as the port's traffic policies say.
struct TrafficEndpoints {
  std::vector<Endpoint> local, internal, external;
  explicit TrafficEndpoints(const ServicePort& p) {
    for (const auto& e : p.endpoints)
      if (e.local) local.push_back(e);
    internal = p.internal_local ? local : p.endpoints;
    external = p.external_local ? local : p.endpoints;
  }
};

// A service port with ClientIP affinity: kube-proxy's chains. The service chain sends a client found in an
// endpoint's affinity set to that endpoint's chain, and picks among the rest with a cascade of `numgen random mod
// (N-i) 0 goto endpoint-i` rules (1/N each, as iptables' statistic cascade; no anonymous vmap, whose cost grows
// with the table); the endpoint's chain refreshes the client in its set and DNATs.
ServicePortObjects chained_port_objects(const ServicePort& p, const ProxyConfig& config) {
  ServicePortObjects out;
  const TrafficEndpoints traffic(p);
  const auto& [local, internal, external] = traffic;
  bool any = !p.endpoints.empty();
  bool uses_cluster_chain = any && (!p.internal_local || (p.node_port && !p.external_local));
  bool uses_local_chain = !local.empty() && (p.internal_local || (p.node_port && p.external_local));
  bool uses_external_chain = any && p.node_port;

  // Endpoint chains (and their affinity sets) of every endpoint a balancing chain may pick.
  const std::vector<Endpoint>& chained = uses_cluster_chain ? p.endpoints : local;
  if (uses_cluster_chain || uses_local_chain) {
    for (const auto& e : chained) {
      std::string name = endpoint_chain_name(p, e);
      ServicePortObjects::Chain c{name, {}};
      // Hairpin: a pod that reaches itself through the Service must see the reply come from the ClusterIP, which
      // only a masquerade (to the bridge's address) achieves. Only a pod on this node can be the client of these
      // rules and the endpoint at once, so endpoints elsewhere need no such rule.
      if (e.local || e.node_unknown)
        c.rules.push_back(std::move(rule(name).match_ip_saddr_is(e.ip).verdict(Verdict::Jump,
                                                                               names::kMarkForMasquerade)));
      if (p.affinity) {
        std::string set = affinity_set_name(p, e);
        nft::Set s{Family::Ipv4, kTable, set, {nft::DataType::Ipv4Addr}, std::nullopt};
        s.dynamic = true;
        s.timeout_seconds = p.affinity_timeout;
        out.sets.push_back(std::move(s));
        c.rules.push_back(std::move(rule(name).load_ip_saddr().dynset_update(set)));
      }
      c.rules.push_back(std::move(rule(name).match_l4proto(p.protocol).dnat_to(e.ip, e.port)));
      out.chains.push_back(std::move(c));
    }
  }
  if (uses_cluster_chain) {
    std::string name = service_chain_name(p);
    out.chains.push_back({name, balancing_rules(p, name, p.endpoints)});
  }
  if (uses_local_chain) {
    std::string name = local_chain_name(p);
    out.chains.push_back({name, balancing_rules(p, name, local)});
  }
  if (uses_external_chain) {
    std::string name = external_chain_name(p);
    ServicePortObjects::Chain c{name, {}};
    if (!p.external_local) {
      // NodePort traffic may leave for another node: masquerade it so that the reply comes back here.
      c.rules.push_back(std::move(rule(name).verdict(Verdict::Jump, names::kMarkForMasquerade)));
      c.rules.push_back(std::move(rule(name).verdict(Verdict::Goto, service_chain_name(p))));
    } else {
      // Local: the client's address is kept, and only this node's endpoints serve. Pods of this node are not
      // subject to the policy (kube-proxy's short-circuit): they reach any endpoint.
      if (config.cluster_cidr)
        c.rules.push_back(std::move(rule(name).match_ip_saddr(*config.cluster_cidr)
                                        .verdict(Verdict::Goto, service_chain_name(p))));
      if (uses_local_chain) c.rules.push_back(std::move(rule(name).verdict(Verdict::Goto, local_chain_name(p))));
    }
    out.chains.push_back(std::move(c));
  }

  // Dispatch, and what happens when there is nothing to dispatch to: reject (no endpoint anywhere: the client is
  // told at once) or drop (a Local policy without an endpoint here, as kube-proxy does).
  auto reject = [](nft::Key k) { return nft::Element{std::move(k), Verdict::Goto, names::kRejectChain}; };
  auto drop = [](nft::Key k) { return nft::Element{std::move(k), Verdict::Drop, ""}; };
  if (!internal.empty())
    out.elements[names::kServiceIps].push_back(
        {service_key(p), Verdict::Goto, p.internal_local ? local_chain_name(p) : service_chain_name(p)});
  else
    out.elements[names::kNoEndpointServices].push_back(any ? drop(service_key(p)) : reject(service_key(p)));
  if (p.node_port) {
    if (uses_external_chain)
      out.elements[names::kServiceNodePorts].push_back({node_port_key(p), Verdict::Goto, external_chain_name(p)});
    if (external.empty())
      out.elements[names::kNoEndpointNodePorts].push_back(any ? drop(node_port_key(p)) : reject(node_port_key(p)));
  }
  return out;
}

}  // namespace

std::string pick_chain_name(size_t n) { return "pick-" + std::to_string(n); }
std::string external_pick_chain_name(size_t n) { return "pick-external-" + std::to_string(n); }
std::string external_local_pick_chain_name(size_t n, size_t m) {
  return "pick-external-local-" + std::to_string(n) + "-" + std::to_string(m);
}

namespace {

// `dnat ip to <key> . numgen random mod N map @map`: the key's fields are loaded by `load` into R1 and the 32-bit
// registers after it (`fields` of them), numgen after them; the element's address . port comes back in R1 and the
// 32-bit register after it.
nft::Rule pick_rule(nft::Rule r, bool node_port, size_t n, const char* map) {
  if (node_port) r.load_l4proto_dport();
  else r.load_daddr_l4proto_dport();
  r.numgen_random(uint32_t(n), nft::reg32(node_port ? 2 : 3)).map(map, nft::Register::R1, nft::Register::R1);
  r.dnat(nft::Register::R1, nft::reg32(1));
  return r;
}

ServicePortObjects::Chain pick_chain(size_t n) {
  std::string name = pick_chain_name(n);
  ServicePortObjects::Chain c{name, {}};
  c.rules.push_back(pick_rule(rule(name), false, n, names::kServiceEndpoints));
  return c;
}

ServicePortObjects::Chain external_pick_chain(size_t n) {
  std::string name = external_pick_chain_name(n);
  ServicePortObjects::Chain c{name, {}};
  // NodePort traffic may leave for another node: masquerade it so that the reply comes back here.
  c.rules.push_back(std::move(rule(name).verdict(Verdict::Jump, names::kMarkForMasquerade)));
  c.rules.push_back(pick_rule(rule(name), true, n, names::kNodePortEndpoints));
  return c;
}

// externalTrafficPolicy Local: the client's address is kept, and only this node's M endpoints serve. Pods of this
// node are not subject to the policy (kube-proxy's short-circuit): they reach any of the N endpoints.
ServicePortObjects::Chain external_local_pick_chain(size_t n, size_t m, const ProxyConfig& config) {
  std::string name = external_local_pick_chain_name(n, m);
  ServicePortObjects::Chain c{name, {}};
  if (config.cluster_cidr)
    c.rules.push_back(pick_rule(std::move(rule(name).match_ip_saddr(*config.cluster_cidr)), true, n,
                                names::kNodePortEndpoints));
  if (m > 0) c.rules.push_back(pick_rule(rule(name), true, m, names::kNodePortLocalEndpoints));
  return c;
}

std::vector<uint8_t> endpoint_value(const Endpoint& e) { return nft::Key().ipv4(e.ip).port(e.port).bytes(); }

// Every other service port: elements of the data maps, and the pick chains they need.
ServicePortObjects mapped_port_objects(const ServicePort& p, const ProxyConfig& config) {
  ServicePortObjects out;
  const TrafficEndpoints traffic(p);
  const auto& [local, internal, external] = traffic;
  bool any = !p.endpoints.empty();
  auto reject = [](nft::Key k) { return nft::Element{std::move(k), Verdict::Goto, names::kRejectChain}; };
  auto drop = [](nft::Key k) { return nft::Element{std::move(k), Verdict::Drop, ""}; };
  auto fill = [&](const char* map, const nft::Key& prefix, const std::vector<Endpoint>& endpoints) {
    for (size_t i = 0; i < endpoints.size(); ++i)
      out.elements[map].push_back(
          {nft::Key(prefix).number(uint32_t(i)), Verdict::Continue, "", endpoint_value(endpoints[i])});
  };

  if (!internal.empty()) {
    out.shared_chains.push_back(pick_chain(internal.size()));
    out.elements[names::kServiceIps].push_back({service_key(p), Verdict::Goto, pick_chain_name(internal.size())});
    fill(names::kServiceEndpoints, service_key(p), internal);
  } else {
    // Nothing to dispatch to: reject (no endpoint anywhere: the client is told at once) or drop (a Local policy
    // without an endpoint here, as kube-proxy does).
    out.elements[names::kNoEndpointServices].push_back(any ? drop(service_key(p)) : reject(service_key(p)));
  }
  if (p.node_port) {
    if (any) {
      ServicePortObjects::Chain c = p.external_local
                                        ? external_local_pick_chain(p.endpoints.size(), local.size(), config)
                                        : external_pick_chain(p.endpoints.size());
      out.elements[names::kServiceNodePorts].push_back({node_port_key(p), Verdict::Goto, c.name});
      out.shared_chains.push_back(std::move(c));
      fill(names::kNodePortEndpoints, node_port_key(p), p.endpoints);
      if (p.external_local) fill(names::kNodePortLocalEndpoints, node_port_key(p), local);
    }
    if (external.empty())
      out.elements[names::kNoEndpointNodePorts].push_back(any ? drop(node_port_key(p)) : reject(node_port_key(p)));
  }
  // Hairpin: a pod that reaches itself through the Service must see the reply come from the Service, which only a
  // masquerade (to the bridge's address) achieves. Only a pod on this node can be the client and the endpoint at
  // once.
  for (const auto& e : p.endpoints)
    if (e.local || e.node_unknown)
      out.shared_elements[names::kHairpinEndpoints].push_back(nft::Key().ipv4(e.ip).ipv4(e.ip));
  return out;
}

}  // namespace

ServicePortObjects service_port_objects(const ServicePort& p, const ProxyConfig& config) {
  ServicePortObjects out = p.affinity ? chained_port_objects(p, config) : mapped_port_objects(p, config);
  out.shared_elements[names::kClusterIps].push_back(nft::Key().ipv4(p.cluster_ip));
  return out;
}

void add_fixed_objects(nft::Transaction& tx, const ProxyConfig& config, bool flush) {
  tx.add_table(Family::Ipv4, kTable);
  using nft::DataType;
  const std::vector<DataType> service_tuple = {DataType::Ipv4Addr, DataType::InetProto, DataType::InetService};
  const std::vector<DataType> port_tuple = {DataType::InetProto, DataType::InetService};
  for (const nft::Set& s : {
           nft::Set{Family::Ipv4, kTable, names::kServiceIps, service_tuple, DataType::Verdict, false, 0,
                    "ClusterIP traffic"},
           nft::Set{Family::Ipv4, kTable, names::kServiceNodePorts, port_tuple, DataType::Verdict, false, 0,
                    "NodePort traffic"},
           nft::Set{Family::Ipv4, kTable, names::kNoEndpointServices, service_tuple, DataType::Verdict, false, 0,
                    "reject or drop traffic to service ports without endpoints"},
           nft::Set{Family::Ipv4, kTable, names::kNoEndpointNodePorts, port_tuple, DataType::Verdict, false, 0,
                    "reject or drop traffic to node ports without endpoints"},
           nft::Set{Family::Ipv4, kTable, names::kClusterIps, {DataType::Ipv4Addr}, std::nullopt, false, 0,
                    "active ClusterIPs"},
           nft::Set{Family::Ipv4, kTable, names::kHairpinEndpoints, {DataType::Ipv4Addr, DataType::Ipv4Addr},
                    std::nullopt, false, 0, "this node's endpoints: a pod reaching itself is masqueraded"}}) {
    tx.add_set(s);
    if (flush) tx.flush_set(Family::Ipv4, kTable, s.name);
  }
  // The endpoints the pick chains DNAT to. Declared by typeof: the numgen field has no type nft can name. The value
  // is declared `ip daddr . tcp dport` though it holds UDP and SCTP ports as well (the same type, inet_service):
  // nft 1.0.6 refuses to add a rule that DNATs through a map whose value is typeof `ip daddr . th dport` once the
  // map is in the kernel ("conflicting protocols specified: ip vs. th").
  // The key's modulus is nft's record only; each pick chain's rule has its own.
  using nft::Field;
  for (auto [name, key, comment] : {
           std::tuple{names::kServiceEndpoints,
                      std::vector<Field>{Field::IpDaddr, Field::L4Proto, Field::ThDport, Field::NumgenRandom},
                      "ClusterIP . proto . port . i: the service port's endpoint i"},
           std::tuple{names::kNodePortEndpoints,
                      std::vector<Field>{Field::L4Proto, Field::ThDport, Field::NumgenRandom},
                      "proto . nodePort . i: the service port's endpoint i"},
           std::tuple{names::kNodePortLocalEndpoints,
                      std::vector<Field>{Field::L4Proto, Field::ThDport, Field::NumgenRandom},
                      "proto . nodePort . i: the service port's local endpoint i (externalTrafficPolicy Local)"}}) {
    nft::Set s{Family::Ipv4, kTable, name, {}, std::nullopt, false, 0, comment};
    s.key_typeof = key;
    s.data_typeof = {Field::IpDaddr, Field::TcpDport};
    tx.add_set(s);
    if (flush) tx.flush_set(Family::Ipv4, kTable, s.name);
  }

  // Regular chains first (what the base chains jump to), each emptied and refilled.
  auto chain = [&](const std::string& name, std::vector<nft::Rule> rules) {
    tx.add_chain({Family::Ipv4, kTable, name, std::nullopt});
    if (flush) tx.flush_chain(Family::Ipv4, kTable, name);
    for (const auto& r : rules) tx.add_rule(r);
  };
  auto rules = [](auto&... r) {
    std::vector<nft::Rule> v;
    (v.push_back(std::move(r)), ...);
    return v;
  };
  const nft::Ipv4Prefix loopback = *nft::Ipv4Prefix::parse("127.0.0.0/8");
  chain(names::kMarkForMasquerade, rules(rule(names::kMarkForMasquerade).set_mark_or(kMasqueradeMark)));
  chain(names::kMasquerading,
        rules(rule(names::kMasquerading).match_ct_status_dnat().load_ip_saddr_daddr()
                  .lookup(names::kHairpinEndpoints).verdict(Verdict::Jump, names::kMarkForMasquerade),
              rule(names::kMasquerading).match_mark_bits_clear(kMasqueradeMark).verdict(Verdict::Return),
              rule(names::kMasquerading).set_mark_xor(kMasqueradeMark),
              rule(names::kMasquerading).masquerade_fully_random()));
  // TCP is refused with a reset, everything else with ICMP port unreachable (kube-proxy's `reject`). Both are
  // "connection refused" to a TCP client, but the kernel rate-limits the ICMP errors it sends to each destination
  // (net.ipv4.icmp_ratelimit): measured on kernel 6.18, a pod's first refused connection took a SYN retransmit
  // (1 s) and the next ones timed out, while a reset refuses every one at once. The node's own connections are
  // not limited (loopback), which is why it only shows from pods (tests/integration/proxy_test.cc).
  chain(names::kRejectChain, rules(rule(names::kRejectChain).match_l4proto(6).reject_tcp_reset(),
                                   rule(names::kRejectChain).reject()));
  {
    std::vector<nft::Rule> r;
    // Traffic to a ClusterIP from outside the pod network (the node itself, or a host routing the service range
    // here) is masqueraded: its replies must come back through this node to be un-DNATed.
    if (config.cluster_cidr)
      r.push_back(std::move(rule(names::kServices).match_ip_saddr(*config.cluster_cidr, true).load_ip_daddr()
                                .lookup(names::kClusterIps).verdict(Verdict::Jump, names::kMarkForMasquerade)));
    r.push_back(std::move(rule(names::kServices).load_daddr_l4proto_dport().vmap(names::kServiceIps)));
    r.push_back(std::move(rule(names::kServices).match_fib_daddr_local().match_ip_daddr(loopback, true)
                              .load_l4proto_dport().vmap(names::kServiceNodePorts)));
    chain(names::kServices, std::move(r));
  }
  chain(names::kEndpointsCheck,
        rules(rule(names::kEndpointsCheck).load_daddr_l4proto_dport().vmap(names::kNoEndpointServices),
              rule(names::kEndpointsCheck).match_fib_daddr_local().match_ip_daddr(loopback, true)
                  .load_l4proto_dport().vmap(names::kNoEndpointNodePorts)));
  {
    // After DNAT: what still goes to a ClusterIP matched no service port, and what goes to the service range
    // matched no ClusterIP. Both are refused at once rather than routed somewhere they would hang.
    std::vector<nft::Rule> r;
    r.push_back(std::move(rule(names::kClusterIpsCheck).load_ip_daddr().lookup(names::kClusterIps)
                              .verdict(Verdict::Goto, names::kRejectChain)));
    if (config.service_cidr)
      r.push_back(std::move(rule(names::kClusterIpsCheck).match_ip_daddr(*config.service_cidr)
                                .verdict(Verdict::Goto, names::kRejectChain)));
    chain(names::kClusterIpsCheck, std::move(r));
  }

  // Base chains. The filter chains run just before DNAT (dstnat - 10) to see the Service's own address, except
  // filter-output-post-dnat, which runs just after the output DNAT to see what was not translated.
  struct Base {
    const char* name;
    const char* type;
    nft::Hook hook;
    int32_t priority;
    std::vector<std::pair<bool, const char*>> jumps;  // (only new connections, target)
  };
  const int32_t dstnat = nft::priority::kDstNat;
  for (const Base& b : std::vector<Base>{
           {"filter-input", "filter", nft::Hook::Input, dstnat - 10, {{true, names::kEndpointsCheck}}},
           {"filter-forward", "filter", nft::Hook::Forward, dstnat - 10,
            {{true, names::kEndpointsCheck}, {true, names::kClusterIpsCheck}}},
           {"filter-output", "filter", nft::Hook::Output, dstnat - 10, {{true, names::kEndpointsCheck}}},
           {"filter-output-post-dnat", "filter", nft::Hook::Output, dstnat + 10, {{true, names::kClusterIpsCheck}}},
           {"nat-prerouting", "nat", nft::Hook::Prerouting, dstnat, {{false, names::kServices}}},
           {"nat-output", "nat", nft::Hook::Output, dstnat, {{false, names::kServices}}},
           {"nat-postrouting", "nat", nft::Hook::Postrouting, nft::priority::kSrcNat,
            {{false, names::kMasquerading}}}}) {
    tx.add_chain({Family::Ipv4, kTable, b.name, nft::BaseChain{b.type, b.hook, b.priority}});
    if (flush) tx.flush_chain(Family::Ipv4, kTable, b.name);
    for (const auto& [only_new, target] : b.jumps) {
      nft::Rule r = rule(b.name);
      if (only_new) r.match_ct_state_new();
      tx.add_rule(r.verdict(Verdict::Jump, target));
    }
  }
}

}  // namespace kctl::proxy
