// kctl logs, exec and port-forward as kubectl makes them: pods/log (streamed with -f), exec over a WebSocket with
// the v5 (or v4) channel protocol, and port-forward as SPDY/3.1 tunnelled in a WebSocket.
#include <unistd.h>

#include <optional>

#include "api/resource_path.h"
#include "api/selector.h"
#include "api/websocket.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/port_forward.h"
#include "cli/remote_command.h"
#include "cli/resource_args.h"
#include "cli/terminal.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

// The pod a logs/exec/port-forward argument names: "web", "pod/web", or the first pod of "deploy/api", "rc/x"...
json find_pod(Invocation& inv, const std::string& arg) {
  RestClient& rest = inv.session().rest();
  const api::KindInfo& pods = resolve_kind("pods");
  std::string ns = inv.session().ns();
  auto slash = arg.find('/');
  if (slash == std::string::npos) return rest.call("GET", api::object_path(pods, ns, arg));
  const api::KindInfo& kind = resolve_kind(arg.substr(0, slash));
  std::string name = arg.substr(slash + 1);
  if (kind.kind == "Pod") return rest.call("GET", api::object_path(pods, ns, name));
  json owner = rest.call("GET", api::object_path(kind, ns, name));
  json sel = owner.value("/spec/selector"_json_pointer, json::object());
  std::string selector = sel.contains("matchLabels") || sel.contains("matchExpressions")
                             ? api::LabelSelector::from_json(sel).to_string()
                             : api::LabelSelector::from_set(sel.get<std::map<std::string, std::string>>()).to_string();
  json items = rest.call("GET", api::collection_path(pods, ns) + Query().add("labelSelector", selector).str()).value("items", json::array());
  if (items.empty()) throw CliError("timed out waiting for the condition");
  return items[0];
}

// The container to use: -c, the kubectl.kubernetes.io/default-container annotation, else the first one (with
// kubectl's notice when there are several).
std::string pick_container(Invocation& inv, const json& pod, const std::string& wanted, bool quiet = false) {
  const json containers = pod.value("/spec/containers"_json_pointer, json::array());
  std::string names;
  for (const auto& c : containers) names += (names.empty() ? "" : ", ") + c.value("name", "");
  if (!wanted.empty()) {
    for (const auto& c : containers)
      if (c.value("name", "") == wanted) return wanted;
    for (const auto& c : pod.value("/spec/initContainers"_json_pointer, json::array()))
      if (c.value("name", "") == wanted) return wanted;
    throw CliError("container " + wanted + " is not valid for pod " + pod.value("/metadata/name"_json_pointer, std::string()));
  }
  std::string def = pod.value("/metadata/annotations"_json_pointer, json::object()).value("kubectl.kubernetes.io/default-container", "");
  if (!def.empty()) return def;
  if (containers.empty()) throw CliError("pod has no containers");
  if (containers.size() > 1 && !quiet) inv.err() << "Defaulted container \"" << containers[0].value("name", "") << "\" out of: " << names << "\n";
  return containers[0].value("name", "");
}

