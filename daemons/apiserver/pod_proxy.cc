// pods/log through the apiserver: find the pod's node and its kubelet endpoint (InternalIP and
// daemonEndpoints.kubeletEndpoint.Port) and relay the kubelet's answer, streamed, as kube-apiserver does.
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
  return "http://" + (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

void ApiServer::serve_pod_log(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  json pod = json::parse(objects_->get(*ri.kind, ri.ns, ri.name)->value);
  std::string url = kubelet_url(pod);
  std::string target = "/containerLogs/" + http::url_encode(ri.ns) + "/" + http::url_encode(ri.name) + "/" +
                       http::url_encode(req.param("container"));
  std::string q;
  for (const char* p : {"follow", "tailLines", "previous", "timestamps", "sinceSeconds", "limitBytes"})
    if (req.has_param(p)) q += (q.empty() ? "?" : "&") + std::string(p) + "=" + http::url_encode(req.param(p));
  http::Client kubelet(url, {.timeout_seconds = 0});
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

}  // namespace kctl::apiserver
