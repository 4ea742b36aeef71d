// Exec into a running container over the Kubernetes channel protocol on a WebSocket.
#pragma once

#include <string>
#include <vector>

#include "api/websocket.h"
#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

struct ExecRequest {
  ExecTarget target;     // a process in the container's namespaces, the container's env and working directory
  std::string hostname;  // the pod's
  std::vector<std::string> command;
  bool stdin_open = false, tty = false;
  bool v5 = true;  // v5.channel.k8s.io (else v4)
};

// The subprotocol to answer with from a Sec-WebSocket-Protocol offer, best first; "" when none is supported.
std::string choose_channel_protocol(const std::string& offered);
// Runs the command and carries its stdio until it exits; sends the final Status on channel 3 and closes.
void run_exec_session(ws::Connection& conn, const ExecRequest& request);

}  // namespace kctl::kubelet
