// ensure_system_bus and busybox_rootfs for the node tests.
#include "node_harness.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "harness.h"

namespace kctl::test {

void ensure_system_bus() {
  if (std::filesystem::exists("/run/dbus/system_bus_socket")) return;
  std::filesystem::create_directories("/run/dbus");
  auto r = run({"dbus-daemon", "--system", "--fork"});
  ASSERT_EQ(r.rc, 0) << "cannot start the system bus: " << r.err;
}

std::string busybox_rootfs(const std::string& dir) {
  auto r = run({std::string(KCTL_SOURCE_DIR) + "/scripts/build-busybox-rootfs", dir});
  EXPECT_EQ(r.rc, 0) << r.err;
  return dir;
}

}  // namespace kctl::test
