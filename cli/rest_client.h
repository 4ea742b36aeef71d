// kctl's connection to the API server: REST calls with kubectl's Accept headers (Table for human output), the
// server's Status errors and Warning headers, and line-by-line streams for watches. Built on api/http_client.h.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "api/http_client.h"
#include "api/kubeconfig.h"

namespace kctl::cli {

inline constexpr const char* kAcceptJson = "application/json";
// What kubectl sends for human-readable get: a server-side Table, else the plain object.
inline constexpr const char* kAcceptTable =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
// Per-request timeout when --request-timeout is not given; watches have none.
inline constexpr int kDefaultRequestTimeoutSeconds = 60;

// "?a=b&c=d" with each value URL-encoded; empty values are left out.
class Query {
 public:
  Query& add(const std::string& key, const std::string& value);
  std::string str() const { return q_; }

 private:
  std::string q_;
};

// A connection that left HTTP: its stream, the subprotocol the server chose, and what the server sent right after
// its 101 (the first WebSocket frames may arrive in the same read as the head).
struct UpgradedConnection {
  http::StreamPtr stream;
  std::string protocol;
  std::string buffered;
};

class RestClient {
 public:
  // Throws CliError for an unusable URL or TLS settings that cannot be used (a certificate that cannot be read).
  RestClient(const api::RestConfig& config, std::ostream& warnings, int timeout_seconds);

  // One request; the answer's JSON (an empty object for an empty body). A non-2xx answer throws api::StatusError
  // with the server's Status; an unreachable server throws CliError with kubectl's wording.
  nlohmann::json call(std::string_view method, const std::string& target, const std::string& body = "",
                      const std::string& content_type = "", const std::string& accept = kAcceptJson);
  // The same for a text answer (pods/log).
  std::string call_text(std::string_view method, const std::string& target, const std::string& accept);
  // A WebSocket upgrade (exec, port-forward) on a connection of its own, offering `protocols` in order of
  // preference. Returns the connection once the server agreed (101, with a valid Sec-WebSocket-Accept and one of
  // the protocols); throws api::StatusError with the server's answer otherwise, as kubectl reports it.
  UpgradedConnection upgrade(const std::string& target, const std::vector<std::string>& protocols);
  // GET of a streamed body, handing each complete line to on_line until it returns false or the stream ends.
  // Returns false when the server ended the stream.
  bool stream_lines(const std::string& target, const std::string& accept,
                    const std::function<bool(std::string_view)>& on_line);
  // Ends a stream_lines() in progress (from another thread or a signal-safe path).
  void abort_streams();

  // The library's typed transport on the same server and credentials, for watches and the scale subresource.
  api::Transport& transport();
  const std::string& server() const { return server_; }

 private:
  http::Response send(std::string_view method, const std::string& target, const std::string& body,
                      const std::string& content_type, const std::string& accept, const http::Headers& extra = {});
  void print_warnings(const http::Headers& headers);

  http::ClientOptions http_options(int timeout_seconds, size_t max_idle) const;

  std::string server_;
  std::string token_;
  http::TlsClientOptions tls_;
  std::ostream& warnings_;
  int timeout_seconds_;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<http::Client> stream_http_;
  api::TransportPtr transport_;
};

// The Status carried by an error answer, or kubectl's generic one for a body that is not a Status.
api::Status status_from_response(int http_status, const std::string& body);

}  // namespace kctl::cli
