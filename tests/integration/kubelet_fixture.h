// The fixture of the kubelet suites that need a whole node: the test process in a network namespace of its own
// (the node's), a real apiserver, a real kubelet with the busybox image, and a client; every pod is deleted (and
// the kubelet's confirmation awaited) after each test.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <sched.h>

#include <gtest/gtest.h>

#include "api/client.h"
#include "daemons/common/process.h"
#include "harness.h"
#include "node_harness.h"

namespace kctl::test {

class KubeletNodeTest : public ::testing::Test {
 protected:
  static void enter_node_namespace() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
    run_process({"ip", "link", "set", "lo", "up"});
    ensure_system_bus();
  }
  // The node, with the kubelet (and apiserver) flags a test needs.
  void start_node(std::vector<std::string> kubelet_args = {}, const std::string& node_ip = "127.0.0.1",
                  std::vector<std::string> apiserver_args = {}) {
    server_ = std::make_unique<ApiServerProcess>(std::move(apiserver_args));
    root_ = make_temp_dir("kubelet");
    kubelet_ = std::make_unique<KubeletProcess>(server_->url(), "node-1", root_, kPodCidr, node_ip,
                                                std::move(kubelet_args));
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
  }
  void TearDown() override {
    if (!client_) return;
    auto pods = client_->resource("pods", "default");
    // A short grace period: containers that ignore SIGTERM do not hold the test up for 30 s.
    try {
      for (const auto& p : pods.list().items) pods.remove(p["metadata"]["name"], {{"gracePeriodSeconds", 1}});
    } catch (const std::exception&) {
    }
    wait_for([&] { return pods.list().items.empty(); }, std::chrono::seconds(30));
    // Finished pods go from the API at once; the kubelet cleans them up after: wait for that too.
    wait_for([&] { return !std::filesystem::exists(root_ + "/pods") || std::filesystem::is_empty(root_ + "/pods"); },
             std::chrono::seconds(30));
    kubelet_.reset();
    // The host's /run/netns is shared: no test may leave a pod's namespace there.
    for (const auto& uid : created_) EXPECT_FALSE(std::filesystem::exists("/run/netns/kctl-" + uid)) << uid;
    std::filesystem::remove_all(root_);
  }

  // Polls cond (exceptions count as false) every 50 ms until it holds or the timeout passes.
  static bool wait_for(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (cond()) return true;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  api::ResourceClient pods() { return client_->resource("pods", "default"); }
  nlohmann::json create_pod(const std::string& manifest) {
    nlohmann::json pod = pods().create(nlohmann::json::parse(manifest));
    created_.push_back(pod["metadata"]["uid"]);
    return pod;
  }
  nlohmann::json pod_status(const std::string& name) { return pods().get(name)["status"]; }
  bool wait_phase(const std::string& name, const std::string& phase,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return wait_for([&] { return pod_status(name)["phase"] == phase; }, timeout);
  }
  bool gone(const std::string& name) {
    try {
      pods().get(name);
      return false;
    } catch (const api::StatusError& e) {
      return e.status().code == 404;
    }
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static constexpr const char* kPodCidr = "10.244.1.0/24";
  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<KubeletProcess> kubelet_;
  std::unique_ptr<api::Client> client_;
  std::string root_;
  std::vector<std::string> created_;  // uids of the pods create_pod made
};

}  // namespace kctl::test
