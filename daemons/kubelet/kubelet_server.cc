// KubeletServer: routing and the containerLogs endpoint with kubectl's log options, streamed and flushed per line.
#include "daemons/kubelet/kubelet_server.h"

#include "daemons/kubelet/container_log.h"
#include "daemons/kubelet/exec_session.h"

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
}  // namespace

KubeletServer::KubeletServer(Kubelet& kubelet, const std::string& address, int port) : kubelet_(kubelet) {
  server_ = std::make_unique<HttpServer>([this](http::Request& r, ResponseWriter& w) { handle(r, w); });
  port_ = server_->listen(address, port);
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
    if (!parts.empty() && parts[0] == "containerLogs" && req.method == "GET") return container_logs(req, w, parts);
    if (!parts.empty() && parts[0] == "exec") return exec(req, w, parts);
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

}  // namespace kctl::kubelet
