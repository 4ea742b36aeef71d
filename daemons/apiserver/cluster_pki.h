// The apiserver's own PKI when no --tls-cert-file is given: what its serving certificate must cover, the files under
// DATA_DIR/pki, and the admin kubeconfig (DATA_DIR/admin.kubeconfig) that kctl and kubectl use to reach it.
#pragma once

#include <string>
#include <vector>

#include "api/pki.h"

namespace kctl::apiserver {

// kubeadm's names in the admin kubeconfig.
inline constexpr const char* kAdminClusterName = "kubernetes";
inline constexpr const char* kAdminUserName = "kubernetes-admin";
inline constexpr const char* kAdminContextName = "kubernetes-admin@kubernetes";

// The host's addresses that reach it from elsewhere: IPv4 and global IPv6, without loopback, link-local, and the
// pod bridge kctl0 that the kubelet makes (pods reach the apiserver by the `kubernetes` ClusterIP, and an address
// that comes and goes with the kubelet would re-issue the certificate at every other start).
std::vector<std::string> host_addresses();

// The serving certificate's SANs: the `kubernetes` Service's DNS names, localhost, 127.0.0.1, the Service's
// ClusterIP, and `node_addresses` (the advertise address, and host_addresses() when HTTPS is bound to every
// address, else the bind address).
pki::AltNames serving_alt_names(const std::string& service_ip, const std::vector<std::string>& node_addresses);

// The admin kubeconfig as YAML: cluster `kubernetes` at `server` with the CA inline, user `kubernetes-admin` with
// its client certificate and key inline, and the context joining them as current-context. Throws pki::PkiError.
std::string admin_kubeconfig(const pki::ClusterPkiFiles& files, const std::string& server);

// kube-public/cluster-info's data.kubeconfig as kubeadm publishes it: one cluster named "" at `server` with the CA
// inline, no users or contexts. Joining nodes read it without credentials and trust it once the CA's public key
// matches the pin they were given (--ca-cert-hash).
std::string cluster_info_kubeconfig(const std::string& ca_pem, const std::string& server);

}  // namespace kctl::apiserver
