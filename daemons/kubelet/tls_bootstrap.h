// The kubelet's TLS bootstrap (kube's pkg/kubelet/certificate/bootstrap): with --bootstrap-kubeconfig (a bootstrap
// token and the cluster's CA, as `kctl node join` writes it) and no good client certificate yet, the kubelet asks
// the apiserver for one with a CertificateSigningRequest (CN system:node:NAME, O system:nodes, signer
// kubernetes.io/kube-apiserver-client-kubelet), waits for the controller manager to approve and sign it, keeps it
// in CERT_DIR/kubelet-client-current.pem and writes --kubeconfig to use it from then on.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace kctl::kubelet {

struct TlsBootstrapOptions {
  std::string kubeconfig;            // --kubeconfig: read when its certificate is good, written otherwise
  std::string bootstrap_kubeconfig;  // --bootstrap-kubeconfig ("" : no bootstrap)
  std::string cert_dir;              // where kubelet-client-*.pem go
  std::string node_name;
  std::chrono::seconds wait{std::chrono::minutes(15)};  // for the certificate to be issued
  std::function<bool()> cancelled;                       // polled while waiting (e.g. SIGTERM pending)
  std::function<void(const std::string&)> progress;      // what it is waiting for, for the service's STATUS=
};

inline constexpr const char* kKubeletClientCurrent = "kubelet-client-current.pem";

// Makes sure `kubeconfig` holds a client certificate that is still good, bootstrapping one when it does not (and a
// bootstrap kubeconfig is given). Returns what it did ("" when the kubeconfig was good already). Throws
// std::runtime_error saying what is wrong (no usable kubeconfig, the request was denied or failed, no certificate
// in time, the apiserver refused).
std::string ensure_kubelet_kubeconfig(const TlsBootstrapOptions& options);

}  // namespace kctl::kubelet
