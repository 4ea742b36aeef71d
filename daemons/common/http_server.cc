// HttpServer: listening, the accept thread, one detached thread per connection with a small stack, keep-alive,
// error answers for malformed or oversized requests, and a stop() that wakes and waits for every connection.
#include "daemons/common/http_server.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace kctl {

namespace {
// A client gets this long to finish its TLS handshake, so a connection that never speaks does not hold a thread.
constexpr int kHandshakeTimeoutSeconds = 10;
}  // namespace

void ResponseWriter::respond(int status, std::string_view content_type, std::string_view body) {
  if (responded_) return;
  responded_ = true;
  status_ = status;
  if (!content_type.empty()) headers_.emplace("Content-Type", std::string(content_type));
  if (!keep_alive_) headers_.emplace("Connection", "close");
  std::string head = http::format_response_head(status, headers_, body.size(), false);
  bytes_ = body.size();
  // One write for small answers (most API answers), two for big ones to avoid copying a large list.
  if (body.size() < 64 * 1024) {
    head.append(body);
    if (!stream_.write_all(head)) broken_ = true;
  } else if (!stream_.write_all(head) || !stream_.write_all(body)) {
    broken_ = true;
  }
  if (broken_) keep_alive_ = false;
}

bool ResponseWriter::begin_stream(int status, std::string_view content_type) {
  if (responded_) return false;
  responded_ = streaming_ = true;
  status_ = status;
  if (!content_type.empty()) headers_.emplace("Content-Type", std::string(content_type));
  headers_.emplace("Cache-Control", "no-cache, private");
  std::string head = http::format_response_head(status, headers_, 0, true);
  if (!stream_.write_all(head)) broken_ = true;
  return !broken_;
}

bool ResponseWriter::write_chunk(std::string_view data) {
  if (broken_) return false;
  if (data.empty()) return true;  // an empty chunk would end the body
  bytes_ += data.size();
  if (!stream_.write_all(http::format_chunk(data))) broken_ = true;
  return !broken_;
}

void ResponseWriter::end_stream() {
  if (!streaming_ || broken_) {
    keep_alive_ = false;
    return;
  }
  streaming_ = false;
  if (!stream_.write_all("0\r\n\r\n")) broken_ = true, keep_alive_ = false;
}

http::Stream& ResponseWriter::hijack() {
  hijacked_ = responded_ = true;
  keep_alive_ = false;
  return stream_;
}

bool ResponseWriter::should_stop() const {
  if (stopping_ || broken_) return true;
  pollfd p{stream_.fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

// ---------------------------------------------------------------------------------------------------------------

HttpServer::HttpServer(Handler handler, HttpServerOptions options)
    : handler_(std::move(handler)), options_(options) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::listen(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("bad listen address " + address + ": " + gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    std::string err = std::strerror(errno);
    freeaddrinfo(res);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot listen on " + address + ":" + service + ": " + err);
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  return port_;
}

void HttpServer::start() { acceptor_ = std::thread([this] { accept_loop(); }); }

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  std::unique_lock lock(mutex_);
  for (auto* s : connections_) s->shutdown();
  idle_cv_.wait(lock, [&] { return threads_ == 0; });
}

namespace {
struct ConnectionStart {
  HttpServer* server;
  int fd;
  std::string remote;
  std::function<void(int, std::string)> run;
};

void* connection_main(void* arg) {
  std::unique_ptr<ConnectionStart> start(static_cast<ConnectionStart*>(arg));
  start->run(start->fd, std::move(start->remote));
  return nullptr;
}

std::string peer_name(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
    port = ntohs(in->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}
}  // namespace

void HttpServer::accept_loop() {
  while (!stopping_) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: back off briefly instead of spinning; connections will end and free some.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      return;  // shut down
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
      std::lock_guard lock(mutex_);
      if (threads_ >= options_.max_connections) {
        static const char kBusy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        (void)!::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL);
        ::close(fd);
        continue;
      }
      ++threads_;
    }
    auto* start = new ConnectionStart{this, fd, peer_name(peer), [this](int f, std::string r) { serve(f, std::move(r)); }};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, options_.thread_stack_bytes);
    pthread_t tid;
    if (pthread_create(&tid, &attr, connection_main, start) != 0) {
      delete start;
      ::close(fd);
      std::lock_guard lock(mutex_);
      --threads_;
      idle_cv_.notify_all();
    }
    pthread_attr_destroy(&attr);
  }
}

