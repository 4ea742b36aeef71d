// The nspawn container runtime with real systemd-nspawn containers from a busybox image: exit codes and CRI logs,
// graceful stop, cgroup limits, two containers of one pod talking over localhost, and cleanup. Runs inside a
// network namespace of its own.
#include <filesystem>
#include <fstream>
#include <thread>

#include <sched.h>

#include <gtest/gtest.h>

#include "daemons/common/process.h"
#include "daemons/kubelet/cgroups.h"
#include "daemons/kubelet/container_rootfs.h"
#include "daemons/kubelet/image_store.h"
#include "daemons/kubelet/nspawn_runtime.h"
#include "daemons/kubelet/pod_network.h"
#include "harness.h"
#include "node_harness.h"

namespace fs = std::filesystem;
using namespace kctl::kubelet;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class NspawnRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
    kctl::run_process({"ip", "link", "set", "lo", "up"});
    kctl::test::ensure_system_bus();  // systemd-nspawn wants the system bus even with --register=no
  }
  void SetUp() override {
    dir_ = kctl::test::make_temp_dir("nspawn");
    images_ = std::make_unique<ImageStore>(dir_ + "/images");
    image_ = images_->import("kctl/busybox:test", kctl::test::busybox_rootfs(dir_ + "/bb")).rootfs;
    runtime_ = std::make_unique<NspawnRuntime>(dir_ + "/runtime",
                                               std::vector<std::string>{std::string(KCTL_BIN_DIR) + "/kctl-shim"},
                                               std::make_unique<ProcessLauncher>());
    net_ = std::make_unique<PodNetworkManager>("kctl0", dir_ + "/net");
    net_->ensure_bridge("10.244.9.0/24");
  }
  void TearDown() override {
    for (const auto& id : runtime_->list()) {
      runtime_->stop(id, 1s);
      runtime_->remove(id);
    }
    for (const auto& d : made_) remove_container_rootfs(d);
    for (const auto& uid : net_->allocated_uids()) net_->teardown(uid);
    fs::remove_all(dir_);
  }
  ContainerSpec spec(const std::string& pod, const std::string& name, std::vector<std::string> argv) {
    ContainerSpec s;
    s.pod_uid = pod;
    s.pod_name = pod;
    s.pod_namespace = "default";
    s.container_name = name;
    s.id = pod + "_" + name + "_0";
    std::string d = dir_ + "/rootfs/" + s.id;
    made_.push_back(d);
    s.rootfs = mount_container_rootfs(image_, d);
    s.argv = std::move(argv);
    s.netns_path = net_->setup(pod).netns_path;
    s.log_path = dir_ + "/logs/" + s.id + ".log";
    return s;
  }
  ContainerState wait_exited(const std::string& id, std::chrono::seconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    ContainerState st;
    while (std::chrono::steady_clock::now() < deadline) {
      st = runtime_->state(id);
      if (st.phase == ContainerState::Phase::Exited) break;
      std::this_thread::sleep_for(20ms);
    }
    return st;
  }

  std::string dir_, image_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<NspawnRuntime> runtime_;
  std::unique_ptr<PodNetworkManager> net_;
  std::vector<std::string> made_;
};

}  // namespace

