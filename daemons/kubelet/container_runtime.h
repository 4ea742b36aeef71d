// The container runtime interface of the kubelet: start, stop, inspect and remove the containers of pods. Two
// launchers implement it with systemd-nspawn (supervised by a per-container shim here, or as transient units
// through systemd where it is PID 1); a Docker Engine runtime could be a third.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemons/kubelet/container_log.h"

namespace kctl::kubelet {

struct Mount {
  std::string source;  // a path on the node
  std::string target;  // the path in the container
  bool read_only = false;
};

struct ContainerSpec {
  std::string id;  // unique on the node: "<pod uid>_<container name>_<attempt>"
  std::string pod_uid, pod_namespace, pod_name, container_name;
  std::string hostname;  // the pod's (spec.hostname or its name); "" for the pod's name
  std::string rootfs;  // the container's root (an overlay of its image), prepared by the kubelet
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
  std::string netns_path;  // the pod's network namespace (shared by its containers)
  std::vector<Mount> mounts;
  bool tty = false;
  bool stdin_open = false;
  int64_t cpu_limit_millis = 0;     // 0: no limit
  int64_t memory_limit_bytes = 0;   // 0: no limit
  std::string log_path;             // CRI-format log file the container's output goes to
  LogRotation log_rotation;         // when and how that file is rotated
};

struct ContainerState {
  enum class Phase { Unknown, Running, Exited };
  Phase phase = Phase::Unknown;
  int pid = 0;  // the nspawn process, while running
  int exit_code = 0;
  int signal = 0;  // set when it was killed by a signal
  std::string reason;  // "Completed", "Error", "OOMKilled"
  std::string started_at, finished_at;  // RFC 3339
};

// What exec needs to run a command in a container: a process inside its namespaces (0 when not running), and
// the container's own environment and working directory, as its spec gave them.
struct ExecTarget {
  int pid = 0;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // Starts the container; returns once it runs (or has already exited). Throws std::runtime_error.
  virtual void start(const ContainerSpec& spec) = 0;
  // SIGTERM to the container's processes, SIGKILL after `grace`; returns when it has exited.
  virtual void stop(const std::string& id, std::chrono::seconds grace) = 0;
  virtual ContainerState state(const std::string& id) const = 0;
  // Forgets an exited container (its state files, cgroup); the rootfs and logs are the kubelet's.
  virtual void remove(const std::string& id) = 0;
  // Containers this runtime knows on the node, running or exited (to re-adopt after a kubelet restart).
  virtual std::vector<std::string> list() const = 0;
  // Where and how exec runs a command in the container.
  virtual ExecTarget exec_target(const std::string& id) const = 0;
};
using ContainerRuntimePtr = std::unique_ptr<ContainerRuntime>;

}  // namespace kctl::kubelet
