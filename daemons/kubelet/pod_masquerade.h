// Pod egress masquerade: traffic from this node's pods to anything outside the cluster's pod network leaves with
// the node's address (what CNI plugins' ipMasq and ip-masq-agent do), since nothing outside the cluster routes pod
// addresses back. The kubelet keeps it in an nftables table of its own.
#pragma once

#include <string>

#include "daemons/common/nftables.h"

namespace kctl::kubelet {

// The kubelet's table (the proxy owns `ip kctl`) and its one chain.
inline constexpr const char* kMasqueradeTable = "kctl-kubelet";
inline constexpr const char* kMasqueradeChain = "postrouting";

// The transaction that makes the table hold exactly a nat postrouting chain at srcnat priority with one rule,
// `ip saddr <pod_cidr> ip daddr != <cluster_cidr> masquerade`, whatever it held before. Throws
// std::invalid_argument for a CIDR that is not IPv4.
nft::Transaction pod_masquerade_transaction(const std::string& pod_cidr, const std::string& cluster_cidr);

// Commits that transaction; throws std::runtime_error with the kernel's refusal. The table stays when the kubelet
// exits: pods it leaves running keep their egress.
void program_pod_masquerade(nft::Writer& writer, const std::string& pod_cidr, const std::string& cluster_cidr);

}  // namespace kctl::kubelet
