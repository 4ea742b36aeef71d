// An HTTP/1.1 client with keep-alive connection reuse, for the CLI, the daemons and the tests.
// Thread-safe: concurrent requests each take an idle connection from a small pool or open a new one.
#pragma once

#include <functional>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "api/http.h"
#include "api/tls.h"

namespace kctl::http {

class ConnectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ClientOptions {
  std::string bearer_token;
  int timeout_seconds = 60;  // per read, and for connecting; watches pass their own
  size_t max_idle_connections = 16;
  TlsClientOptions tls;  // for https:// servers
};

class Client {
 public:
  // base_url: http://host:port or https://host:port. Throws std::invalid_argument for another URL and TlsError
  // when the TLS options cannot be used (a certificate file missing or not PEM).
  explicit Client(const std::string& base_url, ClientOptions options = {});
  ~Client();

  // Sends a request and reads the whole response. Throws ConnectError when the server cannot be reached.
  Response request(std::string_view method, std::string_view target, std::string_view body = {},
                   const Headers& headers = {});
  // Sends a request and hands the body to on_data piece by piece as it arrives (chunked streams such as watches),
  // until the body ends or on_data returns false. Returns the response head (status and headers).
  // on_head, when given, sees the status and headers before any of the body (a proxy relays them first).
  Response stream(std::string_view method, std::string_view target, const Headers& headers,
                  const std::function<bool(std::string_view)>& on_data, int timeout_seconds = 0,
                  const std::function<void(const Response&)>& on_head = nullptr);

  // Sends a request on a connection of its own and reads only the status line and headers; the body is left unread
  // and the connection closed. For callers that judge a response by its status alone (the kubelet's HTTP probes),
  // so a large or endless body costs nothing. Throws ConnectError like request().
  Response request_head(std::string_view method, std::string_view target, const Headers& headers = {});

  // A fresh connection to the server, for protocols that leave HTTP (upgrades relayed by a proxy).
  StreamPtr connect_stream(int timeout_seconds = 0);

  // Ends a stream() in progress from another thread (its socket is shut down) and any stream started later.
  void abort();

  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  struct Connection;
  std::unique_ptr<Connection> connect(int timeout_seconds);
  std::unique_ptr<Connection> take_idle();
  void give_back(std::unique_ptr<Connection> c);
  std::string format_request(std::string_view method, std::string_view target, std::string_view body,
                             const Headers& headers) const;

  std::string host_;
  int port_ = 80;
  ClientOptions options_;
  TlsContextPtr tls_;  // set for https
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  Stream* streaming_ = nullptr;                     // guarded by mutex_: the connection stream() reads
  bool aborted_ = false;                            // guarded by mutex_
};

}  // namespace kctl::http
