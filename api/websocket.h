// WebSocket (RFC 6455) over an http::Stream, for the channel protocols of exec and port-forward
// (v5.channel.k8s.io, v4.channel.k8s.io): the opening handshake's accept key, and messages with fragmentation,
// masking (client side) and the ping/pong/close control frames.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "api/http.h"

namespace kctl::ws {

enum Opcode : uint8_t { kContinuation = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string accept_key(const std::string& client_key);
// A fresh random Sec-WebSocket-Key (client side).
std::string make_key();

// A message larger than this is refused (the connection is closed): exec and port-forward send small frames.
constexpr size_t kMaxMessage = 16 * 1024 * 1024;

class Connection {
 public:
  // `buffered`: bytes already read past the handshake. Clients mask their frames, servers do not.
  Connection(http::Stream& stream, bool client, std::string buffered = "");

  // The next data message (text or binary), fragments joined; pings are answered here. False at close or EOF.
  bool read(uint8_t& opcode, std::string& payload);
  // Thread-safe; false when the connection is broken.
  bool send(uint8_t opcode, std::string_view payload);
  bool send_binary(std::string_view payload) { return send(kBinary, payload); }
  // Sends a close frame with a status code (1000: normal).
  void close(uint16_t code = 1000, std::string_view reason = "");
  // Shuts the underlying stream down: a read() blocked in another thread returns.
  void shutdown() { stream_.shutdown(); }

 private:
  bool read_exact(size_t n, std::string& out);
  bool read_frame(bool& fin, uint8_t& opcode, std::string& payload);

  http::Stream& stream_;
  bool client_;
  std::string buf_;
  size_t pos_ = 0;
  std::mutex send_mutex_;
  bool closed_ = false;  // a close frame was sent
};

}  // namespace kctl::ws
