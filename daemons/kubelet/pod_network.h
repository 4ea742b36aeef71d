// Pod networking on one node: the node bridge kctl0 holding the first address of the podCIDR, and per pod a
// network namespace attached by a veth pair with the next free address. Allocations are files under the state
// directory, so a restarted kubelet finds its pods' addresses again.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kctl::kubelet {

struct PodNetwork {
  std::string uid;
  std::string netns;       // name under /run/netns
  std::string netns_path;  // /run/netns/<netns>
  std::string ip;
  std::string gateway;
  int prefix_len = 24;
  std::string host_veth;
};

class PodNetworkManager {
 public:
  // state_dir: where allocations are recorded (one file per address). Nothing is created before ensure_bridge().
  PodNetworkManager(std::string bridge, std::string state_dir);

  // Sets the podCIDR (e.g. 10.244.1.0/24) and makes sure the bridge exists, is up, holds the gateway address, and
  // that the node forwards. Throws std::runtime_error naming the failed step.
  void ensure_bridge(const std::string& pod_cidr);
  const std::string& pod_cidr() const { return cidr_; }

  // Creates (or finds, after a restart) the pod's namespace, veth and address. On failure everything made so far
  // is removed again and std::runtime_error says why.
  PodNetwork setup(const std::string& pod_uid);
  // Removes the pod's namespace, veth and address; harmless when some or all of it is gone already.
  void teardown(const std::string& pod_uid);
  std::optional<PodNetwork> find(const std::string& pod_uid) const;
  // The pods that hold an address (for re-adoption and cleanup after a restart).
  std::vector<std::string> allocated_uids() const;

  static std::string netns_name(const std::string& pod_uid);
  static std::string veth_name(const std::string& pod_uid);

 private:
  std::string allocate_ip(const std::string& pod_uid);
  void release_ip(const std::string& pod_uid);
  PodNetwork describe(const std::string& pod_uid, const std::string& ip) const;

  std::string bridge_;
  std::string state_dir_;
  std::string cidr_;
  uint32_t base_ = 0, size_ = 0;
  int prefix_len_ = 24;
  mutable std::mutex mutex_;  // guards the allocation files
};

}  // namespace kctl::kubelet
