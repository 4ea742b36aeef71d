// The per-container shim process: parent of a container's systemd-nspawn, writer of its CRI log and exit status.
#pragma once

#include <string>
#include <vector>

#include "daemons/kubelet/container_log.h"

namespace kctl::kubelet {

struct ShimOptions {
  std::string state_dir;  // gets "pid", "started" and finally "exit.json"
  std::string log_path;   // CRI-format log
  LogRotation log_rotation;
  int ready_fd = -1;      // written to once the container process is forked
  std::vector<std::string> command;  // systemd-nspawn ...
};

int run_shim(const ShimOptions& options);
// `kctl-shim --dir=D --log=F [--log-max-size=BYTES --log-max-files=N] [--ready-fd=N] -- COMMAND...`.
int shim_main(int argc, char** argv);

}  // namespace kctl::kubelet
