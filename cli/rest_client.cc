// RestClient: requests over api/http_client with kubectl's headers, Status errors, Warning headers printed as
// kubectl prints them ("Warning: ..."), connection errors in kubectl's words, and streamed lines for watches.
#include "cli/rest_client.h"

#include <sys/socket.h>

#include <set>

#include "api/go_json.h"
#include "api/http.h"
#include "api/websocket.h"
#include "cli/errors.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

const char* kUserAgent = "kctl/0.1.0";
// The 6 hours of kubectl's own watch timeout are the server's business; a stream has no read timeout here.
constexpr int kStreamReadTimeoutSeconds = 0;
// The most of a refused upgrade's answer kept for the error message.
constexpr size_t kMaxUpgradeErrorBody = 1024 * 1024;

std::string host_port(const std::string& server) {
  std::string rest = server.substr(server.find("://") + 3);
  return rest.substr(0, rest.find('/'));
}

[[noreturn]] void throw_connect_error(const std::string& server, const std::string& why) {
  if (why.find("refused") != std::string::npos)
    throw CliError("The connection to the server " + host_port(server) +
                       " was refused - did you specify the right host or port?",
                   true);
  throw CliError("Unable to connect to the server: " + why, true);
}

// `299 - "text"` (RFC 7234 warn-value with a Go-quoted text).
std::string warning_text(const std::string& value) {
  auto q = value.find('"');
  if (q == std::string::npos) return value;
  std::string out;
  for (size_t i = q + 1; i < value.size() && value[i] != '"'; ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out.push_back(value[i]);
  }
  return out;
}

bool is_status(std::string_view line) {
  try {
    json j = json::parse(line);
    return j.is_object() && j.value("kind", "") == "Status" && !j.contains("type");
  } catch (const json::exception&) {
    return false;
  }
}

}  // namespace

Query& Query::add(const std::string& key, const std::string& value) {
  if (value.empty()) return *this;
  q_ += (q_.empty() ? "?" : "&") + key + "=" + http::url_encode(value);
  return *this;
}

api::Status status_from_response(int http_status, const std::string& body) {
  api::Status s;
  try {
    json j = json::parse(body);
    if (j.is_object() && j.value("kind", "") == "Status") {
      s.code = j.value("code", http_status);
      s.reason = j.value("reason", "");
      s.message = j.value("message", "");
      if (j.contains("details") && j["details"].is_object()) {
        const json& d = j["details"];
        s.name = d.value("name", "");
        s.group = d.value("group", "");
        s.kind = d.value("kind", "");
        for (const auto& c : d.value("causes", json::array()))
          s.causes.push_back({c.value("reason", ""), c.value("message", ""), c.value("field", "")});
      }
      return s;
    }
  } catch (const json::exception&) {
  }
  s.code = http_status;
  switch (http_status) {
    case 404: s.reason = "NotFound"; s.message = "the server could not find the requested resource"; break;
    case 401: s.reason = "Unauthorized"; s.message = "Unauthorized"; break;
    case 403: s.reason = "Forbidden"; s.message = body; break;
    case 409: s.reason = "Conflict"; s.message = body; break;
    case 503: s.reason = "ServiceUnavailable"; s.message = body.empty() ? "the server is currently unable to handle the request" : body; break;
    default: s.reason = http_status >= 500 ? "InternalError" : "BadRequest"; s.message = body; break;
  }
  while (!s.message.empty() && (s.message.back() == '\n' || s.message.back() == '\r')) s.message.pop_back();
  return s;
}


RestClient::RestClient(const api::RestConfig& config, std::ostream& warnings, int timeout_seconds)
    : server_(config.server), token_(config.token), warnings_(warnings), timeout_seconds_(timeout_seconds) {
  bool https = server_.rfind("https://", 0) == 0;
  if (!https && server_.rfind("http://", 0) != 0)
    throw CliError("unsupported server URL \"" + server_ + "\": expected http://HOST:PORT or https://HOST:PORT");
  if (https) {
    try {
      tls_ = api::tls_client_options(config);
    } catch (const api::ConfigError& e) {
      throw CliError(e.what());
    }
    // client-go refuses a CA together with insecure-skip-tls-verify.
    if (tls_.insecure_skip_verify && (!tls_.ca_file.empty() || !tls_.ca_data.empty()))
      throw CliError("specifying a root certificates file with the insecure flag is not allowed");
  }
  try {
    http_ = std::make_unique<http::Client>(server_, http_options(timeout_seconds_, 4));
  } catch (const http::TlsError& e) {
    throw CliError(e.what());
  } catch (const std::exception& e) {
    throw CliError(std::string("invalid server URL: ") + e.what());
  }
}

http::ClientOptions RestClient::http_options(int timeout_seconds, size_t max_idle) const {
  return http::ClientOptions{token_, timeout_seconds, max_idle, tls_};
}

void RestClient::print_warnings(const http::Headers& headers) {
  static std::set<std::string> printed;  // kubectl deduplicates warnings within one command
  auto [b, e] = headers.equal_range("Warning");
  for (auto it = b; it != e; ++it) {
    std::string text = warning_text(it->second);
    if (printed.insert(text).second) warnings_ << "Warning: " << text << "\n";
  }
}