namespace {
void answer_error(http::Stream& s, int code, const std::string& reason, const std::string& message) {
  nlohmann::json st = {{"kind", "Status"}, {"apiVersion", "v1"},   {"metadata", nlohmann::json::object()},
                       {"status", "Failure"}, {"message", message}, {"reason", reason},
                       {"code", code}};
  std::string body = st.dump();
  http::Headers h{{"Content-Type", "application/json"}, {"Connection", "close"}};
  s.write_all(http::format_response_head(code, h, body.size(), false) + body);
}
}  // namespace

void HttpServer::serve(int fd, std::string remote) {
  timeval tv{options_.idle_timeout_seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct ThreadDone {  // this connection's thread no longer counts, however serve() ends
    HttpServer& server;
    ~ThreadDone() {
      std::lock_guard lock(server.mutex_);
      --server.threads_;
      server.idle_cv_.notify_all();
    }
  } done{*this};
  http::StreamPtr stream;
  try {
    stream = options_.tls ? options_.tls->accept(fd, kHandshakeTimeoutSeconds) : http::make_socket_stream(fd);
  } catch (const http::TlsError&) {
    return;  // a failed handshake ends the connection (the client sees why on its side); fd is closed
  }
  {
    std::lock_guard lock(mutex_);
    connections_.insert(stream.get());
  }
  if (stopping_) stream->shutdown();
  const http::PeerIdentity peer = http::TlsContext::peer_identity(*stream);
  http::MessageReader reader(*stream);
  while (!stopping_) {
    http::Request req;
    reader.set_deadline(std::chrono::steady_clock::now() + std::chrono::seconds(options_.idle_timeout_seconds));
    auto r = reader.read_request(req);
    if (reader.timed_out()) {
      answer_error(*stream, 408, "Timeout", "the request did not arrive within " +
                                                std::to_string(options_.idle_timeout_seconds) + "s");
      break;
    }
    if (r == http::MessageReader::Result::Closed) break;
    if (r == http::MessageReader::Result::Malformed) {
      answer_error(*stream, 400, "BadRequest", "malformed HTTP request");
      break;
    }
    if (r == http::MessageReader::Result::HeadersTooLarge) {
      answer_error(*stream, 431, "RequestHeaderFieldsTooLarge", "request headers are larger than 64 KiB");
      break;
    }
    if (r == http::MessageReader::Result::BodyTooLarge) {
      answer_error(*stream, 413, "RequestEntityTooLarge", "the request body is larger than the limit of 3 MiB");
      break;
    }
    req.remote = remote;
    req.tls = options_.tls != nullptr;
    req.peer = peer;
    ResponseWriter w(*stream, stopping_, &reader);
    std::string conn = http::header(req.headers, "Connection");
    for (auto& c : conn) c = char(std::tolower(c));
    if (conn.find("close") != std::string::npos) w.set_keep_alive(false);
    try {
      handler_(req, w);
    } catch (const std::exception& e) {
      if (!w.responded()) {
        answer_error(*stream, 500, "InternalError", e.what());
        break;
      }
    }
    if (!w.responded()) w.respond(500, "text/plain", "no response");
    if (!w.keep_alive() || w.hijacked()) break;
  }
  {
    std::lock_guard lock(mutex_);
    connections_.erase(stream.get());
  }
  stream.reset();
}

}  // namespace kctl
