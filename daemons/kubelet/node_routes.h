// Pod networking across nodes: every node routes the other nodes' podCIDRs to their InternalIPs, kept up to date
// from the Node list (what a cloud route controller or flannel's host-gw backend does). The routes carry a
// protocol number of their own, so the kubelet finds and removes its stale ones, also after a restart.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/client.h"
#include "api/informer.h"

namespace kctl::kubelet {

// The route protocol number marking kctl's routes (`ip route show proto 211`); 0-4 and a few more are taken by
// the kernel and routing daemons (/etc/iproute2/rt_protos).
constexpr int kRouteProtocol = 211;

class NodeRoutes {
 public:
  // on_self: told (on the informer's thread) of this node's own Node each time it changes; the kubelet learns the
  // podCIDR the controller manager allocated from it.
  NodeRoutes(api::Transport& transport, std::string node_name,
             std::function<void(const nlohmann::json& self)> on_self = nullptr);
  ~NodeRoutes();
  void start();
  void stop();
  // podCIDR -> gateway (the node's InternalIP) of the routes installed by the last sync.
  std::map<std::string, std::string> routes() const;

 private:
  void sync();

  api::Transport& transport_;
  std::string node_name_;
  std::function<void(const nlohmann::json&)> on_self_;
  std::unique_ptr<api::Informer> nodes_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> installed_;
};

// The routes of other nodes the Node list asks for: podCIDR -> InternalIP, leaving out `self`.
std::map<std::string, std::string> desired_node_routes(const std::vector<api::ObjectPtr>& nodes, const std::string& self);

}  // namespace kctl::kubelet
