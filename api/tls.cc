// TlsContext and the TLS stream: OpenSSL contexts from PEM files or data, handshakes with a deadline, verification
// errors worded as Go words them, and a stream one thread may read while another writes (the exec and port-forward
// relays do): every OpenSSL call holds the stream's mutex and the socket is non-blocking, so a reader waits in
// poll(), never inside OpenSSL holding the lock.
#include "api/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "api/openssl_util.h"

namespace kctl::http {

namespace {

// kubectl's transport gives a handshake 10 s (Go's http.Transport TLSHandshakeTimeout), whatever the request's
// own timeout; so do we (a server that never answers a ClientHello, such as a plain HTTP one, fails in 10 s).
constexpr int kHandshakeTimeoutSeconds = 10;

using api::openssl::BioPtr;
using api::openssl::Deleter;
using api::openssl::KeyPtr;
using api::openssl::X509Ptr;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL, SSL_free>>;

std::string last_openssl_error() { return api::openssl::last_error(); }

std::string read_pem_file(const std::string& path, const std::string& what) {
  std::string data;
  switch (api::openssl::read_pem_file(path, data)) {
    case api::openssl::PemRead::CannotOpen:
      throw TlsError("unable to read " + what + " " + path + ": open " + path + ": " + std::strerror(errno));
    case api::openssl::PemRead::TooLarge: throw TlsError(what + " " + path + " is larger than 1 MiB: not a PEM file");
    case api::openssl::PemRead::Ok: break;
  }
  return data;
}

BioPtr memory_bio(const std::string& pem) { return BioPtr(BIO_new_mem_buf(pem.data(), int(pem.size()))); }

// Every certificate of a PEM bundle, in order.
std::vector<X509Ptr> parse_certificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = memory_bio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the end of the data reads as an error
  return out;
}

void load_roots(SSL_CTX* ctx, const std::string& pem) {
  auto certs = parse_certificates(pem);
  if (certs.empty()) throw TlsError("unable to load root certificates: unable to parse bytes as PEM block");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (auto& c : certs) X509_STORE_add_cert(store, c.get());
}

// The certificate, the chain after it, and its key; the key must belong to the certificate.
void load_identity(SSL_CTX* ctx, const std::string& cert_pem, const std::string& key_pem) {
  auto certs = parse_certificates(cert_pem);
  if (certs.empty()) throw TlsError("tls: failed to find any PEM data in certificate input");
  if (SSL_CTX_use_certificate(ctx, certs[0].get()) != 1)
    throw TlsError("tls: cannot use the certificate: " + last_openssl_error());
  for (size_t i = 1; i < certs.size(); ++i) SSL_CTX_add1_chain_cert(ctx, certs[i].get());
  BioPtr bio = memory_bio(key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    throw TlsError("tls: failed to find any PEM data in key input");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    throw TlsError("tls: private key does not match public key");
  }
}

SSL_CTX* new_context(bool server) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) throw TlsError("tls: cannot create a context: " + last_openssl_error());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  // as Go's default for both sides
  // A peer that closes without close_notify has ended the stream, as with Go (HTTP frames its own bodies).
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

// HTTP/1.1 is what kctl serves; a client offering only h2 gets no ALPN answer and falls back, as Go's does.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
  static const unsigned char kHttp11[] = "http/1.1";
  for (unsigned i = 0; i < inlen; i += 1u + in[i])
    if (in[i] == 8 && i + 9 <= inlen && std::memcmp(in + i + 1, kHttp11, 8) == 0) {
      *out = in + i + 1;
      *outlen = 8;
      return SSL_TLSEXT_ERR_OK;
    }
  return SSL_TLSEXT_ERR_NOACK;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Waits until fd is ready for `events` or timeout_ms passes (-1: no limit). False on timeout.
bool wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return r > 0;
}

// The socket's receive timeout (SO_RCVTIMEO, which callers set as on plain sockets) in ms; -1 when none.
int receive_timeout_ms(int fd) {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0)) return -1;
  return int(tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

// The names a certificate is valid for, as Go lists them in a mismatch error: IP SANs for an IP host, DNS SANs
// otherwise.
std::string valid_names(X509* cert, bool for_ip, bool& any) {
  std::string out;
  any = false;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    std::string name;
    if (!for_ip && n->type == GEN_DNS) {
      name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)), size_t(ASN1_STRING_length(n->d.dNSName)));
    } else if (for_ip && n->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = "";
      int len = ASN1_STRING_length(n->d.iPAddress);
      inet_ntop(len == 16 ? AF_INET6 : AF_INET, ASN1_STRING_get0_data(n->d.iPAddress), buf, sizeof buf);
      name = buf;
    }
    if (name.empty()) continue;
    any = true;
    out += (out.empty() ? "" : ", ") + name;
  }
  GENERAL_NAMES_free(names);
  return out;
}

// The server certificate of the handshake in progress on this thread, kept by the verify callback: after a failed
// verification OpenSSL no longer hands it out, and the error names what it is valid for.
thread_local X509Ptr verified_leaf;