TEST_F(NspawnRuntimeTest, ExitCodeAndCriLogs) {
  auto s = spec("pod-a", "main", {"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"});
  s.env = {{"GREETING", "hi"}};
  runtime_->start(s);
  auto st = wait_exited(s.id);
  ASSERT_EQ(st.phase, ContainerState::Phase::Exited);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.reason, "Error");
  EXPECT_FALSE(st.started_at.empty());
  EXPECT_FALSE(st.finished_at.empty());
  std::string log = slurp(s.log_path);
  EXPECT_NE(log.find(" stdout F to-stdout\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" stderr F to-stderr\n"), std::string::npos) << log;
}

TEST_F(NspawnRuntimeTest, EnvironmentAndGracefulStop) {
  auto s = spec("pod-b", "main", {"/bin/sh", "-c", "echo $GREETING; exec sleep 1000"});
  s.env = {{"GREETING", "hello-env"}};
  s.memory_limit_bytes = 64 * 1024 * 1024;
  s.cpu_limit_millis = 250;
  runtime_->start(s);
  auto st = runtime_->state(s.id);
  EXPECT_EQ(st.phase, ContainerState::Phase::Running);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         (runtime_->exec_target(s.id).pid == 0 || slurp(s.log_path).find("hello-env") == std::string::npos))
    std::this_thread::sleep_for(20ms);
  EXPECT_GT(runtime_->exec_target(s.id).pid, 0);
  EXPECT_EQ(runtime_->exec_target(s.id).env, s.env) << "exec gets the container's environment";
  // What the runtime keeps of the container holds its environment (Secret values, for env from a Secret): root's.
  fs::path kept = dir_ + "/runtime/containers/" + s.id + "/spec.json";
  EXPECT_NE(slurp(kept).find("hello-env"), std::string::npos);
  EXPECT_EQ(unsigned(fs::status(kept).permissions() & fs::perms::all), 0600u);
  ContainerCgroup cg("kctl/pod-" + s.pod_uid + "/" + s.id);
  EXPECT_EQ(cg.memory_limit(), 64 * 1024 * 1024);
  EXPECT_EQ(cg.cpu_quota_micros(), 25000);
  EXPECT_FALSE(cg.processes().empty());
  auto t0 = std::chrono::steady_clock::now();
  runtime_->stop(s.id, 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "SIGTERM did not stop it; it waited for SIGKILL";
  st = runtime_->state(s.id);
  EXPECT_EQ(st.phase, ContainerState::Phase::Exited);
  EXPECT_EQ(st.exit_code, 143) << "a stopped container ended by SIGTERM, whatever nspawn's own status";
  EXPECT_EQ(st.reason, "Error");
  EXPECT_NE(slurp(s.log_path).find("hello-env"), std::string::npos);
  runtime_->remove(s.id);
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/kctl/pod-pod-b/" + s.id));
}

TEST_F(NspawnRuntimeTest, ContainersOfAPodShareLocalhost) {
  auto web = spec("pod-c", "web", {"/bin/sh", "-c", "mkdir -p /www && echo shared-page > /www/index.html && exec httpd -f -p 8080 -h /www"});
  runtime_->start(web);
  auto client = spec("pod-c", "client",
                     {"/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:8080/ && exit 0; sleep 0.2; done; exit 1"});
  runtime_->start(client);
  auto st = wait_exited(client.id);
  EXPECT_EQ(st.exit_code, 0) << slurp(client.log_path);
  EXPECT_NE(slurp(client.log_path).find("shared-page"), std::string::npos);
  // The same port cannot be bound twice in one pod.
  auto second = spec("pod-c", "web2", {"/bin/sh", "-c", "exec httpd -f -p 8080 -h /"});
  runtime_->start(second);
  st = wait_exited(second.id);
  EXPECT_NE(st.exit_code, 0);
}

// Stopping sends SIGTERM to the container's command alone (nspawn's own stop would add a SIGHUP, which ends a
// program that only handles SIGTERM at once); one that ignores it is killed when the grace period ends, and its
// shim lives on to record that (137, as for any SIGKILL).
TEST_F(NspawnRuntimeTest, StopGivesTheCommandItsGracePeriod) {
  // Handles SIGTERM, slowly (a drain), and does not handle SIGHUP.
  auto drains = spec("pod-d", "drains", {"/bin/sh", "-c", "trap 'sleep 1; echo drained; exit 0' TERM; echo ready; "
                                         "while true; do sleep 0.1; done"});
  auto ignores = spec("pod-d", "ignores", {"/bin/sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"});
  for (auto* s : {&drains, &ignores}) {
    runtime_->start(*s);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (slurp(s->log_path).find("ready") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }
  auto t0 = std::chrono::steady_clock::now();
  runtime_->stop(drains.id, 10s);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 900ms) << "it did not get to drain";
  EXPECT_LT(took, 5s);
  auto st = runtime_->state(drains.id);
  EXPECT_EQ(st.phase, ContainerState::Phase::Exited);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_NE(slurp(drains.log_path).find("drained"), std::string::npos) << slurp(drains.log_path);

  t0 = std::chrono::steady_clock::now();
  runtime_->stop(ignores.id, 2s);
  took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 1900ms);
  EXPECT_LT(took, 4s) << "waited for the exit record of a killed shim";
  st = runtime_->state(ignores.id);
  EXPECT_EQ(st.phase, ContainerState::Phase::Exited);
  EXPECT_EQ(st.exit_code, 137);
}
