// HTTP/1.1 wire format: parsing requests and responses from a Stream, chunked transfer coding, URL encoding.
// Deliberately small: the subset that kubectl, Go's net/http, curl and wrk speak.
#include "api/http.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kctl::http {

bool CaseLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return std::tolower(x) < std::tolower(y); });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string header(const Headers& h, std::string_view name) {
  auto it = h.find(std::string(name));
  return it == h.end() ? std::string() : it->second;
}

std::string Request::param(std::string_view name) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? std::string() : it->second;
}

bool Request::has_param(std::string_view name) const { return query.count(std::string(name)) > 0; }

std::vector<std::string> Request::params(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = query.equal_range(std::string(name));
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::string status_text(int code) {
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status " + std::to_string(code);
  }
}

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out.push_back(char(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view q) {
  std::multimap<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k = url_decode(part.substr(0, eq), true);
    std::string v = eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1), true);
    out.emplace(std::move(k), std::move(v));
  }
  return out;
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") return false;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------------------

namespace {

class SocketStream : public Stream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override { ::close(fd_); }
  long read(char* buf, size_t len) override {
    for (;;) {
      ssize_t n = ::recv(fd_, buf, len, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  bool write_all(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(size_t(n));
    }
    return true;
  }
  void shutdown() override { ::shutdown(fd_, SHUT_RDWR); }
  int fd() const override { return fd_; }

 private:
  int fd_;
};

}  // namespace

StreamPtr make_socket_stream(int fd) { return std::make_unique<SocketStream>(fd); }

bool MessageReader::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  if (std::chrono::steady_clock::now() > deadline_) {
    timed_out_ = true;
    return false;
  }
  char tmp[16384];
  long n = stream_.read(tmp, sizeof tmp);
  if (n <= 0) return false;
  buf_.append(tmp, size_t(n));
  return true;
}

MessageReader::Result MessageReader::read_head(std::string& head) {
  for (;;) {
    size_t end = buf_.find("\r\n\r\n", pos_);
    if (end != std::string::npos) {
      head.assign(buf_, pos_, end + 2 - pos_);
      pos_ = end + 4;
      return Result::Ok;
    }
    if (buf_.size() - pos_ > kMaxHeaderBytes) return Result::HeadersTooLarge;
    bool had_data = buf_.size() > pos_;
    if (!fill()) return had_data ? Result::Malformed : Result::Closed;
  }
}

bool MessageReader::read_line(std::string& line) {
  for (;;) {
    size_t end = buf_.find("\r\n", pos_);
    if (end != std::string::npos) {
      line.assign(buf_, pos_, end - pos_);
      pos_ = end + 2;
      return true;
    }
    if (buf_.size() - pos_ > kMaxHeaderBytes) return false;
    if (!fill()) return false;
  }
}

void MessageReader::discard(size_t n) {
  while (n > 0) {
    if (pos_ == buf_.size() && !fill()) return;
    size_t take = std::min(n, buf_.size() - pos_);
    pos_ += take;
    n -= take;
  }
}

bool MessageReader::read_exact(size_t n, std::string& out) {
  while (buf_.size() - pos_ < n)
    if (!fill()) return false;
  out.append(buf_, pos_, n);
  pos_ += n;
  return true;
}

namespace {

bool parse_headers(std::string_view head, size_t first_line_end, Headers& h) {
  size_t p = first_line_end + 2;
  while (p < head.size()) {
    size_t e = head.find("\r\n", p);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = head.substr(p, e - p);
    p = e + 2;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    h.emplace(std::string(line.substr(0, colon)), std::string(v));
  }
  return true;
}

bool is_chunked(const Headers& h) {
  std::string te = header(h, "Transfer-Encoding");
  std::transform(te.begin(), te.end(), te.begin(), ::tolower);
  return te.find("chunked") != std::string::npos;
}

}  // namespace

