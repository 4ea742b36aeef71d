// What the proxy programs, read from the API objects: one ServicePort per port of a Service with a ClusterIP, and
// the endpoints its EndpointSlices give that port, as kube-proxy's ServicePort and Endpoint see them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/informer.h"
#include "api/ipv4.h"

namespace kctl::proxy {

// The label that ties an EndpointSlice to its Service.
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

struct Endpoint {
  uint32_t ip = 0;  // host byte order
  uint16_t port = 0;
  bool local = false;         // on this node (its nodeName is ours)
  bool node_unknown = false;  // the slice does not say where it runs
  bool operator==(const Endpoint&) const = default;
  auto operator<=>(const Endpoint&) const = default;
  std::string to_string() const;  // "10.244.1.5:8080"
};

// One port of a Service and everything the rules for it depend on: equal values give the same chains and elements.
struct ServicePort {
  std::string ns, name, port_name;
  uint8_t protocol = 6;  // IPPROTO_TCP, _UDP or _SCTP
  uint32_t cluster_ip = 0;
  uint16_t port = 0;
  uint16_t node_port = 0;  // 0: none
  bool affinity = false;   // sessionAffinity ClientIP
  uint32_t affinity_timeout = 10800;
  bool internal_local = false;  // internalTrafficPolicy Local
  bool external_local = false;  // externalTrafficPolicy Local
  // The endpoints traffic may go to, sorted and on any node: the ready ones, or when none is ready the serving
  // terminating ones (kube's graceful termination). A Local policy takes the `local` ones of these.
  std::vector<Endpoint> endpoints;

  bool operator==(const ServicePort&) const = default;
  std::string key() const { return ns + "/" + name + ":" + port_name; }  // "default/web:http"
  std::string protocol_name() const;                                     // "tcp"
};

// The ports of a Service (none for ExternalName and headless Services, nor for a Service without an IPv4
// ClusterIP yet) with their endpoints from the Service's slices (of any addressType but IPv4 ignored).
std::vector<ServicePort> service_ports(const nlohmann::json& service, const std::vector<api::ObjectPtr>& slices,
                                       const std::string& node_name);

using api::format_ipv4;
using api::parse_ipv4;

}  // namespace kctl::proxy