int keep_leaf(int ok, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) == 0)
    if (X509* cert = X509_STORE_CTX_get_current_cert(store); cert && X509_up_ref(cert) == 1) verified_leaf.reset(cert);
  return ok;
}

std::string verify_error(long result, const std::string& name) {
  const std::string prefix = "tls: failed to verify certificate: x509: ";
  switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
      X509* cert = verified_leaf.get();
      bool ip = is_ip_address(name), any = false;
      std::string names = cert ? valid_names(cert, ip, any) : "";
      if (ip && !any) return prefix + "cannot validate certificate for " + name + " because it doesn't contain any IP SANs";
      if (!any) return prefix + "certificate is not valid for any names, but wanted to match " + name;
      return prefix + "certificate is valid for " + names + ", not " + name;
    }
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return prefix + "certificate has expired or is not yet valid";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return prefix + "certificate signed by unknown authority";
    default:
      return prefix + X509_verify_cert_error_string(result);
  }
}

// A BIO over the socket that sends with MSG_NOSIGNAL: a peer gone mid-write is an error to return, not a SIGPIPE
// that kills the process (OpenSSL's socket BIO uses write(), and kctl does not ignore SIGPIPE).
int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n;
  while ((n = ::send(BIO_get_fd(b, nullptr), data, size_t(len), MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(b);
  return int(n);
}

int bio_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n;
  while ((n = ::recv(BIO_get_fd(b, nullptr), data, size_t(len), 0)) < 0 && errno == EINTR) {
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(b);
  return int(n);
}

const BIO_METHOD* nosignal_socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "kctl-socket");
    const BIO_METHOD* plain = BIO_s_socket();
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(plain));  // fd get/set, flush, EOF: as the socket BIO's
    BIO_meth_set_create(m, BIO_meth_get_create(plain));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(plain));
    return m;
  }();
  return method;
}

class TlsStream : public Stream {
 public:
  TlsStream(int fd, SslPtr ssl) : fd_(fd), ssl_(std::move(ssl)) {}
  ~TlsStream() override {
    {
      std::lock_guard lock(mutex_);
      ERR_clear_error();
      SSL_shutdown(ssl_.get());  // best effort close_notify; the socket is non-blocking
      ERR_clear_error();
      ssl_.reset();
    }
    ::close(fd_);
  }

  long read(char* buf, size_t len) override {
    for (;;) {
      int r, err;
      {
        std::lock_guard lock(mutex_);
        ERR_clear_error();
        r = SSL_read(ssl_.get(), buf, int(std::min<size_t>(len, INT_MAX)));
        err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), r);
      }
      if (r > 0) return r;
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_WANT_READ) {
        if (!wait_fd(fd_, POLLIN, receive_timeout_ms(fd_))) return -1;
        continue;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        if (!wait_fd(fd_, POLLOUT, -1)) return -1;
        continue;
      }
      return -1;
    }
  }

  bool write_all(std::string_view data) override {
    while (!data.empty()) {
      int r, err;
      {
        std::lock_guard lock(mutex_);
        ERR_clear_error();
        r = SSL_write(ssl_.get(), data.data(), int(std::min<size_t>(data.size(), 1 << 30)));
        err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), r);
      }
      if (r > 0) {
        data.remove_prefix(size_t(r));
      } else if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        if (!wait_fd(fd_, err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, -1)) return false;
      } else {
        return false;
      }
    }
    return true;
  }

  void shutdown() override { ::shutdown(fd_, SHUT_RDWR); }
  int fd() const override { return fd_; }
  size_t pending() const override {
    std::lock_guard lock(mutex_);
    return size_t(SSL_pending(ssl_.get()));
  }

  PeerIdentity identity() const {
    PeerIdentity id;
    std::lock_guard lock(mutex_);
    X509* cert = SSL_get0_peer_certificate(ssl_.get());
    if (!cert || SSL_get_verify_result(ssl_.get()) != X509_V_OK) return id;
    X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
      X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
      int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
      if (nid != NID_commonName && nid != NID_organizationName) continue;
      unsigned char* utf8 = nullptr;
      int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
      if (len < 0) continue;
      std::string value(reinterpret_cast<char*>(utf8), size_t(len));
      OPENSSL_free(utf8);
      if (nid == NID_commonName) id.common_name = value;
      else id.organizations.push_back(value);
    }
    return id;
  }

 private:
  int fd_;
  mutable std::mutex mutex_;
  SslPtr ssl_;  // guarded by mutex_
};

