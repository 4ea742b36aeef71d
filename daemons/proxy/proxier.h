// The Proxier keeps `ip kctl` equal to the Services it is given, as kube-proxy's nftables proxier does: a full sync
// makes the table hold exactly what is wanted (whatever it held: drift after `nft flush table`, chains of Services
// deleted while the proxy was down), a partial sync rewrites only the chains and map elements of the Services that
// changed, from the difference between what was committed last and what is wanted now. Each sync is one atomic
// netlink batch. Not thread-safe: one sync loop calls it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemons/common/nftables.h"
#include "daemons/proxy/proxy_rules.h"
#include "daemons/proxy/service_port.h"

namespace kctl::proxy {

// Service key ("namespace/name") -> its ports with their endpoints (empty: no rules for it).
using ServiceMap = std::map<std::string, std::vector<ServicePort>>;

class Proxier {
 public:
  Proxier(nft::Writer& writer, ProxyConfig config) : writer_(writer), config_(std::move(config)) {}

  // Makes the table hold the rules of exactly `services`. An error leaves the table as it was.
  std::optional<nft::Error> full_sync(const ServiceMap& services);
  // Makes the rules of the named Services what `changed` says (a key with no ports: the Service is gone), touching
  // nothing else. Needs a successful full sync before (the state it diffs against); an error means the table may
  // have drifted from that state: the next sync should be a full one.
  std::optional<nft::Error> partial_sync(const ServiceMap& changed);

  bool initialized() const { return initialized_; }
  size_t services() const { return applied_.size(); }
  size_t endpoints() const { return endpoints_; }
  size_t last_operations() const { return last_operations_; }

  // Removes the table (what `kctl-proxy --cleanup` does); absent is fine.
  static std::optional<nft::Error> delete_table(nft::Writer& writer);

 private:
  void count();

  nft::Writer& writer_;
  ProxyConfig config_;
  ServiceMap applied_;  // what the last successful sync committed
  // What service ports share, with the number of ports using each: the pick chains, and the keys of shared sets
  // (cluster-ips, hairpin-endpoints). One goes once no port uses it.
  std::map<std::string, int> shared_chains_;
  std::map<std::string, std::map<nft::Key, int>> shared_elements_;
  bool initialized_ = false;
  size_t endpoints_ = 0;
  size_t last_operations_ = 0;
};

}  // namespace kctl::proxy
