// A local cluster (`kctl local up`: a master and two workers in network namespaces) per test, inside a network
// namespace of the test binary's own, so the host's network is untouched; with the helpers the end-to-end
// scenarios share: kctl against it, a client, polling, the daemons' logs.
#pragma once

#include <sched.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"
#include "node_harness.h"

namespace kctl::test {

class LocalClusterFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
    run({"ip", "link", "set", "lo", "up"});
    ensure_system_bus();
  }
  // `kctl local up` of a cluster named `name` (its nodes NAME-worker-1 and -2: names differ per test binary, so
  // they may run at once) with no examples; then a client of its API.
  void up(const std::string& name, const std::vector<std::string>& extra = {}) {
    name_ = name;
    dir_ = make_temp_dir("local-" + name) + "/cluster";
    port_ = std::to_string(free_port());
    std::vector<std::string> argv = {kctl_, "local", "up", "--dir", dir_, "--api-port", port_, "--name", name,
                                     "--no-examples"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run(argv, "", 180);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    client_ = std::make_unique<api::Client>(api::Client::connect("http://127.0.0.1:" + port_));
  }
  void TearDown() override {
    if (dir_.empty()) return;
    auto r = run({kctl_, "local", "down", "--dir", dir_}, "", 180);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
  }
  std::string node(int i) const { return name_ + "-worker-" + std::to_string(i); }
  CmdResult kctl(std::vector<std::string> args, const std::string& input = "", int timeout = 60) const {
    args.insert(args.begin(), {kctl_, "-s", "http://127.0.0.1:" + port_});
    return run(args, input, timeout);
  }
  // Polls `cond` (exceptions count as false) until it holds or `timeout` passes.
  static bool until(const std::function<bool()>& cond, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (cond()) return true;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // A daemon's log (DIR/logs/COMPONENT.log), to show when something fails.
  std::string log(const std::string& component) const {
    std::ifstream in(dir_ + "/logs/" + component + ".log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  const std::string kctl_ = std::string(KCTL_BIN_DIR) + "/kctl";
  std::string name_, dir_, port_;
  std::unique_ptr<api::Client> client_;
};

}  // namespace kctl::test
