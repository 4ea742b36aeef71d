// A real kubelet started without --pod-cidr on a node of its own (a network namespace) waits NotReady until the
// controller manager's node IPAM allocates its podCIDR, then wires its network for it and runs a pod there.
#include <gtest/gtest.h>

#include "controller_manager_process.h"
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class KubeletPodCidrTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }

  std::string ready_condition(const std::string& field) {
    json node = client_->resource("nodes").get("node-1");
    for (const auto& c : node["status"]["conditions"])
      if (c["type"] == "Ready") return c.value(field, "");
    return "";
  }
};

TEST_F(KubeletPodCidrTest, KubeletWithoutPodCidrRunsPodsOnceNodeIpamAllocatesOne) {
  server_ = std::make_unique<ApiServerProcess>();
  root_ = make_temp_dir("kubelet");
  kubelet_ = std::make_unique<KubeletProcess>(server_->url(), "node-1", root_, "", "127.0.0.1");
  client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
  ASSERT_TRUE(wait_for([&] { return ready_condition("status") == "False"; }, 30s))
      << kubelet_->log() << client_->resource("nodes").get("node-1").dump();
  EXPECT_NE(ready_condition("message").find("no podCIDR"), std::string::npos) << ready_condition("message");

  ControllerManagerProcess cm(server_->url(), {"--controllers=nodeipam"});
  auto allocated = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return ready_condition("status") == "True"; }, 30s)) << kubelet_->log() << cm.log();
  std::cout << "node Ready " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - allocated).count()
            << " ms after the controller manager started\n";
  std::string cidr = client_->resource("nodes").get("node-1")["spec"]["podCIDR"];
  EXPECT_EQ(cidr.rfind("10.244.", 0), 0u) << cidr;
  std::string prefix = cidr.substr(0, cidr.rfind(".0/24") + 1);  // "10.244.N."

  create_pod(R"({"metadata": {"name": "sleeper"},
                 "spec": {"nodeName": "node-1",
                          "containers": [{"name": "c", "image": "kctl/busybox", "command": ["sleep", "3600"]}]}})");
  ASSERT_TRUE(wait_phase("sleeper", "Running")) << pod_status("sleeper").dump() << kubelet_->log();
  std::string ip = pod_status("sleeper").value("podIP", "");
  EXPECT_EQ(ip.rfind(prefix, 0), 0u) << ip << " not in " << cidr;
}

}  // namespace
