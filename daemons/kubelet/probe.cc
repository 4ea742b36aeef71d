// Probe specs from the pod spec, and the three handlers Kubernetes' prober has: exec (a command in the container,
// through the same spawn_in_container as kubectl exec), httpGet (through the kctl HTTP client) and tcpSocket (a
// bare connect). The kubelet runs in the node's network namespace, so pod IPs are reached directly.
#include "daemons/kubelet/probe.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/http_client.h"
#include "daemons/kubelet/container_exec.h"

using nlohmann::json;

namespace kctl::kubelet {

namespace {

// Kubernetes keeps at most this much of a probe's output for its message (maxProbeOutputLength / maxRespBodyLength).
constexpr size_t kMaxProbeOutput = 10 * 1024;
// The User-Agent Kubernetes' HTTP prober sends: kube-probe/<major>.<minor> of the kubelet (node_status.cc says 1.33).
constexpr const char* kProbeUserAgent = "kube-probe/1.33";
// Sane bounds for values the API server does not validate yet: a period or timeout of 0 would spin, and a day is
// beyond any useful probe.
constexpr int64_t kMaxProbeSeconds = 24 * 3600;

constexpr auto kSuccess = ProbeOutcome::Result::Success;
constexpr auto kFailure = ProbeOutcome::Result::Failure;
constexpr auto kError = ProbeOutcome::Result::Error;

int64_t seconds_field(const json& probe, const char* name, int64_t fallback, int64_t min) {
  const json& v = probe.contains(name) ? probe[name] : json();
  int64_t n = v.is_number_integer() ? v.get<int64_t>() : fallback;
  return std::clamp<int64_t>(n, min, kMaxProbeSeconds);
}

// A port given as a number, or as the name of one of the container's ports (or a number in a string, as the
// kubelet accepts it as a last resort).
void resolve_port(const json& container, const json& port, ProbeSpec& spec) {
  if (port.is_number_integer()) {
    spec.port = port.get<int>();
  } else if (port.is_string()) {
    std::string name = port.get<std::string>();
    for (const auto& p : container.value("ports", json::array()))
      if (p.is_object() && p.value("name", "") == name) spec.port = p.value("containerPort", 0);
    if (spec.port == 0 && !name.empty() && name.find_first_not_of("0123456789") == std::string::npos && name.size() < 6)
      spec.port = std::stoi(name);
    if (spec.port == 0) spec.port_error = "couldn't find port: " + name + " in container";
  }
  if (spec.port_error.empty() && (spec.port <= 0 || spec.port > 65535))
    spec.port_error = "invalid port number: " + std::to_string(spec.port);
}

void parse_handler(const json& container, const json& probe, ProbeSpec& spec) {
  if (probe.contains("exec") && probe["exec"].is_object()) {
    spec.handler = ProbeSpec::Handler::Exec;
    for (const auto& a : probe["exec"].value("command", json::array()))
      if (a.is_string()) spec.command.push_back(a);
  } else if (probe.contains("httpGet") && probe["httpGet"].is_object()) {
    const json& h = probe["httpGet"];
    spec.handler = ProbeSpec::Handler::HttpGet;
    spec.host = h.value("host", "");
    spec.path = h.value("path", "/");
    if (spec.path.empty() || spec.path[0] != '/') spec.path = "/" + spec.path;
    spec.scheme = h.value("scheme", "HTTP");
    for (const auto& hh : h.value("httpHeaders", json::array()))
      if (hh.is_object()) spec.headers.emplace_back(hh.value("name", ""), hh.value("value", ""));
    resolve_port(container, h.value("port", json()), spec);
  } else if (probe.contains("tcpSocket") && probe["tcpSocket"].is_object()) {
    spec.handler = ProbeSpec::Handler::TcpSocket;
    spec.host = probe["tcpSocket"].value("host", "");
    resolve_port(container, probe["tcpSocket"].value("port", json()), spec);
  } else if (probe.contains("grpc") && probe["grpc"].is_object()) {
    spec.handler = ProbeSpec::Handler::Grpc;
    resolve_port(container, probe["grpc"].value("port", json()), spec);
  }
}

std::string host_port(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Reads what the command wrote so far, keeping the first kMaxProbeOutput bytes; true at EOF (or on an error).
bool drain(int fd, std::string& output) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EINTR;
    size_t room = kMaxProbeOutput - std::min(output.size(), kMaxProbeOutput);
    output.append(buf, std::min(size_t(n), room));
  }
}

// Collects the command's output until it exits or the deadline passes; false on timeout. Waits on a pidfd, not on
// EOF alone: a daemon the command leaves behind may hold the pipe open.
bool collect_output(pid_t pid, int out_fd, std::chrono::steady_clock::time_point deadline, std::string& output) {
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  ::fcntl(out_fd, F_SETFL, O_NONBLOCK);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};  // poll skips a negative fd
  bool finished = false;
  while (!finished) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    fds[0].revents = fds[1].revents = 0;
    if (::poll(fds, 2, int(left.count()) + 1) < 0 && errno != EINTR) break;
    bool eof = fds[0].fd >= 0 && drain(out_fd, output);
    if (eof) fds[0].fd = -1;
    finished = (fds[1].revents & POLLIN) || (pidfd < 0 && eof);  // without a pidfd (old kernels) EOF must do
  }
  if (finished && fds[0].fd >= 0) drain(out_fd, output);
  if (pidfd >= 0) ::close(pidfd);
  return finished;
}

