// Node IPAM ("nodeipam", kube's range allocator): every Node without a podCIDR gets the next free subnet of
// --cluster-cidr with --node-cidr-mask-size in spec.podCIDR and spec.podCIDRs; a node that has one keeps it, and a
// deleted node's subnet goes back to the pool. The used set is rebuilt from the Nodes at start.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "api/event_recorder.h"
#include "daemons/controller-manager/cidr_set.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

class NodeIpamController : public Controller {
 public:
  // Throws std::invalid_argument for a bad --cluster-cidr or --node-cidr-mask-size.
  explicit NodeIpamController(ControllerContext& context);
  ~NodeIpamController() override;
  void resync() override;

  // Subnets in use, for tests and D-Bus.
  size_t allocated() const;

 protected:
  void sync(const std::string& key) override;

 private:
  void observe(const nlohmann::json& node);  // counts the node's podCIDR as used
  void forget(const nlohmann::json& node);   // a deleted node's podCIDR is free again
  void release_locked(const std::string& node_name);
  void enqueue_waiting_nodes();

  api::Informer& nodes_;
  api::EventRecorder events_;
  mutable std::mutex mutex_;
  CidrSet cidrs_;                                          // guarded by mutex_
  std::map<std::string, std::string> by_node_;             // node -> its subnet (set or being set); guarded by mutex_
  std::map<std::string, std::set<std::string>> holders_;   // subnet -> nodes that claim it; guarded by mutex_
};

}  // namespace kctl::controllers