// Runs SSL_connect or SSL_accept to the end within the deadline. Throws TlsError worded for the side it runs on.
void handshake(SSL* ssl, int fd, bool server, int timeout_seconds, const std::string& name) {
  int limit = timeout_seconds > 0 ? std::min(timeout_seconds, kHandshakeTimeoutSeconds) : kHandshakeTimeoutSeconds;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit);
  verified_leaf.reset();
  for (;;) {
    ERR_clear_error();
    int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (r == 1) return;
    int err = SSL_get_error(ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, int(left.count())))
        throw TlsError(server ? "tls: handshake timeout" : "net/http: TLS handshake timeout");
      continue;
    }
    if (!server) {
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) throw TlsError(verify_error(verify, name));
    }
    std::string why = err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN ? "EOF" : last_openssl_error();
    if (!server && (why == "wrong version number" || why == "packet length too long"))
      throw TlsError("http: server gave HTTP response to HTTPS client");
    throw TlsError((server ? "tls: handshake failed: " : "tls: ") + why);
  }
}

// A connection object over fd (non-blocking from here on, with the no-SIGPIPE BIO). Closes fd when it fails.
SslPtr attach(SSL_CTX* ctx, int fd) {
  SslPtr ssl(SSL_new(ctx));
  BIO* bio = ssl ? BIO_new(nosignal_socket_method()) : nullptr;
  if (!bio) {
    ::close(fd);
    throw TlsError("tls: cannot create a connection: " + last_openssl_error());
  }
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl.get(), bio, bio);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return ssl;
}

StreamPtr run_handshake(SslPtr ssl, int fd, bool server, int timeout_seconds, const std::string& name) {
  try {
    handshake(ssl.get(), fd, server, timeout_seconds, name);
  } catch (...) {
    ssl.reset();
    ::close(fd);
    throw;
  }
  return std::make_unique<TlsStream>(fd, std::move(ssl));
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<TlsContext> TlsContext::for_client(const TlsClientOptions& o) {
  SSL_CTX* ctx = new_context(false);
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, false, o.server_name, o.insecure_skip_verify));
  if (o.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, keep_leaf);
    if (!o.ca_data.empty()) load_roots(ctx, o.ca_data);
    else if (!o.ca_file.empty()) load_roots(ctx, read_pem_file(o.ca_file, "certificate-authority"));
    else SSL_CTX_set_default_verify_paths(ctx);
  }
  bool has_cert = !o.cert_data.empty() || !o.cert_file.empty(), has_key = !o.key_data.empty() || !o.key_file.empty();
  if (has_cert != has_key)
    throw TlsError(has_cert ? "client-cert-data or client-cert is given without client-key-data or client-key"
                            : "client-key-data or client-key is given without client-cert-data or client-cert");
  if (has_cert)
    load_identity(ctx, o.cert_data.empty() ? read_pem_file(o.cert_file, "client-cert") : o.cert_data,
                  o.key_data.empty() ? read_pem_file(o.key_file, "client-key") : o.key_data);
  return out;
}

std::shared_ptr<TlsContext> TlsContext::for_server(const TlsServerOptions& o) {
  SSL_CTX* ctx = new_context(true);
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, true, "", false));
  load_identity(ctx, read_pem_file(o.cert_file, "tls-cert-file"), read_pem_file(o.key_file, "tls-private-key-file"));
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
  if (!o.client_ca_file.empty()) {
    std::string pem = read_pem_file(o.client_ca_file, "client-ca-file");
    load_roots(ctx, pem);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    for (auto& c : parse_certificates(pem)) sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(c.get())));
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);  // a certificate is asked for, not required
  }
  return out;
}

StreamPtr TlsContext::connect(int fd, const std::string& host, int timeout_seconds) const {
  SslPtr ssl = attach(ctx_, fd);
  std::string name = server_name_.empty() ? host : server_name_;
  if (!is_ip_address(name)) SSL_set_tlsext_host_name(ssl.get(), name.c_str());  // Go sends no SNI for addresses
  if (!insecure_) {
    if (is_ip_address(name)) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str());
    else SSL_set1_host(ssl.get(), name.c_str());
  }
  return run_handshake(std::move(ssl), fd, false, timeout_seconds, name);
}

StreamPtr TlsContext::accept(int fd, int timeout_seconds) const {
  // A TLS connection starts with a handshake record (0x16); a letter is a plain HTTP request, which gets the answer
  // Go's server gives it rather than a handshake failure the client cannot read.
  char first = 0;
  if (wait_fd(fd, POLLIN, (timeout_seconds > 0 ? timeout_seconds : kHandshakeTimeoutSeconds) * 1000) &&
      ::recv(fd, &first, 1, MSG_PEEK) == 1 && first >= 'A' && first <= 'Z') {
    static const char kPlain[] = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    (void)!::send(fd, kPlain, sizeof kPlain - 1, MSG_NOSIGNAL);
    ::close(fd);
    throw TlsError("http: TLS handshake error: client sent an HTTP request to an HTTPS server");
  }
  return run_handshake(attach(ctx_, fd), fd, true, timeout_seconds, "");
}

PeerIdentity TlsContext::peer_identity(Stream& stream) {
  auto* tls = dynamic_cast<TlsStream*>(&stream);
  return tls ? tls->identity() : PeerIdentity{};
}

}  // namespace kctl::http
