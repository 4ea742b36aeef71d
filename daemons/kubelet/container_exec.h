// Starting a process inside a running container: nsenter into the namespaces of the container's init, with the
// container's environment and working directory. One piece of code for kubectl exec and for exec probes.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

struct ContainerCommand {
  ExecTarget target;     // a process in the container's namespaces, the container's env and working directory
  std::string hostname;  // the pod's
  std::vector<std::string> command;
  bool tty = false;  // the command gets `tty_fd` as its controlling terminal (and TERM); else the three fds
};

// The fds the command's stdio is connected to; -1 for stdin means /dev/null.
struct ContainerStdio {
  int in = -1, out = -1, err = -1;
  int tty = -1;  // the terminal's slave side, when ContainerCommand::tty
};

// The environment of a command run in the container, as a container runtime gives it: the basics, then the
// container's own env.
std::vector<std::string> container_command_environment(const ContainerCommand& c);

// Forks the command into the container. The child leads a process group of its own (a session with a tty), so
// kill(-pid, ...) reaches the command behind nsenter too, and starts with default signal handling whatever the
// kubelet blocks or ignores. Returns the child's pid; throws std::system_error when it cannot fork.
pid_t spawn_in_container(const ContainerCommand& c, const ContainerStdio& stdio);

}  // namespace kctl::kubelet
