// Reading Services and EndpointSlices as kube-proxy does: a port's endpoints are the slice endpoints listed under a
// slice port of the same name and protocol, ready ones first choice, serving terminating ones when nothing is ready.
#include "daemons/proxy/service_port.h"

#include <algorithm>
#include <set>

namespace kctl::proxy {

using nlohmann::json;

namespace {

std::string str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t num(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// A condition left out of a slice means true for ready and serving (the API's rule) and false for terminating.
bool condition(const json& endpoint, const char* name, bool unset) {
  auto c = endpoint.find("conditions");
  if (c == endpoint.end() || !c->is_object()) return unset;
  auto v = c->find(name);
  return v != c->end() && v->is_boolean() ? v->get<bool>() : unset;
}

uint8_t protocol_number(const std::string& p) {
  if (p == "UDP") return 17;
  if (p == "SCTP") return 132;
  return 6;
}

}  // namespace

std::string Endpoint::to_string() const { return format_ipv4(ip) + ":" + std::to_string(port); }

std::string ServicePort::protocol_name() const {
  switch (protocol) {
    case 17: return "udp";
    case 132: return "sctp";
    default: return "tcp";
  }
}

std::vector<ServicePort> service_ports(const json& service, const std::vector<api::ObjectPtr>& slices,
                                       const std::string& node_name) {
  std::vector<ServicePort> out;
  const json& meta = service.value("metadata", json::object());
  const json& spec = service.value("spec", json::object());
  if (!spec.is_object() || str(spec, "type") == "ExternalName") return out;
  uint32_t cluster_ip = 0;
  if (!parse_ipv4(str(spec, "clusterIP"), cluster_ip)) return out;  // headless ("None"), IPv6, or not allocated yet
  auto ports = spec.find("ports");
  if (ports == spec.end() || !ports->is_array()) return out;

  ServicePort base;
  base.ns = str(meta, "namespace");
  base.name = str(meta, "name");
  base.cluster_ip = cluster_ip;
  base.affinity = str(spec, "sessionAffinity") == "ClientIP";
  if (base.affinity) {
    int64_t timeout = 10800;
    if (auto c = spec.find("sessionAffinityConfig"); c != spec.end() && c->is_object())
      if (auto ip = c->find("clientIP"); ip != c->end() && ip->is_object())
        if (int64_t t = num(*ip, "timeoutSeconds"); t > 0) timeout = t;
    base.affinity_timeout = uint32_t(std::min<int64_t>(timeout, 86400));  // the API's maximum
  }
  base.internal_local = str(spec, "internalTrafficPolicy") == "Local";
  base.external_local = str(spec, "externalTrafficPolicy") == "Local";

  for (const auto& p : *ports) {
    if (!p.is_object()) continue;
    ServicePort sp = base;
    sp.port_name = str(p, "name");
    std::string protocol = str(p, "protocol");
    sp.protocol = protocol_number(protocol.empty() ? "TCP" : protocol);
    sp.port = uint16_t(num(p, "port"));
    sp.node_port = uint16_t(num(p, "nodePort"));
    if (sp.port == 0) continue;

    // Ready endpoints, and serving terminating ones as the fallback, keyed by address (an address may appear in
    // several slices while the controller moves it: once is enough).
    std::set<Endpoint> ready, terminating;
    for (const auto& sp_ptr : slices) {
      const json& slice = *sp_ptr;
      if (str(slice, "addressType") != "IPv4") continue;
      uint16_t target = 0;
      bool found = false;
      for (const auto& q : slice.value("ports", json::array())) {
        if (!q.is_object() || str(q, "name") != sp.port_name) continue;
        std::string qp = str(q, "protocol");
        if (protocol_number(qp.empty() ? "TCP" : qp) != sp.protocol) continue;
        target = uint16_t(num(q, "port"));
        found = true;
        break;
      }
      if (!found || target == 0) continue;
      for (const auto& e : slice.value("endpoints", json::array())) {
        if (!e.is_object()) continue;
        bool is_ready = condition(e, "ready", true), serving = condition(e, "serving", true),
             is_terminating = condition(e, "terminating", false);
        if (!is_ready && !(serving && is_terminating)) continue;
        std::string node = str(e, "nodeName");
        for (const auto& a : e.value("addresses", json::array())) {
          uint32_t ip = 0;
          if (!a.is_string() || !parse_ipv4(a.get<std::string>(), ip)) continue;
          (is_ready ? ready : terminating).insert(Endpoint{ip, target, node == node_name, node.empty()});
          break;  // the API allows one address per endpoint (more are for later use)
        }
      }
    }
    const auto& use = ready.empty() ? terminating : ready;
    sp.endpoints.assign(use.begin(), use.end());
    out.push_back(std::move(sp));
  }
  return out;
}

}  // namespace kctl::proxy
