// The kubelet's own API server (port 10250, HTTPS): container logs, exec and port-forward. The apiserver proxies
// pods/log, pods/exec and pods/portforward here; with a client CA, nobody else may call it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/status.h"
#include "api/tls.h"
#include "daemons/common/http_server.h"
#include "daemons/kubelet/kubelet.h"

namespace kctl::kubelet {

struct KubeletServerOptions {
  std::string address;  // the node IP
  int port = 10250;
  // The serving certificate and key (--tls-cert-file, --tls-private-key-file). With client_ca_file
  // (--client-ca-file) every request but /healthz must come with a client certificate from those CAs, and its
  // holder must be allowed (see refuse_caller); without it anyone is served (the kubelet's --anonymous-auth=true
  // --authorization-mode=AlwaysAllow).
  http::TlsServerOptions tls;
};

// The user the apiserver's kubelet client certificate names (kubeadm's apiserver-kubelet-client.crt).
inline constexpr const char* kApiServerKubeletClientUser = "kube-apiserver-kubelet-client";

// Whether the holder of a verified client certificate (`caller`; an empty common name: none was presented) may make
// `req` when authentication is on: nullopt when it may, else the Status to answer with (401 without a
// certificate; 403 unless the caller is in group system:masters or is kube-apiserver-kubelet-client, with the
// kubelet's message "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)").
std::optional<api::Status> refuse_caller(const http::PeerIdentity& caller, const http::Request& req);

class KubeletServer {
 public:
  // Throws std::runtime_error (the port is taken) or http::TlsError (the certificate files will not do).
  KubeletServer(Kubelet& kubelet, const KubeletServerOptions& options);
  ~KubeletServer();
  int port() const { return port_; }

 private:
  void handle(http::Request& req, ResponseWriter& w);
  void container_logs(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts);
  void exec(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts);
  void port_forward(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts);

  Kubelet& kubelet_;
  bool authenticate_ = false;  // a client CA was given
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

}  // namespace kctl::kubelet
