// ServiceAllocator: bitmaps of the service IP range and the node-port range, random allocation like
// kube-apiserver, requested values checked for range and collisions, and release on delete or failed writes.
#include "daemons/apiserver/service_allocator.h"

#include <arpa/inet.h>

#include <set>
#include <stdexcept>

#include "api/ipv4.h"
#include "api/status.h"
#include "api/validation.h"

namespace kctl::apiserver {

using api::format_ipv4;
using api::parse_ipv4;
using nlohmann::json;

ServiceAllocator::ServiceAllocator(const std::string& cidr, int node_port_min, int node_port_max)
    : cidr_(cidr), port_min_(node_port_min), port_max_(node_port_max) {
  uint32_t ip = 0;
  int prefix = 0;
  if (!api::parse_ipv4_cidr(cidr, ip, prefix))
    throw std::invalid_argument("service IP range must be an IPv4 CIDR: " + cidr);
  if (prefix < 8 || prefix > 30) throw std::invalid_argument("service IP range prefix must be /8 to /30: " + cidr);
  size_ = uint32_t(1) << (32 - prefix);
  base_ = ip & ~(size_ - 1);
  ips_.assign(size_, false);
  ips_[0] = true;          // network address
  ips_[size_ - 1] = true;  // broadcast address
  if (port_min_ < 1 || port_max_ > 65535 || port_min_ > port_max_)
    throw std::invalid_argument("bad node port range");
  ports_.assign(size_t(port_max_ - port_min_ + 1), false);
}

std::string ServiceAllocator::first_ip() const { return format_ipv4(base_ + 1); }

// Kubernetes' split of the range (KEP-3070): min(max(16, size/16), 256) addresses at the bottom for Services that
// ask for one, taken by random allocation last. For 10.96.0.0/12 that is 10.96.0.0-10.96.0.255.
uint32_t ServiceAllocator::static_band() const { return std::min<uint32_t>(std::max<uint32_t>(16, size_ / 16), 256); }

bool ServiceAllocator::ip_in_range(uint32_t ip) const { return ip > base_ && ip < base_ + size_ - 1; }

namespace {
bool wants_node_ports(const json& spec) {
  std::string type = spec.value("type", "ClusterIP");
  return type == "NodePort" || (type == "LoadBalancer" && spec.value("allocateLoadBalancerNodePorts", true));
}
bool wants_cluster_ip(const json& spec) {
  return spec.value("type", "ClusterIP") != "ExternalName" && spec.value("clusterIP", "") != "None";
}
[[noreturn]] void invalid(const std::string& field, const json& value, const std::string& detail) {
  throw api::StatusError(api::Status::invalid("Service", "", {api::cause_invalid(field, value, detail)}));
}
}  // namespace

void ServiceAllocator::mark_service(const json& svc) {
  std::lock_guard lock(mutex_);
  json spec = svc.value("spec", json::object());
  uint32_t ip;
  if (parse_ipv4(spec.value("clusterIP", ""), ip) && ip_in_range(ip)) ips_[ip - base_] = true;
  for (const auto& p : spec.value("ports", json::array())) {
    int np = p.value("nodePort", 0);
    if (np >= port_min_ && np <= port_max_) ports_[size_t(np - port_min_)] = true;
  }
}

void ServiceAllocator::allocate_ip(json& spec) {
  std::string requested = spec.value("clusterIP", "");
  uint32_t ip = 0;
  if (!requested.empty()) {
    if (!parse_ipv4(requested, ip)) invalid("spec.clusterIPs[0]", requested, "must be a valid IP address");
    if (!ip_in_range(ip))
      invalid("spec.clusterIPs[0]", requested,
              "failed to allocate IP " + requested + ": the provided IP (" + requested +
                  ") is not in the valid range. The range of valid IPs is " + cidr_);
    if (ips_[ip - base_])
      invalid("spec.clusterIPs[0]", requested, "failed to allocate IP " + requested + ": provided IP is already allocated");
  } else {
    // The upper band first; the static band (where the kubernetes and kube-dns Services ask for their addresses)
    // only once the upper one is full.
    uint32_t band = static_band();
    auto search = [&](uint32_t lo, uint32_t hi) -> uint32_t {  // a free index in [lo, hi], from a random start; 0: none
      if (lo > hi) return 0;
      uint32_t start = std::uniform_int_distribution<uint32_t>(lo, hi)(rng_), i = start;
      while (ips_[i]) {
        i = i == hi ? lo : i + 1;
        if (i == start) return 0;
      }
      return i;
    };
    uint32_t i = search(std::max<uint32_t>(band, 1), size_ - 2);
    if (i == 0) i = search(1, std::min(band, size_ - 1) - 1);
    if (i == 0) throw api::StatusError(api::Status::internal("failed to allocate a serviceIP: range is full"));
    ip = base_ + i;
  }
  ips_[ip - base_] = true;
  spec["clusterIP"] = format_ipv4(ip);
}

void ServiceAllocator::allocate_node_ports(json& spec, const json* old_spec) {
  if (!spec.contains("ports") || !spec["ports"].is_array()) return;
  // Ports the old spec held, by (port, protocol), so an update that omits nodePort keeps it.
  std::map<std::pair<int, std::string>, int> kept;
  if (old_spec)
    for (const auto& p : old_spec->value("ports", json::array()))
      if (p.value("nodePort", 0)) kept[{p.value("port", 0), p.value("protocol", "TCP")}] = p.value("nodePort", 0);
  std::set<int> taken_here;
  for (size_t i = 0; i < spec["ports"].size(); ++i) {
    auto& p = spec["ports"][i];
    int np = p.value("nodePort", 0);
    std::string field = "spec.ports[" + std::to_string(i) + "].nodePort";
    if (np == 0) {
      auto it = kept.find({p.value("port", 0), p.value("protocol", "TCP")});
      if (it != kept.end() && !taken_here.count(it->second)) np = it->second;
    }
    bool was_ours = false;
    if (old_spec)
      for (const auto& [k, v] : kept)
        if (v == np) was_ours = true;
    if (np != 0) {
      if (np < port_min_ || np > port_max_)
        invalid(field, np, "provided port is not in the valid range. The range of valid ports is " +
                               std::to_string(port_min_) + "-" + std::to_string(port_max_));
      if ((ports_[size_t(np - port_min_)] && !was_ours) || taken_here.count(np))
        invalid(field, np, "provided port is already allocated");
    } else {
      std::uniform_int_distribution<int> pick(port_min_, port_max_);
      int start = pick(rng_), cand = start;
      while (ports_[size_t(cand - port_min_)] || taken_here.count(cand)) {
        cand = cand == port_max_ ? port_min_ : cand + 1;
        if (cand == start) throw api::StatusError(api::Status::internal("failed to allocate a nodePort: range is full"));
      }
      np = cand;
    }
    taken_here.insert(np);
    p["nodePort"] = np;
  }
  for (int np : taken_here) ports_[size_t(np - port_min_)] = true;
}

void ServiceAllocator::allocate(json& svc) {
  std::lock_guard lock(mutex_);
  auto& spec = svc["spec"];
  json before = spec;
  try {
    if (wants_cluster_ip(spec)) allocate_ip(spec);
    if (spec.value("type", "ClusterIP") != "ExternalName") {
      if (spec.value("clusterIP", "") != "") spec["clusterIPs"] = json::array({spec["clusterIP"]});
      if (!spec.contains("ipFamilies")) spec["ipFamilies"] = json::array({"IPv4"});
      if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
    }
    if (wants_node_ports(spec)) allocate_node_ports(spec, nullptr);
  } catch (...) {
    // Undo the IP if the node ports failed.
    uint32_t ip;
    if (before.value("clusterIP", "") == "" && parse_ipv4(spec.value("clusterIP", ""), ip) && ip_in_range(ip))
      ips_[ip - base_] = false;
    spec = before;
    throw;
  }
}

void ServiceAllocator::reallocate(const json& old, json& svc) {
  json old_spec = old.value("spec", json::object());
  auto& spec = svc["spec"];
  std::lock_guard lock(mutex_);
  // The ClusterIP is immutable (validation says so); carry it over when the update left it out.
  if (wants_cluster_ip(spec)) {
    if (spec.value("clusterIP", "") == "" && old_spec.value("clusterIP", "") != "" &&
        old_spec.value("clusterIP", "") != "None") {
      spec["clusterIP"] = old_spec["clusterIP"];
    } else if (spec.value("clusterIP", "") == "") {
      allocate_ip(spec);
    }
    spec["clusterIPs"] = json::array({spec["clusterIP"]});
    if (!spec.contains("ipFamilies")) spec["ipFamilies"] = json::array({"IPv4"});
    if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
  }
  if (wants_node_ports(spec)) {
    allocate_node_ports(spec, wants_node_ports(old_spec) ? &old_spec : nullptr);
  } else if (spec.contains("ports") && spec["ports"].is_array()) {
    for (auto& p : spec["ports"]) p.erase("nodePort");
  }
}

void ServiceAllocator::release(const json& svc) {
  std::lock_guard lock(mutex_);
  json spec = svc.value("spec", json::object());
  uint32_t ip;
  if (parse_ipv4(spec.value("clusterIP", ""), ip) && ip_in_range(ip)) ips_[ip - base_] = false;
  for (const auto& p : spec.value("ports", json::array())) {
    int np = p.value("nodePort", 0);
    if (np >= port_min_ && np <= port_max_) ports_[size_t(np - port_min_)] = false;
  }
}

void ServiceAllocator::release_difference(const json& old, const json& svc) {
  std::lock_guard lock(mutex_);
  json old_spec = old.value("spec", json::object()), spec = svc.value("spec", json::object());
  uint32_t ip;
  if (parse_ipv4(spec.value("clusterIP", ""), ip) && ip_in_range(ip) &&
      spec.value("clusterIP", "") != old_spec.value("clusterIP", ""))
    ips_[ip - base_] = false;
  std::set<int> old_ports;
  for (const auto& p : old_spec.value("ports", json::array())) old_ports.insert(p.value("nodePort", 0));
  for (const auto& p : spec.value("ports", json::array())) {
    int np = p.value("nodePort", 0);
    if (np >= port_min_ && np <= port_max_ && !old_ports.count(np)) ports_[size_t(np - port_min_)] = false;
  }
}

}  // namespace kctl::apiserver