http::Response RestClient::send(std::string_view method, const std::string& target, const std::string& body,
                                const std::string& content_type, const std::string& accept, const http::Headers& extra) {
  http::Headers h = {{"Accept", accept}, {"User-Agent", kUserAgent}};
  if (!content_type.empty()) h.emplace("Content-Type", content_type);
  h.insert(extra.begin(), extra.end());
  http::Response r;
  try {
    r = http_->request(method, target, body, h);
  } catch (const http::ConnectError& e) {
    throw_connect_error(server_, e.what());
  }
  print_warnings(r.headers);
  bool upgraded = r.status == 101 && extra.count("Upgrade");
  if (!upgraded && (r.status < 200 || r.status >= 300)) throw api::StatusError(status_from_response(r.status, r.body));
  return r;
}

json RestClient::call(std::string_view method, const std::string& target, const std::string& body,
                      const std::string& content_type, const std::string& accept) {
  http::Response r = send(method, target, body, content_type, accept);
  try {
    return r.body.empty() ? json::object() : json::parse(r.body);
  } catch (const json::exception& e) {
    throw CliError(std::string("the server answered with invalid JSON: ") + e.what());
  }
}

std::string RestClient::call_text(std::string_view method, const std::string& target, const std::string& accept) {
  return send(method, target, "", "", accept).body;
}

UpgradedConnection RestClient::upgrade(const std::string& target, const std::vector<std::string>& protocols) {
  UpgradedConnection up;
  try {
    up.stream = http_->connect_stream(timeout_seconds_);
  } catch (const http::ConnectError& e) {
    throw_connect_error(server_, e.what());
  }
  std::string key = ws::make_key(), offered;
  for (const auto& p : protocols) offered += (offered.empty() ? "" : ", ") + p;
  std::string head = "GET " + target + " HTTP/1.1\r\nHost: " + http_->host() + ":" + std::to_string(http_->port()) +
                     "\r\nUser-Agent: " + kUserAgent +
                     "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Protocol: " + offered + "\r\n";
  if (!token_.empty()) head += "Authorization: Bearer " + token_ + "\r\n";
  head += "\r\n";
  http::MessageReader reader(*up.stream);
  http::Response r;
  if (!up.stream->write_all(head) || reader.read_response_head(r) != http::MessageReader::Result::Ok)
    throw CliError("an error occurred connecting to the remote host: the server closed the connection");
  print_warnings(r.headers);
  if (r.status != 101) {
    reader.read_body(r.headers, r.body, kMaxUpgradeErrorBody, true);
    throw api::StatusError(status_from_response(r.status, r.body));
  }
  // The stream is ours from here on: a session may stay idle for hours.
  timeval none{0, 0};
  ::setsockopt(up.stream->fd(), SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  if (http::header(r.headers, "Sec-WebSocket-Accept") != ws::accept_key(key))
    throw CliError("unable to upgrade connection: invalid Sec-WebSocket-Accept from the server");
  up.protocol = http::header(r.headers, "Sec-WebSocket-Protocol");
  bool known = false;
  for (const auto& p : protocols) known = known || p == up.protocol;
  if (!known) throw CliError("unable to upgrade connection: the server chose protocol \"" + up.protocol + "\"");
  up.buffered = reader.take_buffered();
  return up;
}

bool RestClient::stream_lines(const std::string& target, const std::string& accept,
                              const std::function<bool(std::string_view)>& on_line) {
  if (!stream_http_) stream_http_ = std::make_unique<http::Client>(server_, http_options(0, 1));
  http::Headers h = {{"Accept", accept}, {"User-Agent", kUserAgent}};
  std::string pending;
  bool stopped = false, first = true;
  http::Response head;
  try {
    head = stream_http_->stream("GET", target, h, [&](std::string_view chunk) {
      pending.append(chunk);
      size_t p;
      while ((p = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, p);
        pending.erase(0, p + 1);
        // An error answer is not chunked and arrives here whole: it is thrown below, not handed on as a line.
        if (first && is_status(line)) return false;
        first = false;
        if (!line.empty() && !on_line(line)) {
          stopped = true;
          return false;
        }
      }
      return true;
    }, kStreamReadTimeoutSeconds);
  } catch (const http::ConnectError& e) {
    if (std::string(e.what()) == "aborted") return false;
    throw_connect_error(server_, e.what());
  }
  if (head.status < 200 || head.status >= 300) throw api::StatusError(status_from_response(head.status, head.body));
  if (!stopped && !pending.empty() && !(first && is_status(pending))) on_line(pending);
  return !stopped;
}

void RestClient::abort_streams() {
  if (stream_http_) stream_http_->abort();
}

api::Transport& RestClient::transport() {
  if (!transport_) {
    api::ClientOptions o;
    o.bearer_token = token_;
    o.user_agent = kUserAgent;
    o.timeout_seconds = timeout_seconds_;
    o.tls = tls_;
    transport_ = api::make_http_transport(server_, o);
  }
  return *transport_;
}

}  // namespace kctl::cli
