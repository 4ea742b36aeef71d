// A pod's /etc/resolv.conf and /etc/hosts as the kubelet makes them (pkg/kubelet/network/dns and the managed hosts
// file): nameservers, search domains and options from spec.dnsPolicy and spec.dnsConfig, the node's resolver
// configuration and the cluster DNS flags; the pod's own name and address, and spec.hostAliases.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/common/resolv_conf.h"
#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

// Limits of the C library's resolver that the kubelet enforces on what it writes (Kubernetes' validation names the
// same numbers): three nameservers (MAXNS); 32 search domains of at most 2048 characters altogether, none longer
// than a DNS name (glibc 2.28 aborts on a longer one).
inline constexpr size_t kMaxDnsNameservers = 3;
inline constexpr size_t kMaxDnsSearchPaths = 32;
inline constexpr size_t kMaxDnsSearchListChars = 2048;
inline constexpr size_t kMaxDnsSearchDomainLength = 253;

struct ClusterDnsConfig {
  std::vector<std::string> cluster_dns;           // --cluster-dns: the cluster DNS Service's address(es)
  std::string cluster_domain;                     // --cluster-domain; "" leaves the cluster search domains out
  std::string resolv_conf = "/etc/resolv.conf";   // --resolv-conf: the node's resolver configuration ("" for none)
};

// Why a pod did not get quite what it asked for, as the kubelet's Events say it.
struct DnsWarning {
  std::string reason;   // MissingClusterDNS (ClusterFirst without --cluster-dns: Default instead), DNSConfigForming
  std::string message;  // the kubelet's words
};

// The pod's resolver configuration from the node's (`node`: --resolv-conf as read, empty when that flag is "").
ResolvConf pod_resolv_conf(const nlohmann::json& pod, const ClusterDnsConfig& config, const ResolvConf& node,
                           std::vector<DnsWarning>* warnings = nullptr);

// The managed /etc/hosts: localhost lines, the pod's address with its hostname (and FQDN with a subdomain), and
// spec.hostAliases.
std::string pod_hosts_file(const nlohmann::json& pod, const std::string& pod_ip, const std::string& cluster_domain);

// The pod's hostname: spec.hostname, else its name, cut to 63 characters.
std::string pod_hostname(const nlohmann::json& pod);

// Writes resolv.conf and hosts into `dir` (made if missing), once per pod as the kubelet does when it makes the pod
// sandbox. Throws std::runtime_error when the node's --resolv-conf cannot be read (the kubelet then cannot make
// the sandbox either) or a file cannot be written.
std::vector<DnsWarning> write_pod_dns_files(const nlohmann::json& pod, const std::string& dir,
                                            const std::string& pod_ip, const ClusterDnsConfig& config);

// The bind mounts of those files for one container, leaving out a file the container mounts a volume onto itself.
std::vector<Mount> pod_dns_mounts(const nlohmann::json& pod, const nlohmann::json& container, const std::string& dir);

}  // namespace kctl::kubelet
