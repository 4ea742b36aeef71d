// SPDY/3.1 framing for kubectl port-forward (portforward.k8s.io): frames, zlib-compressed header blocks with the
// SPDY/3 dictionary, a Session that reads and writes frames on an http::Stream, and the port-forward client.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "api/http.h"
#include "api/websocket.h"

typedef struct z_stream_s z_stream;

namespace kctl::spdy {

constexpr uint16_t kVersion = 3;

enum FrameType : uint16_t {
  kData = 0,  // not a control frame type: marks a DATA frame in Frame::type
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

constexpr uint8_t kFlagFin = 0x01;             // DATA, SYN_STREAM, SYN_REPLY, HEADERS
constexpr uint8_t kFlagUnidirectional = 0x02;  // SYN_STREAM

// RST_STREAM status codes.
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
};

// A frame's payload is at most 2^24-1 bytes by its length field; we refuse larger control frames than this (they
// only carry a few headers) and send DATA in pieces of at most kMaxDataChunk.
constexpr size_t kMaxControlFrame = 256 * 1024;
constexpr size_t kMaxDataFrame = (1u << 24) - 1;
constexpr size_t kMaxDataChunk = 32 * 1024;
// A decompressed header block larger than this is refused: port-forward headers are three short pairs.
constexpr size_t kMaxHeaderBlock = 256 * 1024;

// Header names are lowercase; several values of one name travel joined by NUL bytes, as SPDY/3 does.
using HeaderBlock = std::vector<std::pair<std::string, std::string>>;
// The first value of a header, "" when absent.
std::string header_value(const HeaderBlock& h, std::string_view name);

// The 1423-byte SPDY/3 header compression dictionary (SPDY/3 draft, section 2.6.10.1).
std::string_view header_dictionary();

// One direction's zlib context: every header block a peer sends continues the same deflate stream.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  // The compressed block (ends at a Z_SYNC_FLUSH boundary).
  std::string compress(const HeaderBlock& headers);

 private:
  std::unique_ptr<z_stream> z_;
};

class HeaderDecompressor {
 public:
  HeaderDecompressor();
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  // Decodes one block; nullopt (and error()) when it is corrupt, too large or not a valid SPDY/3 block. After a
  // failure the context is unusable: the peer's session must end (a GOAWAY with PROTOCOL_ERROR).
  std::optional<HeaderBlock> decompress(std::string_view block);
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<z_stream> z_;
  std::string error_;
};

// The uncompressed SPDY/3 name/value block (32-bit counts and lengths), and its parser.
std::string encode_header_block(const HeaderBlock& headers);
std::optional<HeaderBlock> parse_header_block(std::string_view raw);

struct Setting {
  uint8_t flags = 0;
  uint32_t id = 0;
  uint32_t value = 0;
};

// One frame, decoded. Which fields mean something depends on the type.
struct Frame {
  uint16_t type = kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;      // DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE; GOAWAY: last good id
  uint32_t associated_id = 0;  // SYN_STREAM
  uint8_t priority = 0;        // SYN_STREAM (3 bits)
  uint32_t status = 0;         // RST_STREAM, GOAWAY
  uint32_t value = 0;          // PING: id; WINDOW_UPDATE: delta window size
  std::vector<Setting> settings;
  HeaderBlock headers;  // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;     // DATA
  bool fin() const { return (flags & kFlagFin) != 0; }
};

// Serializes a frame; the header block (if any) goes through `compressor`, which must be the sender's only one.
std::string encode_frame(const Frame& f, HeaderCompressor& compressor);

// Splits a byte stream into frames.
class FrameParser {
 public:
  enum class Result { Frame, NeedMore, Error };
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next whole frame, or NeedMore; Error (with error()) for a malformed one: the session must end.
  Result next(Frame& f, HeaderDecompressor& decompressor);
  const std::string& error() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  std::string error_;
};

// The "tunneling" mode of kubectl port-forward: a raw SPDY byte stream carried in WebSocket binary messages, with
// arbitrary message boundaries. Reading unwraps messages, writing sends each write as one binary message.
class WebSocketTunnel : public http::Stream {
 public:
  explicit WebSocketTunnel(ws::Connection& conn) : conn_(conn) {}
  long read(char* buf, size_t len) override;
  bool write_all(std::string_view data) override { return conn_.send_binary(data); }
  void shutdown() override { conn_.shutdown(); }
  int fd() const override { return -1; }

 private:
  ws::Connection& conn_;
  std::string pending_;
  size_t pos_ = 0;
};

// One SPDY connection over a byte stream: reading frames (one reader thread) and writing them (any thread).
// PINGs from the peer are answered inside read(). Stream ids: the client opens odd ones, the server even ones.
class Session {
 public:
  // `buffered`: bytes already read from the stream (what followed the upgrade answer).
  Session(http::Stream& stream, bool server, std::string buffered = "");

