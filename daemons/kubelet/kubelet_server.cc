// KubeletServer: HTTPS, who may call it, routing, the containerLogs endpoint with kubectl's log options (streamed and
// flushed per line), and the exec and port-forward upgrades.
#include "daemons/kubelet/kubelet_server.h"

#include <algorithm>
#include <sstream>

#include "api/spdy.h"
#include "daemons/common/daemon.h"
#include "daemons/kubelet/container_log.h"
#include "daemons/kubelet/exec_session.h"
#include "daemons/kubelet/portforward_session.h"

namespace kctl::kubelet {

namespace {
void send_status(ResponseWriter& w, const api::Status& s) { w.respond(s.code, "application/json", s.to_json().dump()); }

int64_t int_param(const http::Request& req, const char* name, int64_t dflt) {
  std::string v = req.param(name);
  if (v.empty()) return dflt;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (*end != '\0') throw api::StatusError(api::Status::bad_request(std::string(name) + ": invalid integer \"" + v + "\""));
  return n;
}

// The verb of a request to the kubelet, from its method, as the kubelet's authorizer names it.
std::string kubelet_verb(const std::string& method) {
  if (method == "GET" || method == "HEAD") return "get";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  std::string verb = method;
  std::transform(verb.begin(), verb.end(), verb.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return verb;
}

// The subresource of `nodes` a path of the kubelet API stands for, as the kubelet maps them: its few read-only
// endpoints have their own, and everything else (logs, exec, port-forward, ...) is nodes/proxy.
std::string kubelet_subresource(const std::string& path) {
  auto under = [&](std::string_view prefix) {
    return path.compare(0, prefix.size(), prefix) == 0 && (path.size() == prefix.size() || path[prefix.size()] == '/');
  };
  if (under("/stats")) return "stats";
  if (under("/metrics")) return "metrics";
  if (under("/logs")) return "log";
  if (under("/checkpoint")) return "checkpoint";
  return "proxy";
}
}  // namespace

std::optional<api::Status> refuse_caller(const http::PeerIdentity& caller, const http::Request& req) {
  if (caller.common_name.empty()) return api::Status::unauthorized("Unauthorized");
  const auto& groups = caller.organizations;
  if (caller.common_name == kApiServerKubeletClientUser ||
      std::find(groups.begin(), groups.end(), "system:masters") != groups.end())
    return std::nullopt;
  return api::Status{403, "Forbidden",
                     "Forbidden (user=" + caller.common_name + ", verb=" + kubelet_verb(req.method) +
                         ", resource=nodes, subresource=" + kubelet_subresource(req.path) + ")"};
}

KubeletServer::KubeletServer(Kubelet& kubelet, const KubeletServerOptions& options)
    : kubelet_(kubelet), authenticate_(!options.tls.client_ca_file.empty()) {
  HttpServerOptions ho;
  ho.tls = http::TlsContext::for_server(options.tls);
  server_ = std::make_unique<HttpServer>([this](http::Request& r, ResponseWriter& w) { handle(r, w); }, ho);
  port_ = server_->listen(options.address, options.port);
  server_->start();
}

KubeletServer::~KubeletServer() { server_->stop(); }

void KubeletServer::handle(http::Request& req, ResponseWriter& w) {
  try {
    std::vector<std::string> parts;
    for (size_t p = 1; p <= req.path.size();) {
      size_t e = req.path.find('/', p);
      if (e == std::string::npos) e = req.path.size();
      parts.push_back(req.path.substr(p, e - p));
      p = e + 1;
    }
    if (req.path == "/healthz") return w.respond(200, "text/plain", "ok");
    if (authenticate_) {
      if (auto refused = refuse_caller(http::TlsContext::peer_identity(w.stream()), req)) {
        if (refused->code == 403) log(LogLevel::Info, refused->message + " from " + req.remote);
        return send_status(w, *refused);
      }
    }
    if (!parts.empty() && parts[0] == "containerLogs" && req.method == "GET") return container_logs(req, w, parts);
    if (!parts.empty() && parts[0] == "exec") return exec(req, w, parts);
    if (!parts.empty() && parts[0] == "portforward") return port_forward(req, w, parts);
    send_status(w, api::Status::not_found("", ""));
  } catch (const api::StatusError& e) {
    if (!w.responded()) send_status(w, e.status());
  } catch (const std::exception& e) {
    if (!w.responded()) send_status(w, api::Status::internal(e.what()));
  }
}

// GET /containerLogs/NAMESPACE/POD/CONTAINER?follow&tailLines&previous&timestamps&sinceSeconds&limitBytes
void KubeletServer::container_logs(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts) {
  if (parts.size() < 3) return send_status(w, api::Status::not_found("", ""));
  std::string container = parts.size() > 3 ? parts[3] : "";
  bool previous = http::parse_bool(req.param("previous")).value_or(false);
  auto target = kubelet_.log_target(parts[1], parts[2], container, previous);
  LogOptions o;
  o.follow = http::parse_bool(req.param("follow")).value_or(false) && !previous;
  o.timestamps = http::parse_bool(req.param("timestamps")).value_or(false);
  o.tail_lines = int_param(req, "tailLines", -1);
  o.since_seconds = int_param(req, "sinceSeconds", 0);
  o.limit_bytes = int_param(req, "limitBytes", 0);
  w.begin_stream(200, "text/plain");
  read_container_log(
      target.path, o, [&](std::string_view line) { return w.write_chunk(line); },
      [&] { return !w.should_stop() && kubelet_.container_running(target.container_id); });
  w.end_stream();
}

// GET /exec/NAMESPACE/POD/CONTAINER?command=...&stdin&stdout&stderr&tty with a WebSocket upgrade.
void KubeletServer::exec(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts) {
  if (parts.size() < 3) return send_status(w, api::Status::not_found("", ""));
  ExecRequest r;
  r.target = kubelet_.exec_target(parts[1], parts[2], parts.size() > 3 ? parts[3] : "");
  r.hostname = parts[2];
  r.command = req.params("command");
  if (r.command.empty()) throw api::StatusError(api::Status::bad_request("you must specify at least 1 command"));
  r.stdin_open = http::parse_bool(req.param("stdin")).value_or(false);
  r.tty = http::parse_bool(req.param("tty")).value_or(false);
  std::string protocol = choose_channel_protocol(http::header(req.headers, "Sec-WebSocket-Protocol"));
  if (!http::iequals(http::header(req.headers, "Upgrade"), "websocket") || protocol.empty())
    throw api::StatusError(api::Status::bad_request(
        "Upgrade request required: exec is served over a WebSocket with the v5.channel.k8s.io or v4.channel.k8s.io "
        "subprotocol"));
  r.v5 = protocol == "v5.channel.k8s.io";
  http::Stream& stream = w.hijack();
  stream.write_all("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: " + ws::accept_key(http::header(req.headers, "Sec-WebSocket-Key")) +
                   "\r\nSec-WebSocket-Protocol: " + protocol + "\r\n\r\n");
  ws::Connection conn(stream, false, w.take_buffered());
  run_exec_session(conn, r);
}

// /portforward/NAMESPACE/POD: GET with a WebSocket upgrade offering SPDY/3.1+portforward.k8s.io (SPDY tunneled in
// binary messages), or the SPDY/3.1 upgrade itself (kubectl's fallback, a POST).
void KubeletServer::port_forward(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts) {
  if (parts.size() != 3) return send_status(w, api::Status::not_found("", ""));
  auto pod = kubelet_.pod_netns(parts[1], parts[2]);
  PortForwardTarget target{parts[2], pod.uid, [netns = pod.netns_path](uint16_t port, std::string* error) {
                             return connect_in_netns(netns, port, error);
                           }};
  auto offered = [&](std::string_view header, std::string_view protocol) {
    auto [b, e] = req.headers.equal_range(std::string(header));
    for (auto it = b; it != e; ++it) {
      std::stringstream ss(it->second);
      for (std::string item; std::getline(ss, item, ',');) {
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (item == protocol) return true;
      }
    }
    return false;
  };
  std::string upgrade = http::header(req.headers, "Upgrade");
  if (http::iequals(upgrade, "websocket")) {
    if (!offered("Sec-WebSocket-Protocol", spdy::kPortForwardTunnelProtocol))
      throw api::StatusError(api::Status::bad_request(std::string("port-forward over a WebSocket needs the ") +
                                                      spdy::kPortForwardTunnelProtocol + " subprotocol"));
    http::Stream& stream = w.hijack();
    stream.write_all("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " + ws::accept_key(http::header(req.headers, "Sec-WebSocket-Key")) +
                     "\r\nSec-WebSocket-Protocol: " + spdy::kPortForwardTunnelProtocol + "\r\n\r\n");
    log(LogLevel::Info, "port-forward to pod " + parts[1] + "/" + parts[2] + " (SPDY/3.1 in a WebSocket) from " +
                            req.remote);
    ws::Connection conn(stream, false, w.take_buffered());
    spdy::WebSocketTunnel tunnel(conn);
    run_portforward_session(tunnel, "", target);
    conn.close(1000);
    return;
  }
  if (!http::iequals(upgrade, "SPDY/3.1"))
    throw api::StatusError(api::Status::bad_request(
        "Upgrade request required: port-forward is served over SPDY/3.1 or a WebSocket tunnel"));
  // Clients that name no protocol speak the first one, portforward.k8s.io, as the kubelet assumes too.
  if (req.headers.count("X-Stream-Protocol-Version") && !offered("X-Stream-Protocol-Version", spdy::kPortForwardProtocol))
    return w.respond(403, "text/plain",
                     std::string("unable to upgrade: unable to negotiate protocol: server accepts [") +
                         spdy::kPortForwardProtocol + "]");
  http::Stream& stream = w.hijack();
  stream.write_all(std::string("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                               "X-Stream-Protocol-Version: ") + spdy::kPortForwardProtocol + "\r\n\r\n");
  log(LogLevel::Info, "port-forward to pod " + parts[1] + "/" + parts[2] + " (SPDY/3.1) from " + req.remote);
  run_portforward_session(stream, w.take_buffered(), target);
}

}  // namespace kctl::kubelet
