// Pod networking with real namespaces, veths and a bridge, inside a private network namespace of the test so the
// host is never touched: addresses, reachability between pods, re-finding allocations, and a clean teardown.
#include <filesystem>

#include <sched.h>

#include <gtest/gtest.h>

#include "daemons/common/process.h"
#include "daemons/kubelet/pod_network.h"
#include "harness.h"

using kctl::kubelet::PodNetworkManager;

namespace {
class PodNetworkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Everything below happens in a network namespace of our own: the bridge and veths die with the process.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root (CAP_SYS_ADMIN)";
    kctl::run_process({"ip", "link", "set", "lo", "up"});
  }
  std::string dir_ = kctl::test::make_temp_dir("podnet");
};
}  // namespace

TEST_F(PodNetworkTest, PodsGetAddressesAndReachEachOther) {
  PodNetworkManager m("kctl0", dir_);
  m.ensure_bridge("10.244.7.0/24");
  m.ensure_bridge("10.244.7.0/24");  // idempotent
  auto a = m.setup("uid-a"), b = m.setup("uid-b");
  EXPECT_EQ(a.ip, "10.244.7.2");
  EXPECT_EQ(b.ip, "10.244.7.3");
  EXPECT_EQ(a.gateway, "10.244.7.1");
  EXPECT_TRUE(std::filesystem::exists(a.netns_path));
  auto ping = kctl::run_process({"ip", "netns", "exec", a.netns, "busybox", "ping", "-c", "1", "-W", "2", b.ip});
  EXPECT_TRUE(ping.ok()) << ping.out << ping.err;
  auto to_node = kctl::run_process({"ip", "netns", "exec", b.netns, "busybox", "ping", "-c", "1", "-W", "2", "10.244.7.1"});
  EXPECT_TRUE(to_node.ok()) << to_node.out << to_node.err;
  // setup is idempotent and a new manager finds the allocation (a restarted kubelet)
  EXPECT_EQ(m.setup("uid-a").ip, a.ip);
  PodNetworkManager again("kctl0", dir_);
  again.ensure_bridge("10.244.7.0/24");
  ASSERT_TRUE(again.find("uid-b"));
  EXPECT_EQ(again.find("uid-b")->ip, b.ip);
  EXPECT_EQ(again.allocated_uids().size(), 2u);
  again.teardown("uid-a");
  again.teardown("uid-a");  // harmless twice
  EXPECT_FALSE(std::filesystem::exists(a.netns_path));
  EXPECT_FALSE(kctl::run_process({"ip", "link", "show", a.host_veth}).ok());
  EXPECT_EQ(again.setup("uid-c").ip, "10.244.7.2");  // the address is free again
  again.teardown("uid-b");
  again.teardown("uid-c");
  EXPECT_TRUE(again.allocated_uids().empty());
}
