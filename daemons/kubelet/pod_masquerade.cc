// The kubelet's masquerade table, built as one replacing transaction so that a restarted kubelet (or one with a
// new --cluster-cidr or podCIDR) converges on one rule.
#include "daemons/kubelet/pod_masquerade.h"

#include <stdexcept>

#include "daemons/common/daemon.h"

namespace kctl::kubelet {

namespace {
nft::Ipv4Prefix prefix(const std::string& cidr, const char* what) {
  auto p = nft::Ipv4Prefix::parse(cidr);
  if (!p || cidr.find('/') == std::string::npos)
    throw std::invalid_argument(std::string(what) + " must be an IPv4 CIDR, not \"" + cidr + "\"");
  return *p;
}
}  // namespace

nft::Transaction pod_masquerade_transaction(const std::string& pod_cidr, const std::string& cluster_cidr) {
  nft::Ipv4Prefix pods = prefix(pod_cidr, "podCIDR"), cluster = prefix(cluster_cidr, "the cluster CIDR");
  nft::Transaction tx;
  tx.replace_table(nft::Family::Ipv4, kMasqueradeTable);
  tx.add_chain({nft::Family::Ipv4, kMasqueradeTable, kMasqueradeChain,
                nft::BaseChain{"nat", nft::Hook::Postrouting, nft::priority::kSrcNat}});
  tx.add_rule(nft::Rule(nft::Family::Ipv4, kMasqueradeTable, kMasqueradeChain)
                  .match_ip_saddr(pods)
                  .match_ip_daddr(cluster, true)
                  .counter()
                  .masquerade()
                  .comment("pod traffic leaving the cluster network takes the node's address"));
  return tx;
}

void program_pod_masquerade(nft::Writer& writer, const std::string& pod_cidr, const std::string& cluster_cidr) {
  nft::Transaction tx = pod_masquerade_transaction(pod_cidr, cluster_cidr);
  if (auto err = writer.commit(tx))
    throw std::runtime_error("cannot program pod egress masquerade (table ip " + std::string(kMasqueradeTable) +
                             "): " + err->message);
  if (!nft::Ipv4Prefix::parse(cluster_cidr)->contains(*nft::Ipv4Prefix::parse(pod_cidr)))
    log(LogLevel::Warning, "podCIDR " + pod_cidr + " is outside the cluster CIDR " + cluster_cidr +
                               " (--cluster-cidr): traffic between this node's own pods is masqueraded too");
  log(LogLevel::Info, "pod egress: traffic from " + pod_cidr + " to outside " + cluster_cidr +
                          " is masqueraded (table ip " + kMasqueradeTable + ")");
}

}  // namespace kctl::kubelet
