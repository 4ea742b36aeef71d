// The proxy's control loop: informers on Services and EndpointSlices mark Services dirty, one sync thread turns
// the dirty ones into a partial sync of `ip kctl` (or everything into a full sync: at start, every sync period,
// after a failed sync, on request), and keeps the route that brings the node's own traffic for the service range
// to the NAT hooks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "api/client.h"
#include "api/informer.h"
#include "daemons/common/nftables.h"
#include "daemons/proxy/proxier.h"

namespace kctl::proxy {

struct ProxyOptions {
  std::string node_name;
  ProxyConfig rules;
  std::chrono::milliseconds sync_period{30000};  // full resync: repairs drift
  // The bridge the service range is routed onto, so that connections from the node's own namespace to a ClusterIP
  // leave through the output NAT hook to a pod (and are refused when nothing serves). "" leaves routes alone; the
  // route is added once the bridge exists (the kubelet makes it).
  std::string bridge = "kctl0";
};

struct ProxyStats {
  size_t services = 0, endpoints = 0;
  uint64_t last_sync_us = 0, sync_count = 0, full_syncs = 0, failed_syncs = 0;
  size_t last_operations = 0;
  bool last_full = false;
  std::string last_error;
};

// The route protocol number marking the proxy's service-range route (the kubelet's node routes use 211).
constexpr int kServiceRouteProtocol = 212;

class Proxy {
 public:
  Proxy(api::Transport& transport, nft::Writer& writer, ProxyOptions options);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  void start();
  void stop();
  // A full sync now; waits (at most `timeout`) until one has been committed. False, with the reason, otherwise.
  bool sync_now(std::chrono::milliseconds timeout, std::string* error = nullptr);
  bool wait_for_first_sync(std::chrono::milliseconds timeout) const;
  ProxyStats stats() const;

  // What --cleanup does: the table and the service-range route go.
  static std::optional<nft::Error> cleanup(nft::Writer& writer, const ProxyConfig& config);

 private:
  void run();
  void mark_dirty(const std::string& key);
  ServiceMap desired(const std::set<std::string>& keys) const;  // empty keys: every Service
  void ensure_route();

  api::Transport& transport_;
  ProxyOptions options_;
  Proxier proxier_;  // used by the sync thread only
  std::unique_ptr<api::Informer> services_, slices_;

  mutable std::mutex mu_;
  std::condition_variable cv_;          // wakes the sync thread
  mutable std::condition_variable done_cv_;  // a sync finished
  std::set<std::string> dirty_;         // guarded by mu_
  bool full_requested_ = true;          // guarded by mu_
  bool stopping_ = false;               // guarded by mu_
  ProxyStats stats_;                    // guarded by mu_
  bool route_done_ = false;             // sync thread only
  std::thread thread_;
};

}  // namespace kctl::proxy
