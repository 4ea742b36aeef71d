// TLS for kctl's HTTP client and server (OpenSSL): contexts made from PEM files or inline PEM data as kubeconfig
// files and kube-apiserver's flags give them, and the Stream that carries HTTP over a TLS connection.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/http.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace kctl::http {

// A TLS context that cannot be made, or a handshake that failed. Messages read like Go's crypto/tls and
// crypto/x509 errors ("tls: failed to verify certificate: x509: certificate signed by unknown authority"), since
// kubectl users search for those words.
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TlsClientOptions {
  std::string ca_file, ca_data;  // PEM: the roots the server's certificate must chain to (none: the system's roots)
  std::string cert_file, cert_data, key_file, key_data;  // PEM: the client certificate and its key, if any
  std::string server_name;  // the name the certificate is checked against (and SNI); default: the URL's host
  bool insecure_skip_verify = false;
};

struct TlsServerOptions {
  std::string cert_file, key_file;  // PEM: the serving certificate (chain) and its key
  // PEM: when set, clients are asked for a certificate, which must chain to these roots when one is sent (clients
  // may still authenticate otherwise, e.g. with a token, as kube-apiserver's --client-ca-file).
  std::string client_ca_file;
};

class TlsContext {
 public:
  static std::shared_ptr<TlsContext> for_client(const TlsClientOptions& options);  // throws TlsError
  static std::shared_ptr<TlsContext> for_server(const TlsServerOptions& options);  // throws TlsError
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Runs the client handshake on a connected socket and returns the stream; takes ownership of fd either way.
  // `host` is what the URL named (checked against the certificate unless a server name overrides it).
  StreamPtr connect(int fd, const std::string& host, int timeout_seconds) const;
  // Runs the server handshake on an accepted socket; takes ownership of fd either way. A client speaking plain
  // HTTP gets Go's "Client sent an HTTP request to an HTTPS server." answer and a TlsError.
  StreamPtr accept(int fd, int timeout_seconds) const;

  // The identity a TLS stream's peer proved with its certificate (empty for other streams or no certificate).
  static PeerIdentity peer_identity(Stream& stream);

 private:
  TlsContext(SSL_CTX* ctx, bool server, std::string server_name, bool insecure)
      : ctx_(ctx), server_(server), server_name_(std::move(server_name)), insecure_(insecure) {}

  SSL_CTX* ctx_;
  bool server_;
  std::string server_name_;
  bool insecure_;
};
using TlsContextPtr = std::shared_ptr<TlsContext>;

}  // namespace kctl::http
