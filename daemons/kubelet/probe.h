// A container probe as the pod spec gives it (livenessProbe, readinessProbe, startupProbe, with Kubernetes' field
// names and defaults) and one run of it: a command in the container, an HTTP GET or a TCP connect to the pod.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

enum class ProbeType { Startup, Liveness, Readiness };
constexpr ProbeType kProbeTypes[] = {ProbeType::Startup, ProbeType::Liveness, ProbeType::Readiness};
const char* probe_type_name(ProbeType t);  // "Startup", "Liveness", "Readiness", as events and logs say

struct ProbeSpec {
  enum class Handler { None, Exec, HttpGet, TcpSocket, Grpc };
  Handler handler = Handler::None;
  std::vector<std::string> command;  // exec
  std::string host;                  // httpGet, tcpSocket: "" for the pod's IP
  int port = 0;                      // httpGet, tcpSocket, grpc: resolved from a number or a named container port
  std::string port_error;            // why the port could not be resolved
  std::string path = "/", scheme = "HTTP";
  std::vector<std::pair<std::string, std::string>> headers;  // httpGet.httpHeaders
  std::chrono::seconds initial_delay{0}, period{10}, timeout{1};
  int success_threshold = 1, failure_threshold = 3;
  std::optional<int64_t> termination_grace_seconds;  // the probe's own, for liveness and startup kills
};

// The probe of that type of a container spec; nullopt when it has none. Values the API server would refuse are
// brought to their nearest sane value rather than trusted (the kubelet must not spin on periodSeconds 0).
std::optional<ProbeSpec> parse_probe(const nlohmann::json& container, ProbeType type);

// What a probe runs against.
struct ProbeContext {
  std::string pod_ip;
  std::string hostname;  // the pod's, for exec
  ExecTarget exec;       // the container, for exec (pid 0 when it is not running)
};

struct ProbeOutcome {
  // Error: the probe could not be run at all (an unknown named port, a handler kctl does not support, a container
  // not yet up to exec into). Kubernetes throws such a result away instead of counting it as a failure.
  enum class Result { Success, Failure, Error };
  Result result = Result::Failure;
  std::string message;  // why it failed, as Kubernetes words it ("HTTP probe failed with statuscode: 503")
  bool success() const { return result == Result::Success; }
};

// Runs the probe once, within its timeout. Never throws.
ProbeOutcome run_probe(const ProbeSpec& spec, const ProbeContext& ctx);

}  // namespace kctl::kubelet
