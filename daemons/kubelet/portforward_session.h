// The kubelet's side of kubectl port-forward (portforward.k8s.io over SPDY/3.1, raw or tunneled in a WebSocket):
// per request id an error stream and a data stream, the data stream spliced to a port inside the pod.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "api/http.h"

namespace kctl::kubelet {

// Connections forwarded at once over one session; each holds a thread and a socket to the pod.
constexpr size_t kMaxForwardsPerSession = 256;

// Connects to 127.0.0.1:port inside the network namespace at netns_path (from a short-lived thread that joins the
// namespace, so the caller's stays as it is). A connected socket, or -1 with the reason in *error.
int connect_in_netns(const std::string& netns_path, uint16_t port, std::string* error);

struct PortForwardTarget {
  std::string pod, uid;  // named in error messages
  // Opens a connection to a pod port: a connected socket (the session owns it), or -1 with the reason in *error.
  std::function<int(uint16_t port, std::string* error)> dial;
};

// Serves one upgraded connection until the client goes away. `buffered`: bytes already read past the upgrade.
void run_portforward_session(http::Stream& stream, std::string buffered, const PortForwardTarget& target);

}  // namespace kctl::kubelet
