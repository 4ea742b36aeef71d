// CidrSet: the bitmap of a cluster CIDR's node subnets, and IPv4 CIDR text in and out.
#include "daemons/controller-manager/cidr_set.h"

#include <stdexcept>

#include "api/ipv4.h"

namespace kctl::controllers {

using api::parse_ipv4_cidr;

CidrSet::CidrSet(const std::string& cluster_cidr, int node_mask_size) {
  int prefix = 0;
  if (!parse_ipv4_cidr(cluster_cidr, base_, prefix))
    throw std::invalid_argument("--cluster-cidr: not an IPv4 CIDR: \"" + cluster_cidr + "\"");
  if (node_mask_size < prefix || node_mask_size > 32)
    throw std::invalid_argument("--node-cidr-mask-size " + std::to_string(node_mask_size) +
                                " must be between the cluster CIDR's prefix length (" + std::to_string(prefix) +
                                ") and 32");
  if (node_mask_size - prefix > kMaxCidrSetBits)
    throw std::invalid_argument("--node-cidr-mask-size " + std::to_string(node_mask_size) + ": " + cluster_cidr +
                                " would hold more than 2^" + std::to_string(kMaxCidrSetBits) + " node subnets");
  base_ &= api::ipv4_mask(prefix);
  mask_size_ = node_mask_size;
  used_.assign(size_t(1) << (node_mask_size - prefix), false);
}

std::string CidrSet::cidr_at(size_t index) const {
  uint32_t addr = base_ + (mask_size_ == 32 ? uint32_t(index) : uint32_t(index) << (32 - mask_size_));
  return api::format_ipv4(addr) + "/" + std::to_string(mask_size_);
}

std::optional<size_t> CidrSet::index_of(const std::string& cidr) const {
  uint32_t addr = 0;
  int prefix = 0;
  if (!parse_ipv4_cidr(cidr, addr, prefix) || prefix != mask_size_) return std::nullopt;
  if (addr < base_) return std::nullopt;
  uint32_t offset = addr - base_;
  uint32_t step_bits = 32 - mask_size_;
  if (step_bits < 32 && (offset & ((uint32_t(1) << step_bits) - 1)) != 0) return std::nullopt;  // not a subnet start
  size_t index = step_bits == 32 ? 0 : size_t(offset >> step_bits);
  if (index >= used_.size()) return std::nullopt;
  return index;
}

std::optional<std::string> CidrSet::allocate_next() {
  if (used_count_ == used_.size()) return std::nullopt;
  for (size_t i = 0; i < used_.size(); ++i) {
    size_t candidate = (next_candidate_ + i) % used_.size();
    if (used_[candidate]) continue;
    used_[candidate] = true;
    ++used_count_;
    next_candidate_ = (candidate + 1) % used_.size();
    return cidr_at(candidate);
  }
  return std::nullopt;
}

bool CidrSet::occupy(const std::string& cidr) {
  auto i = index_of(cidr);
  if (!i) return false;
  if (!used_[*i]) {
    used_[*i] = true;
    ++used_count_;
  }
  return true;
}

bool CidrSet::release(const std::string& cidr) {
  auto i = index_of(cidr);
  if (!i) return false;
  if (used_[*i]) {
    used_[*i] = false;
    --used_count_;
  }
  return true;
}

bool CidrSet::used(const std::string& cidr) const {
  auto i = index_of(cidr);
  return i && used_[*i];
}

}  // namespace kctl::controllers
