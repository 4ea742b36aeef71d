// A small HTTP/1.1 server for the daemons: one thread per connection (watches and streams block their thread),
// keep-alive, chunked streaming flushed per write, and connection hijacking for protocol upgrades.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "api/http.h"
#include "api/tls.h"

namespace kctl {

// What a handler uses to answer. Exactly one of respond() or begin_stream()...end_stream() or hijack() per request.
class ResponseWriter {
 public:
  ResponseWriter(http::Stream& stream, const std::atomic<bool>& stopping, http::MessageReader* reader = nullptr)
      : stream_(stream), stopping_(stopping), reader_(reader) {}

  http::Headers& headers() { return headers_; }
  void respond(int status, std::string_view content_type, std::string_view body);
  bool begin_stream(int status, std::string_view content_type);
  bool write_chunk(std::string_view data);  // false when the client is gone
  void end_stream();
  // The handler takes the raw connection (after writing its own 101 answer); the server forgets it.
  http::Stream& hijack();
  // Bytes the server read past the request (a client that spoke right after its upgrade request).
  std::string take_buffered() { return reader_ ? reader_->take_buffered() : std::string(); }

  // The connection the request came on: http::TlsContext::peer_identity(stream()) says who sent it over HTTPS.
  http::Stream& stream() const { return stream_; }
  bool responded() const { return responded_; }
  bool hijacked() const { return hijacked_; }
  bool keep_alive() const { return keep_alive_; }
  void set_keep_alive(bool k) { keep_alive_ = k; }
  int status() const { return status_; }
  size_t bytes_written() const { return bytes_; }
  // True when the server is stopping or the peer closed its side: long-running handlers return then.
  bool should_stop() const;

 private:
  http::Stream& stream_;
  const std::atomic<bool>& stopping_;
  http::MessageReader* reader_;
  http::Headers headers_;
  bool responded_ = false, streaming_ = false, hijacked_ = false, keep_alive_ = true, broken_ = false;
  int status_ = 0;
  size_t bytes_ = 0;
};

struct HttpServerOptions {
  // Connections served at once; each holds a thread. Watches are long-lived connections, so this is also the bound
  // on concurrent watches through this server.
  size_t max_connections = 4096;
  // Stack per connection thread: the handlers keep their data on the heap, and a thousand watches must not cost a
  // thousand default 8 MiB stacks of address space.
  size_t thread_stack_bytes = 512 * 1024;
  int idle_timeout_seconds = 120;  // a keep-alive connection with no request for this long is closed
  http::TlsContextPtr tls;         // set: every connection is TLS (HTTPS)
};

class HttpServer {
 public:
  using Handler = std::function<void(http::Request&, ResponseWriter&)>;
  HttpServer(Handler handler, HttpServerOptions options = {});
  ~HttpServer();

  // Binds and listens; port 0 picks a free port. Returns the bound port. Throws std::runtime_error.
  int listen(const std::string& address, int port);
  void start();  // accepts in a background thread
  void stop();   // stops accepting, wakes every connection and waits for them to end
  int port() const { return port_; }

 private:
  void accept_loop();
  void serve(int fd, std::string remote);

  Handler handler_;
  HttpServerOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable idle_cv_;
  std::set<http::Stream*> connections_;  // guarded by mutex_
  size_t threads_ = 0;                   // guarded by mutex_
};

}  // namespace kctl
