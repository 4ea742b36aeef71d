// IPv4 addresses and CIDRs as text and as host-order numbers: what the Service allocator, the node IPAM, the
// kubelet's pod network, the proxy and the cluster DNS all need.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kctl::api {

// "10.96.0.1" -> 0x0a600001; false when not a dotted quad.
bool parse_ipv4(std::string_view text, uint32_t& out);
std::string format_ipv4(uint32_t address);

// "10.244.0.0/16" -> address 0x0af40000 (as written, not masked), prefix 16; false unless ADDRESS/0..32.
bool parse_ipv4_cidr(std::string_view text, uint32_t& address, int& prefix);
// The network mask of a prefix length (0..32).
inline uint32_t ipv4_mask(int prefix) { return prefix <= 0 ? 0 : ~uint32_t(0) << (32 - prefix); }

// The local address the kernel would send from towards `ip` (a UDP connect sends nothing); "" without a route.
std::string source_address_towards(const std::string& ip);
// This host's address on the node network, for a daemon not told it (the kubelet's --node-ip, kctl-dns's
// --bind-address): the source address towards the apiserver when `apiserver` is an http(s) URL with another host's
// IPv4 address, else towards the default route (a master's daemons reach their apiserver on loopback or the bus);
// "" when neither gives a non-loopback address.
std::string node_address(const std::string& apiserver);

}  // namespace kctl::api