ProbeOutcome exec_probe(const ProbeSpec& spec, const ProbeContext& ctx) {
  if (ctx.exec.pid <= 0) return {kError, "container is not running yet"};
  if (spec.command.empty()) return {kError, "exec probe has no command"};
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {kError, std::string("pipe: ") + std::strerror(errno)};
  pid_t pid;
  try {
    pid = spawn_in_container({ctx.exec, ctx.hostname, spec.command, false}, {-1, out[1], out[1], -1});
  } catch (const std::exception& e) {
    ::close(out[0]);
    ::close(out[1]);
    return {kError, e.what()};
  }
  ::close(out[1]);
  std::string output;
  bool done = collect_output(pid, out[0], std::chrono::steady_clock::now() + spec.timeout, output);
  ::close(out[0]);
  if (!done) ::kill(-pid, SIGKILL);  // the whole group: nsenter and the command it forked into the container
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!done) return {kFailure, "command timed out"};
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 0) return {kSuccess, output};
  return {kFailure, output.empty() ? "command exited with code " + std::to_string(code) : output};
}

ProbeOutcome http_probe(const ProbeSpec& spec, const ProbeContext& ctx) {
  std::string host = spec.host.empty() ? ctx.pod_ip : spec.host;
  std::string scheme = spec.scheme == "HTTPS" ? "https" : "http";
  std::string url = scheme + "://" + host_port(host, spec.port) + spec.path;
  if (scheme == "https") return {kError, "Get \"" + url + "\": HTTPS probes are not supported by kctl yet"};
  http::Headers headers;
  for (const auto& [k, v] : spec.headers) headers.emplace(k, v);
  if (headers.find("User-Agent") == headers.end()) headers.emplace("User-Agent", kProbeUserAgent);
  if (headers.find("Accept") == headers.end()) headers.emplace("Accept", "*/*");
  else if (http::header(headers, "Accept").empty()) headers.erase("Accept");  // an empty Accept means none at all
  try {
    http::ClientOptions options;
    options.timeout_seconds = int(spec.timeout.count());
    options.max_idle_connections = 0;  // one request per probe, as Kubernetes disables keep-alive
    http::Client client("http://" + host_port(host, spec.port), options);
    http::Response resp = client.request_head("GET", spec.path, headers);
    // Redirects count as success, without following them (Kubernetes follows those to the same host).
    if (resp.status >= 200 && resp.status < 400) return {kSuccess, ""};
    return {kFailure, "HTTP probe failed with statuscode: " + std::to_string(resp.status)};
  } catch (const std::exception& e) {
    return {kFailure, "Get \"" + url + "\": " + e.what()};
  }
}

ProbeOutcome tcp_probe(const ProbeSpec& spec, const ProbeContext& ctx) {
  std::string host = spec.host.empty() ? ctx.pod_ip : spec.host;
  std::string what = "dial tcp " + host_port(host, spec.port) + ": ";
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(spec.port).c_str(), &hints, &res); rc != 0)
    return {kFailure, what + ::gai_strerror(rc)};
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int r = ::poll(&p, 1, int(std::chrono::milliseconds(spec.timeout).count()));
      socklen_t len = sizeof err;
      if (r <= 0) err = ETIMEDOUT;
      else ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  ::freeaddrinfo(res);
  if (fd >= 0) ::close(fd);
  if (err == 0) return {kSuccess, ""};
  std::string why = std::strerror(err);
  why[0] = char(std::tolower(why[0]));  // as Go words system errors: "connection refused"
  return {kFailure, what + (err == ETIMEDOUT ? "i/o timeout" : "connect: " + why)};
}

}  // namespace

const char* probe_type_name(ProbeType t) {
  switch (t) {
    case ProbeType::Startup: return "Startup";
    case ProbeType::Liveness: return "Liveness";
    case ProbeType::Readiness: return "Readiness";
  }
  return "";
}

std::optional<ProbeSpec> parse_probe(const json& container, ProbeType type) {
  const char* field = type == ProbeType::Startup    ? "startupProbe"
                      : type == ProbeType::Liveness ? "livenessProbe"
                                                    : "readinessProbe";
  if (!container.is_object() || !container.contains(field) || !container[field].is_object()) return std::nullopt;
  const json& p = container[field];
  ProbeSpec spec;
  parse_handler(container, p, spec);
  spec.initial_delay = std::chrono::seconds(seconds_field(p, "initialDelaySeconds", 0, 0));
  spec.period = std::chrono::seconds(seconds_field(p, "periodSeconds", 10, 1));
  spec.timeout = std::chrono::seconds(seconds_field(p, "timeoutSeconds", 1, 1));
  spec.success_threshold = int(seconds_field(p, "successThreshold", 1, 1));
  spec.failure_threshold = int(seconds_field(p, "failureThreshold", 3, 1));
  // Liveness and startup results are final at the first success (the API server insists on 1).
  if (type != ProbeType::Readiness) spec.success_threshold = 1;
  if (p.contains("terminationGracePeriodSeconds") && p["terminationGracePeriodSeconds"].is_number_integer())
    spec.termination_grace_seconds = std::max<int64_t>(0, p["terminationGracePeriodSeconds"].get<int64_t>());
  return spec;
}

ProbeOutcome run_probe(const ProbeSpec& spec, const ProbeContext& ctx) {
  if (!spec.port_error.empty()) return {kError, spec.port_error};
  switch (spec.handler) {
    case ProbeSpec::Handler::Exec: return exec_probe(spec, ctx);
    case ProbeSpec::Handler::HttpGet: return http_probe(spec, ctx);
    case ProbeSpec::Handler::TcpSocket: return tcp_probe(spec, ctx);
    case ProbeSpec::Handler::Grpc: return {kError, "gRPC probes are not supported by kctl yet"};
    case ProbeSpec::Handler::None: break;
  }
  return {kError, "the probe has no handler (exec, httpGet, tcpSocket or grpc)"};
}

}  // namespace kctl::kubelet
