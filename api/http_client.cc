// Client: URL parsing, connecting, the idle-connection pool, one retry when a reused keep-alive connection turns
// out to have been closed by the server, and streamed bodies.
#include "api/http_client.h"

#include <cerrno>
#include <cstring>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kctl::http {

struct Client::Connection {
  StreamPtr stream;
  std::unique_ptr<MessageReader> reader;
  bool reused = false;
};

Client::Client(const std::string& base_url, ClientOptions options) : options_(std::move(options)) {
  std::string rest = base_url;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
    port_ = 443;
    tls_ = TlsContext::for_client(options_.tls);
  } else {
    throw std::invalid_argument("endpoint must start with http:// or https://: " + base_url);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    auto close = rest.find(']');
    host_ = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port_ = std::stoi(rest.substr(close + 2));
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host_ = rest.substr(0, colon);
    port_ = std::stoi(rest.substr(colon + 1));
  } else {
    host_ = rest;
  }
}

Client::~Client() = default;

std::unique_ptr<Client::Connection> Client::connect(int timeout_seconds) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port_);
  if (int rc = getaddrinfo(host_.c_str(), service.c_str(), &hints, &res); rc != 0)
    throw ConnectError("cannot resolve " + host_ + ": " + gai_strerror(rc));
  std::string err = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    // On Linux the send timeout bounds connect() too: an address nobody answers for (a pod that is gone) fails
    // after the timeout instead of the kernel's minutes of SYN retries. Writes keep blocking as before.
    timeval tv{timeout_seconds, 0}, none{0, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      freeaddrinfo(res);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      auto c = std::make_unique<Connection>();
      try {
        c->stream = tls_ ? tls_->connect(fd, host_, timeout_seconds) : make_socket_stream(fd);
      } catch (const TlsError& e) {
        throw ConnectError(e.what());
      }
      c->reader = std::make_unique<MessageReader>(*c->stream);
      return c;
    }
    err = errno == EINPROGRESS ? "i/o timeout" : std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  throw ConnectError("cannot connect to " + host_ + ":" + service + ": " + err);
}

std::unique_ptr<Client::Connection> Client::take_idle() {
  std::lock_guard lock(mutex_);
  if (idle_.empty()) return nullptr;
  auto c = std::move(idle_.back());
  idle_.pop_back();
  c->reused = true;
  return c;
}

void Client::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(c));
}

std::string Client::format_request(std::string_view method, std::string_view target, std::string_view body,
                                   const Headers& headers) const {
  std::string out;
  out.reserve(256 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (headers.find("Host") == headers.end())  // a caller's Host names a virtual host (probes' httpHeaders)
    out.append("Host: ").append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  if (!options_.bearer_token.empty() && headers.find("Authorization") == headers.end())
    out.append("Authorization: Bearer ").append(options_.bearer_token).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

Response Client::request(std::string_view method, std::string_view target, std::string_view body,
                         const Headers& headers) {
  std::string wire = format_request(method, target, body, headers);
  for (int attempt = 0;; ++attempt) {
    auto c = attempt == 0 ? take_idle() : nullptr;
    if (!c) c = connect(options_.timeout_seconds);
    Response resp;
    bool sent = c->stream->write_all(wire);
    auto r = sent ? c->reader->read_response_head(resp) : MessageReader::Result::Closed;
    if (r == MessageReader::Result::Closed && c->reused) continue;  // the server closed an idle connection
    if (r != MessageReader::Result::Ok)
      throw ConnectError("no valid response from " + host_ + ":" + std::to_string(port_));
    bool no_body = method == "HEAD" || resp.status == 204 || resp.status == 304 || resp.status / 100 == 1;
    if (!no_body && c->reader->read_body(resp.headers, resp.body, size_t(1) << 31, true) != MessageReader::Result::Ok)
      throw ConnectError("truncated response from " + host_ + ":" + std::to_string(port_));
    std::string conn = header(resp.headers, "Connection");
    bool has_length = !header(resp.headers, "Content-Length").empty() ||
                      !header(resp.headers, "Transfer-Encoding").empty() || no_body;
    if (!iequals(conn, "close") && has_length) give_back(std::move(c));
    return resp;
  }
}

Response Client::request_head(std::string_view method, std::string_view target, const Headers& headers) {
  auto c = connect(options_.timeout_seconds);
  Response resp;
  if (!c->stream->write_all(format_request(method, target, {}, headers)) ||
      c->reader->read_response_head(resp) != MessageReader::Result::Ok)
    throw ConnectError("no valid response from " + host_ + ":" + std::to_string(port_));
  return resp;
}

StreamPtr Client::connect_stream(int timeout_seconds) { return std::move(connect(timeout_seconds)->stream); }

void Client::abort() {
  std::lock_guard lock(mutex_);
  aborted_ = true;
  if (streaming_) streaming_->shutdown();
}

Response Client::stream(std::string_view method, std::string_view target, const Headers& headers,
                        const std::function<bool(std::string_view)>& on_data, int timeout_seconds,
                        const std::function<void(const Response&)>& on_head) {
  auto c = connect(timeout_seconds > 0 ? timeout_seconds : options_.timeout_seconds);
  {
    std::lock_guard lock(mutex_);
    if (aborted_) throw ConnectError("aborted");
    streaming_ = c->stream.get();
  }
  struct Forget {
    Client* self;
    ~Forget() {
      std::lock_guard lock(self->mutex_);
      self->streaming_ = nullptr;
    }
  } forget{this};
  Response resp;
  if (!c->stream->write_all(format_request(method, target, {}, headers)) ||
      c->reader->read_response_head(resp) != MessageReader::Result::Ok)
    throw ConnectError("no valid response from " + host_ + ":" + std::to_string(port_));
  if (on_head) on_head(resp);
  std::string te = header(resp.headers, "Transfer-Encoding");
  if (te.find("chunked") == std::string::npos) {
    c->reader->read_body(resp.headers, resp.body, size_t(1) << 31, true);
    if (!resp.body.empty()) on_data(resp.body);
    return resp;
  }
  std::string piece;
  while (c->reader->read_chunk(piece))
    if (!on_data(piece)) break;
  return resp;
}

}  // namespace kctl::http