MessageReader::Result MessageReader::read_request(Request& req, size_t max_body) {
  std::string head;
  Result r = read_head(head);
  if (r != Result::Ok) return r;
  size_t le = head.find("\r\n");
  std::string_view line(head.data(), le == std::string::npos ? head.size() : le);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return Result::Malformed;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) return Result::Malformed;
  if (!parse_headers(head, le == std::string::npos ? head.size() : le, req.headers)) return Result::Malformed;
  size_t q = req.target.find('?');
  req.path = url_decode(std::string_view(req.target).substr(0, q), false);
  req.query = q == std::string::npos ? std::multimap<std::string, std::string>{} : parse_query(req.target.substr(q + 1));
  // curl asks before sending bodies over 1 KiB and would otherwise wait a second for this.
  std::string expect = header(req.headers, "Expect");
  if (iequals(expect, "100-continue") && buf_.size() == pos_)
    stream_.write_all("HTTP/1.1 100 Continue\r\n\r\n");
  return read_body(req.headers, req.body, max_body, false);
}

MessageReader::Result MessageReader::read_response_head(Response& resp) {
  std::string head;
  Result r = read_head(head);
  if (r != Result::Ok) return r;
  size_t le = head.find("\r\n");
  std::string_view line(head.data(), le == std::string::npos ? head.size() : le);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return Result::Malformed;
  resp.status = std::atoi(std::string(line.substr(9, 3)).c_str());
  resp.reason = line.size() > 13 ? std::string(line.substr(13)) : "";
  if (!parse_headers(head, le == std::string::npos ? head.size() : le, resp.headers)) return Result::Malformed;
  return Result::Ok;
}

MessageReader::Result MessageReader::read_body(const Headers& h, std::string& body, size_t max_body,
                                               bool until_eof_allowed) {
  body.clear();
  if (is_chunked(h)) {
    std::string chunk;
    for (;;) {
      chunk.clear();
      std::string line;
      if (!read_line(line)) return Result::Malformed;
      size_t size = std::strtoul(line.c_str(), nullptr, 16);
      if (size == 0) {
        // trailers, then the empty line
        do {
          if (!read_line(line)) return Result::Malformed;
        } while (!line.empty());
        return Result::Ok;
      }
      if (body.size() + size > max_body) return Result::BodyTooLarge;
      if (!read_exact(size, body)) return Result::Malformed;
      if (!read_line(line) || !line.empty()) return Result::Malformed;
    }
  }
  std::string cl = header(h, "Content-Length");
  if (!cl.empty()) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(cl.c_str(), &end, 10);
    if (*end != '\0') return Result::Malformed;
    if (n > max_body) {
      // Read and drop a moderately oversized body so the client, still sending it, gets to read our 413 instead of
      // a reset connection. Beyond kMaxDiscardBytes the connection is just closed.
      if (n <= kMaxDiscardBytes) discard(size_t(n));
      return Result::BodyTooLarge;
    }
    return read_exact(size_t(n), body) ? Result::Ok : Result::Malformed;
  }
  if (!until_eof_allowed) return Result::Ok;
  while (fill()) {
    if (buf_.size() - pos_ > max_body) return Result::BodyTooLarge;
  }
  body.assign(buf_, pos_, std::string::npos);
  pos_ = buf_.size();
  return Result::Ok;
}

bool MessageReader::read_chunk(std::string& out) {
  out.clear();
  std::string line;
  if (!read_line(line)) return false;
  size_t size = std::strtoul(line.c_str(), nullptr, 16);
  if (size == 0) {
    while (read_line(line) && !line.empty()) {
    }
    return false;
  }
  if (!read_exact(size, out)) return false;
  return read_line(line) && line.empty();
}

std::string MessageReader::take_buffered() {
  std::string rest = buf_.substr(pos_);
  buf_.clear();
  pos_ = 0;
  return rest;
}

std::string format_response_head(int status, const Headers& headers, size_t content_length, bool chunked) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) + "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  if (chunked)
    out += "Transfer-Encoding: chunked\r\n";
  else if (status != 101 && status != 204 && status != 304)
    out += "Content-Length: " + std::to_string(content_length) + "\r\n";
  out += "\r\n";
  return out;
}

std::string format_chunk(std::string_view data) {
  char size[32];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(size_t(n) + data.size() + 2);
  out.append(size, size_t(n));
  out.append(data);
  out.append("\r\n");
  return out;
}

}  // namespace kctl::http
