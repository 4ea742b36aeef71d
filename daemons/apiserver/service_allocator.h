// ClusterIP and NodePort allocation for Services, from --service-cluster-ip-range and --service-node-port-range.
// The allocation state is rebuilt from the stored Services at start, so nothing is allocated twice across restarts.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::apiserver {

class ServiceAllocator {
 public:
  // cidr: an IPv4 range such as 10.96.0.0/12; throws std::invalid_argument when it is not one.
  ServiceAllocator(const std::string& cidr, int node_port_min, int node_port_max);

  // The first usable address of the range: the `kubernetes` Service's ClusterIP.
  std::string first_ip() const;
  // How many addresses at the bottom of the range random allocation leaves for Services that ask for one.
  uint32_t static_band() const;
  const std::string& cidr() const { return cidr_; }

  // Records what an existing Service holds (at start).
  void mark_service(const nlohmann::json& svc);
  // Fills spec.clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy and nodePorts of a new Service, honouring requested
  // values. Random addresses come from above the static band while there are any, as in Kubernetes, so that
  // well-known addresses (10.96.0.10 for cluster DNS) stay free for the Services that ask for them. On failure throws StatusError(422) naming the field, and leaves nothing allocated.
  void allocate(nlohmann::json& svc);
  // For an update: keeps what `old` holds and allocates what the new spec adds. Once the write is done, call
  // release_difference(svc, old) to free what the update dropped; if it failed, release_difference(old, svc).
  void reallocate(const nlohmann::json& old, nlohmann::json& svc);
  // Releases everything `svc` holds (after it is deleted, or when its create failed).
  void release(const nlohmann::json& svc);
  // Releases what `svc` holds that `keep` does not.
  void release_difference(const nlohmann::json& keep, const nlohmann::json& svc);

 private:
  bool ip_in_range(uint32_t ip) const;
  void allocate_ip(nlohmann::json& spec);
  void allocate_node_ports(nlohmann::json& spec, const nlohmann::json* old_spec);

  std::string cidr_;
  uint32_t base_ = 0;
  uint32_t size_ = 0;  // addresses in the range
  int port_min_, port_max_;
  std::mutex mutex_;
  std::vector<bool> ips_;    // guarded by mutex_; index = address - base_
  std::vector<bool> ports_;  // guarded by mutex_; index = port - port_min_
  std::mt19937 rng_{std::random_device{}()};
};

// Parses dotted IPv4; false when not one.

}  // namespace kctl::apiserver