int run_logs(Invocation& inv) {
  std::string container, since, since_time;
  bool follow = false, previous = false, timestamps = false, all_containers = false;
  int64_t tail = -1, limit_bytes = 0;
  auto& f = inv.flags();
  f.add_string("container", 'c', &container, "Print the logs of this container");
  f.add_bool("follow", 'f', &follow, "Specify if the logs should be streamed.");
  f.add_bool("previous", 'p', &previous, "If true, print the logs for the previous instance of the container in a pod if it exists.");
  f.add_bool("timestamps", 0, &timestamps, "Include timestamps on each line in the log output");
  f.add_bool("all-containers", 0, &all_containers, "Get all containers' logs in the pod(s).");
  f.add_int("tail", 0, &tail, "Lines of recent log file to display. Defaults to -1 with no selector, showing all log lines.");
  f.add_int("limit-bytes", 0, &limit_bytes, "Maximum bytes of logs to return. Defaults to no limit.");
  f.add_string("since", 0, &since, "Only return logs newer than a relative duration like 5s, 2m, or 3h.");
  f.add_string("since-time", 0, &since_time, "Only return logs after a specific date (RFC3339).");
  if (!inv.parse()) return 0;
  if (inv.args().empty()) throw CliError("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command");
  json pod;
  try {
    pod = find_pod(inv, inv.args()[0]);
  } catch (const api::StatusError& e) {
    // kubectl logs wraps the lookup's error in its own words.
    if (e.status().code != 404 || inv.args()[0].find('/') != std::string::npos) throw;
    throw CliError("error from server (NotFound): pods \"" + inv.args()[0] + "\" not found in namespace \"" +
                   inv.session().ns() + "\"");
  }
  if (inv.args().size() > 1 && container.empty()) container = inv.args()[1];
  Query q;
  q.add("container", pick_container(inv, pod, container));
  if (follow) q.add("follow", "true");
  if (previous) q.add("previous", "true");
  if (timestamps) q.add("timestamps", "true");
  if (tail >= 0) q.add("tailLines", std::to_string(tail));
  if (limit_bytes > 0) q.add("limitBytes", std::to_string(limit_bytes));
  if (!since.empty()) q.add("sinceSeconds", std::to_string(int64_t(parse_duration(since, "--since"))));
  if (!since_time.empty()) q.add("sinceTime", since_time);
  std::string path = api::object_path(resolve_kind("pods"), pod.value("/metadata/namespace"_json_pointer, inv.session().ns()),
                                      pod.value("/metadata/name"_json_pointer, std::string()), "log") + q.str();
  RestClient& rest = inv.session().rest();
  if (!follow) {
    inv.out() << rest.call_text("GET", path, "application/json, */*");
    return 0;
  }
  rest.stream_lines(path, "application/json, */*", [&](std::string_view line) {
    inv.out() << line << "\n";
    inv.out().flush();
    return true;
  });
  return 0;
}

// The exec WebSocket as a MessageSocket: binary messages only (v5 and v4 send nothing else).
class WebSocketMessages : public MessageSocket {
 public:
  explicit WebSocketMessages(UpgradedConnection up)
      : stream_(std::move(up.stream)), ws_(*stream_, true, std::move(up.buffered)) {}
  ~WebSocketMessages() override {
    ws_.close(1000);
    stream_->shutdown();
  }
  bool read(std::string& message) override {
    uint8_t opcode = 0;
    while (ws_.read(opcode, message))
      if (opcode == ws::kBinary) return true;
    return false;
  }
  bool send(std::string_view message) override { return ws_.send_binary(message); }

 private:
  http::StreamPtr stream_;
  ws::Connection ws_;
};

int run_exec(Invocation& inv) {
  std::string container;
  bool stdin_ = false, tty = false, quiet = false;
  inv.flags().add_string("container", 'c', &container, "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen");
  inv.flags().add_bool("stdin", 'i', &stdin_, "Pass stdin to the container");
  inv.flags().add_bool("tty", 't', &tty, "Stdin is a TTY");
  inv.flags().add_bool("quiet", 'q', &quiet, "Only print output from the remote session");
  if (!inv.parse()) return 0;
  if (inv.args().empty()) throw CliError("pod, type/name or --filename must be specified");
  if (inv.flags().after_dash().empty()) throw CliError("you must specify at least one command for the container");
  json pod = find_pod(inv, inv.args()[0]);
  std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  if (phase == "Succeeded" || phase == "Failed")
    throw CliError("cannot exec into a container in a completed pod; current phase is " + phase);
  // kubectl's SetupTTY: no terminal without stdin, and none when stdin is not a terminal.
  if (tty && !stdin_) tty = false;
  if (tty && !::isatty(STDIN_FILENO)) {
    tty = false;
    if (!quiet) inv.err() << "Unable to use a TTY - input is not a terminal or the right kind of file\n";
  }
  Query q;
  for (const auto& c : inv.flags().after_dash()) q.add("command", c);
  // A named container is the server's to check (kubectl's "Error from server (BadRequest): container x is not
  // valid for pod y"); only the default is picked here.
  q.add("container", container.empty() ? pick_container(inv, pod, container, quiet) : container);
  if (stdin_) q.add("stdin", "true");
  if (!tty) q.add("stderr", "true");
  q.add("stdout", "true");
  if (tty) q.add("tty", "true");
  std::string path = api::object_path(resolve_kind("pods"), pod.value("/metadata/namespace"_json_pointer, inv.session().ns()),
                                      pod.value("/metadata/name"_json_pointer, std::string()), "exec") + q.str();
  UpgradedConnection up = inv.session().rest().upgrade(path, {kChannelProtocolV5, kChannelProtocolV4});
  RemoteCommandIO io;
  io.v5 = up.protocol == kChannelProtocolV5;
  if (stdin_) io.in_fd = STDIN_FILENO;
  std::optional<RawTerminal> raw;
  std::optional<WindowChanges> winch;
  if (tty) {
    inv.out().flush();
    raw.emplace(STDIN_FILENO);
    winch.emplace();
    io.resize_fd = winch->fd();
    int size_fd = ::isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO;
    io.terminal_size = [size_fd] { return terminal_size(size_fd); };
  }
  RemoteCommandResult result;
  {
    WebSocketMessages socket(std::move(up));
    result = run_remote_command(socket, io);
  }
  raw.reset();  // the terminal is back to normal before the error line
  if (result.message.empty()) return result.exit_code;
  throw CliError(result.message, true, result.exit_code);
}

