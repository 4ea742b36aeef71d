// The IPv4 CIDR set of node IPAM (pkg/controller/nodeipam/ipam/cidrset): the cluster CIDR cut into equal subnets
// of one prefix length, each used or free, handed out round-robin so a released subnet is not reused at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kctl::controllers {

// At most 2^16 subnets per cluster CIDR, as kube's cidrset allows (clusterMaskSize - subNetMaskSize <= 16): the
// set is a bitmap, and a cluster has far fewer nodes than that.
inline constexpr int kMaxCidrSetBits = 16;

class CidrSet {
 public:
  // Throws std::invalid_argument for a CIDR that is not IPv4 a.b.c.d/n, or a mask size that does not fit.
  CidrSet(const std::string& cluster_cidr, int node_mask_size);

  // The next free subnet ("10.244.3.0/24"), marked used; nullopt when every subnet is used.
  std::optional<std::string> allocate_next();
  // Marks `cidr` used. False when it is not one of the set's subnets (another size, outside the range).
  bool occupy(const std::string& cidr);
  // Marks `cidr` free. False when it is not one of the set's subnets.
  bool release(const std::string& cidr);
  bool used(const std::string& cidr) const;
  size_t size() const { return used_.size(); }
  size_t used_count() const { return used_count_; }

 private:
  std::optional<size_t> index_of(const std::string& cidr) const;
  std::string cidr_at(size_t index) const;

  uint32_t base_ = 0;
  int mask_size_ = 0;
  std::vector<bool> used_;
  size_t used_count_ = 0;
  size_t next_candidate_ = 0;
};

}  // namespace kctl::controllers
