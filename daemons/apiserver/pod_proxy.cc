// pods/log, exec and portforward through the apiserver: find the pod's node and its kubelet endpoint (InternalIP and
// daemonEndpoints.kubeletEndpoint.Port), reach it over HTTPS with the apiserver's kubelet client certificate, and
// relay the kubelet's answer, streamed, as kube-apiserver does.
#include <poll.h>

#include "api/http_client.h"
#include "daemons/apiserver/apiserver.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {
// The kubelet port when a Node does not say (the kubelet's default).
constexpr int kDefaultKubeletPort = 10250;
}  // namespace

std::string ApiServer::kubelet_url(const json& pod) const {
  std::string node_name = pod.value("/spec/nodeName"_json_pointer, std::string());
  std::string name = pod.value("/metadata/name"_json_pointer, std::string());
  if (node_name.empty()) throw StatusError(Status::bad_request("pod " + name + " does not have a host assigned"));
  const api::KindInfo* nodes = registry_.by_kind("", "Node");
  json node = json::parse(objects_->get(*nodes, "", node_name)->value);
  std::string address;
  for (const auto& a : node.value("/status/addresses"_json_pointer, json::array()))
    if (a.value("type", "") == "InternalIP" && address.empty()) address = a.value("address", "");
  if (address.empty())
    throw StatusError(Status::service_unavailable("node " + node_name + " has no InternalIP address to reach its kubelet"));
  int port = node.value("/status/daemonEndpoints/kubeletEndpoint/Port"_json_pointer, kDefaultKubeletPort);
  return "https://" + (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

http::ClientOptions ApiServer::kubelet_client_options(http::ClientOptions o) const {
  o.tls = kubelet_tls_;
  return o;
}

void ApiServer::check_kubelet_client() const {
  try {
    http::TlsContext::for_client(kubelet_tls_);
  } catch (const http::TlsError& e) {
    throw std::runtime_error(std::string("cannot reach kubelets with the kubelet client certificate: ") + e.what());
  }
}

void ApiServer::serve_pod_log(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  json pod = json::parse(objects_->get(*ri.kind, ri.ns, ri.name)->value);
  std::string url = kubelet_url(pod);
  std::string target = "/containerLogs/" + http::url_encode(ri.ns) + "/" + http::url_encode(ri.name) + "/" +
                       http::url_encode(req.param("container"));
  std::string q;
  for (const char* p : {"follow", "tailLines", "previous", "timestamps", "sinceSeconds", "limitBytes"})
    if (req.has_param(p)) q += (q.empty() ? "?" : "&") + std::string(p) + "=" + http::url_encode(req.param(p));
  http::Client kubelet(url, kubelet_client_options({.timeout_seconds = 0}));
  bool streaming = false;
  std::string error_body;
  int error_code = 0;
  try {
    kubelet.stream(
        "GET", target + q, {},
        [&](std::string_view chunk) {
          if (!streaming) {
            error_body.append(chunk);
            return true;
          }
          return w.write_chunk(chunk);
        },
        0,
        [&](const http::Response& head) {
          if (head.status == 200) {
            streaming = w.begin_stream(200, "text/plain");
          } else {
            error_code = head.status;
          }
        });
  } catch (const http::ConnectError& e) {
    if (!w.responded())
      throw StatusError(Status::service_unavailable("cannot reach the kubelet of the pod's node at " + url + ": " + e.what()));
  }
  if (streaming) return w.end_stream();
  if (!w.responded()) w.respond(error_code ? error_code : 502, "application/json", error_body);
}

namespace {
// Copies bytes both ways between two streams until either side ends (a relayed exec or port-forward session).
void splice(http::Stream& a, http::Stream& b) {
  char buf[65536];
  for (;;) {
    // What a TLS stream has decoded already is not visible to poll(): read that first.
    pollfd fds[2] = {{a.fd(), POLLIN, 0}, {b.fd(), POLLIN, 0}};
    bool buffered = false;
    for (int i = 0; i < 2; ++i)
      if ((i == 0 ? a : b).pending() > 0) fds[i].revents = POLLIN, buffered = true;
    if (!buffered && ::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      http::Stream& from = i == 0 ? a : b;
      http::Stream& to = i == 0 ? b : a;
      long n = from.read(buf, sizeof buf);
      if (n <= 0 || !to.write_all(std::string_view(buf, size_t(n)))) done = true;
    }
    if (done) break;
  }
  a.shutdown();
  b.shutdown();
}
}  // namespace

// pods/exec and pods/portforward: the upgrade request is passed to the kubelet, whose answer (101 and the
// protocol after it, or an error) comes back to the client byte for byte, as kube-apiserver's upgrade-aware proxy.
void ApiServer::serve_pod_upgrade(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  json pod = json::parse(objects_->get(*ri.kind, ri.ns, ri.name)->value);
  std::string url = kubelet_url(pod);
  std::string target = "/" + ri.subresource + "/" + http::url_encode(ri.ns) + "/" + http::url_encode(ri.name);
  if (ri.subresource == "exec") target += "/" + http::url_encode(req.param("container"));
  auto q = req.target.find('?');
  if (q != std::string::npos) target += req.target.substr(q);
  http::Client kubelet(url, kubelet_client_options());
  http::StreamPtr upstream;
  try {
    upstream = kubelet.connect_stream();
  } catch (const http::ConnectError& e) {
    throw StatusError(Status::service_unavailable("cannot reach the kubelet of the pod's node at " + url + ": " + e.what()));
  }
  std::string head = req.method + " " + target + " HTTP/1.1\r\nHost: " + kubelet.host() + ":" + std::to_string(kubelet.port()) + "\r\n";
  for (const auto& [k, v] : req.headers)
    if (!http::iequals(k, "Host") && !http::iequals(k, "Authorization") && !http::iequals(k, "Content-Length"))
      head += k + ": " + v + "\r\n";
  head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n\r\n" + req.body;
  http::MessageReader reader(*upstream);
  http::Response resp;
  if (!upstream->write_all(head) || reader.read_response_head(resp) != http::MessageReader::Result::Ok)
    throw StatusError(Status::service_unavailable("the kubelet at " + url + " did not answer the upgrade"));
  if (resp.status != 101) {
    reader.read_body(resp.headers, resp.body, http::kMaxRequestBody, false);
    return w.respond(resp.status, http::header(resp.headers, "Content-Type"), resp.body);
  }
  http::Stream& client = w.hijack();
  std::string answer = "HTTP/1.1 101 Switching Protocols\r\n";
  for (const auto& [k, v] : resp.headers) answer += k + ": " + v + "\r\n";
  answer += "\r\n" + reader.take_buffered();
  std::string early = w.take_buffered();
  if (!client.write_all(answer) || (!early.empty() && !upstream->write_all(early))) return;
  splice(client, *upstream);
}

}  // namespace kctl::apiserver
