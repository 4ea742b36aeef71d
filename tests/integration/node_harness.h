// Harness pieces for the node tests (kubelet, runtime): the system bus systemd-nspawn wants, and the busybox root
// filesystem built by scripts/build-busybox-rootfs.
#pragma once

#include <string>

namespace kctl::test {

// Starts the system D-Bus daemon when none runs (systemd is not PID 1 here).
void ensure_system_bus();
// Builds the busybox root filesystem into dir (once per process) and returns dir.
std::string busybox_rootfs(const std::string& dir);

}  // namespace kctl::test