int run_port_forward(Invocation& inv) {
  std::vector<std::string> addresses = {"localhost"};
  int64_t timeout_unused = 60;
  inv.flags().add_strings("address", 0, &addresses, "Addresses to listen on (comma separated).");
  inv.flags().add_int("pod-running-timeout", 0, &timeout_unused, "The length of time (like 5s, 2m, or 3h, higher than zero) to wait until at least one pod is running");
  if (!inv.parse()) return 0;
  if (inv.args().size() < 2) throw CliError("TYPE/NAME and list of ports are required for port-forward");
  json pod = find_pod(inv, inv.args()[0]);
  std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  if (phase != "Running") throw CliError("unable to forward port because pod is not running. Current status=" + phase);
  std::vector<PortMapping> mappings = parse_port_mappings({inv.args().begin() + 1, inv.args().end()});
  // kubectl's default: SPDY tunnelled in WebSocket binary messages (kubectl-wire.md section 11).
  UpgradedConnection up = inv.session().rest().upgrade(
      api::object_path(resolve_kind("pods"), pod.value("/metadata/namespace"_json_pointer, inv.session().ns()),
                       pod.value("/metadata/name"_json_pointer, std::string()), "portforward"),
      {spdy::kPortForwardTunnelProtocol});
  ws::Connection conn(*up.stream, true, std::move(up.buffered));
  spdy::WebSocketTunnel tunnel(conn);
  spdy::PortForwardClient client(tunnel);
  return forward_ports(client, std::move(mappings), addresses, inv.out(), inv.err());
}

}  // namespace

CommandInfo logs_command() {
  return {"logs", "Troubleshooting and Debugging Commands", "Print the logs for a container in a pod",
          "Print the logs for a container in a pod or specified resource. If the pod has only one container, the "
          "container name is optional.",
          "logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER] [options]",
          "  # Return snapshot logs from pod nginx with only one container\n  kctl logs nginx\n\n"
          "  # Begin streaming the logs of the ruby container in pod web-1\n  kctl logs -f -c ruby web-1\n\n"
          "  # Display only the most recent 20 lines of output in pod nginx\n  kctl logs --tail=20 nginx\n\n"
          "  # Show logs from a kubelet with an expired serving certificate\n  kctl logs --insecure-skip-tls-verify-backend nginx",
          run_logs};
}

CommandInfo exec_command() {
  return {"exec", "Troubleshooting and Debugging Commands", "Execute a command in a container",
          "Execute a command in a container.", "exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...] [options]",
          "  # Get output from running the 'date' command from pod mypod, using the first container by default\n"
          "  kctl exec mypod -- date\n\n"
          "  # Switch to raw terminal mode; sends stdin to 'bash' in ruby-container from pod mypod\n"
          "  kctl exec mypod -c ruby-container -i -t -- bash -il",
          run_exec};
}

CommandInfo port_forward_command() {
  return {"port-forward", "Troubleshooting and Debugging Commands", "Forward one or more local ports to a pod",
          "Forward one or more local ports to a pod.\n\n Use resource type/name such as deployment/mydeployment to "
          "select a pod. Resource type defaults to 'pod' if omitted.",
          "port-forward TYPE/NAME [options] [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
          "  # Listen on ports 5000 and 6000 locally, forwarding data to/from ports 5000 and 6000 in the pod\n"
          "  kctl port-forward pod/mypod 5000 6000\n\n"
          "  # Listen on port 8888 locally, forwarding to 5000 in the pod\n  kctl port-forward pod/mypod 8888:5000",
          run_port_forward};
}

}  // namespace kctl::cli
