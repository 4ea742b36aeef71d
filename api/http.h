// HTTP/1.1 messages and their wire format, shared by kctl's HTTP server and client: requests, responses, headers,
// chunked bodies, URL and query encoding, and the byte stream (a socket, or TLS over one: api/tls.h) they travel on.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kctl::http {

// Limits on what a peer can make us buffer.
constexpr size_t kMaxHeaderBytes = 64 * 1024;       // request/status line plus headers
constexpr size_t kMaxRequestBody = 3 * 1024 * 1024;  // kube-apiserver's limit: larger bodies get 413
constexpr size_t kMaxDiscardBytes = 64 * 1024 * 1024;  // an oversized body up to this is read and dropped

struct CaseLess {
  bool operator()(std::string_view a, std::string_view b) const;
};
using Headers = std::multimap<std::string, std::string, CaseLess>;

std::string header(const Headers& h, std::string_view name);  // first value or ""
bool iequals(std::string_view a, std::string_view b);          // ASCII case-insensitive

// The subject of a verified client certificate: CN is the user, O the groups (as Kubernetes reads them).
struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> organizations;
};

struct Request {
  std::string method;
  std::string target;  // as sent: path?query
  std::string path;    // percent-decoded path
  std::multimap<std::string, std::string> query;
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs
  bool tls = false;    // came over TLS
  PeerIdentity peer;   // the TLS client certificate's verified subject (empty without one)

  std::string param(std::string_view name) const;  // first query value or ""
  bool has_param(std::string_view name) const;
  std::vector<std::string> params(std::string_view name) const;
};

struct Response {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;
};

std::string status_text(int code);
std::string url_decode(std::string_view s, bool plus_is_space);
std::string url_encode(std::string_view s);  // encodes everything but unreserved characters
std::multimap<std::string, std::string> parse_query(std::string_view q);
// Go's strconv.ParseBool: 1,t,T,TRUE,true,True / 0,f,F,FALSE,false,False.
std::optional<bool> parse_bool(std::string_view s);

// A bidirectional byte stream: a TCP or Unix socket, or TLS over one.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual long read(char* buf, size_t len) = 0;  // >0 bytes, 0 at EOF, <0 on error
  virtual bool write_all(std::string_view data) = 0;
  virtual void shutdown() = 0;  // wakes up a blocked reader (used to stop servers)
  virtual int fd() const = 0;
  // Bytes already received and decoded but not read yet (TLS records): a reader that polls fd() must read these
  // first, as poll() cannot see them.
  virtual size_t pending() const { return 0; }
};
using StreamPtr = std::unique_ptr<Stream>;

StreamPtr make_socket_stream(int fd);  // takes ownership of fd

// Reads HTTP messages from a Stream, keeping what was read past the end of one message for the next.
class MessageReader {
 public:
  explicit MessageReader(Stream& s) : stream_(s) {}
  enum class Result { Ok, Closed, Malformed, HeadersTooLarge, BodyTooLarge };
  // Reads one request (line, headers, Content-Length or chunked body up to max_body).
  Result read_request(Request& req, size_t max_body = kMaxRequestBody);
  // Reads a response's status line and headers; the body is read with read_body or streamed with read_some.
  Result read_response_head(Response& resp);
  // Reads a whole body described by the headers (Content-Length, chunked, or until EOF when neither).
  Result read_body(const Headers& h, std::string& body, size_t max_body, bool until_eof_allowed);
  // For streamed bodies: the next piece of a chunked body; false at its end or on error.
  bool read_chunk(std::string& out);
  // Bytes already buffered beyond the parsed message (an upgraded connection's first bytes).
  std::string take_buffered();
  // Reads after this point in time fail (the message is then Closed or Malformed, and timed_out() is true): a bound
  // on the whole of a message, however slowly a peer sends it. Each read still waits at most the socket's timeout.
  void set_deadline(std::chrono::steady_clock::time_point d) { deadline_ = d; }
  bool timed_out() const { return timed_out_; }
  Stream& stream() { return stream_; }

 private:
  bool fill();
  Result read_head(std::string& head);
  bool read_line(std::string& line);
  bool read_exact(size_t n, std::string& out);
  void discard(size_t n);

  Stream& stream_;
  std::string buf_;
  size_t pos_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool timed_out_ = false;
};

// Serializes a response head; `chunked` adds Transfer-Encoding: chunked instead of Content-Length.
std::string format_response_head(int status, const Headers& headers, size_t content_length, bool chunked);
std::string format_chunk(std::string_view data);

}  // namespace kctl::http