  // The next frame other than a peer's PING (answered here). False at EOF, on a read error or on a malformed
  // frame (error() says which; a GOAWAY with PROTOCOL_ERROR was sent for the latter).
  bool read(Frame& f);
  const std::string& error() const { return error_; }

  // Writers; thread-safe; false when the connection is broken.
  bool write(const Frame& f);
  uint32_t next_stream_id();  // 1, 3, 5, ... for a client; 2, 4, 6, ... for a server
  bool syn_stream(uint32_t id, const HeaderBlock& headers, uint8_t flags = 0);
  bool syn_reply(uint32_t id, const HeaderBlock& headers = {}, uint8_t flags = 0);
  bool data(uint32_t id, std::string_view bytes, bool fin = false);  // split into kMaxDataChunk pieces
  bool rst_stream(uint32_t id, uint32_t status);
  bool ping(uint32_t id);
  bool goaway(uint32_t last_good_stream, uint32_t status = 0);
  // Wakes up a read() blocked in another thread (it returns false).
  void shutdown() { stream_.shutdown(); }

 private:
  http::Stream& stream_;
  bool server_;
  FrameParser parser_;
  HeaderDecompressor decompressor_;  // used by the reader only
  std::string error_;
  std::mutex write_mutex_;  // guards compressor_, next_id_ and writes to stream_
  HeaderCompressor compressor_;
  uint32_t next_id_;
  uint32_t last_peer_stream_ = 0;  // reader only
};

// ---- The client side of portforward.k8s.io (what kubectl does): per forwarded connection, a request id with an
// error stream and a data stream to one pod port.

constexpr const char* kPortForwardProtocol = "portforward.k8s.io";
// The WebSocket subprotocol of the tunneling mode.
constexpr const char* kPortForwardTunnelProtocol = "SPDY/3.1+portforward.k8s.io";

class PortForwardClient;

// One forwarded connection. Reads and writes may come from different threads.
class PortForwardStream {
 public:
  ~PortForwardStream();  // resets both streams (RST_STREAM CANCEL) unless both ended cleanly
  // Bytes from the pod port: >0 bytes, 0 at the end (the server's FIN), <0 when reset or the connection is lost.
  long read(char* buf, size_t len);
  // Bytes to the pod port; false when the stream or connection is gone.
  bool write(std::string_view bytes);
  void close_write();  // half-closes the data stream (FIN): the pod sees EOF
  // The error stream's text once the server closed it ("" when forwarding worked); waits for its FIN, the
  // connection's end or `timeout`.
  std::string error(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  uint32_t request_id() const { return request_id_; }

 private:
  friend class PortForwardClient;
  PortForwardStream(PortForwardClient& client, uint32_t request_id) : client_(client), request_id_(request_id) {}
  PortForwardClient& client_;
  uint32_t request_id_;
  uint32_t error_id_ = 0, data_id_ = 0;
};
using PortForwardStreamPtr = std::unique_ptr<PortForwardStream>;

// Runs a reader thread over an upgraded connection (raw SPDY, or a WebSocketTunnel) from construction to close().
// The caller makes the upgrade (see kctl-apiserver's pods/portforward and kubectl-wire.md section 11) and keeps the
// stream alive; the PortForwardStreams it opens must be destroyed before it.
class PortForwardClient {
 public:
  // Limit on the bytes buffered per stream that the caller has not read yet: beyond it the reader thread waits,
  // which holds the whole connection back (SPDY/3.1 flow control is not used by kubectl's peers either).
  static constexpr size_t kMaxBufferedPerStream = 1024 * 1024;

  PortForwardClient(http::Stream& stream, std::string buffered = "");
  ~PortForwardClient();  // close()
  // Opens the error stream (half-closed at once, as kubectl does) and the data stream of a new request id to `port`
  // and waits for both SYN_REPLYs. nullptr (and *error) when the server refuses or the connection is gone.
  PortForwardStreamPtr open(uint16_t port, std::string* error = nullptr,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends a PING and waits for its echo; false on timeout or a lost connection.
  bool ping(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool alive() const;
  // Sends GOAWAY, shuts the stream down and joins the reader.
  void close();

 private:
  friend class PortForwardStream;
  struct StreamState {
    bool replied = false, remote_fin = false, reset = false, local_fin = false;
    std::string buffer;
  };
  void reader_loop();
  StreamState* find(uint32_t id);  // mutex_ held

  Session session_;
  std::thread reader_;
  std::mutex open_mutex_;     // held while opening streams (ids in order on the wire)
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable cv_;
  std::map<uint32_t, StreamState> streams_;
  uint32_t next_request_ = 0;
  uint32_t next_ping_ = 1;
  std::map<uint32_t, bool> pings_;  // id -> answered
  bool closed_ = false;             // the connection ended (EOF, error, close())
  bool goaway_ = false;             // the server takes no new streams
};

}  // namespace kctl::spdy
