// The kubelet where systemd is PID 1 (the machine's own OS booted in a systemd-nspawn container, sharing the test's
// network namespace): each container is a transient kctl-pod-* service with its limits as unit properties, shows in
// `machinectl list`, writes its output to the journal, survives a kubelet restart, stops through its shim when its
// unit is stopped by hand, and leaves no unit or machine behind when its pod is deleted.
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "daemons/common/process.h"
#include "daemons/kubelet/image_store.h"
#include "harness.h"
#include "node_harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

class KubeletSystemdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
    run_process({"ip", "link", "set", "lo", "up"});
    // /proc/sys is read-only in the booted container: what the kubelet would switch on is on already.
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1\n";
    ensure_system_bus();  // the host's nspawn wants one
  }
  void SetUp() override {
    if (!std::filesystem::exists("/usr/lib/systemd/systemd")) GTEST_SKIP() << "systemd is not installed";
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    root_ = make_temp_dir("kubelet-systemd");
    kubelet::ImageStore(root_ + "/images").import("kctl/busybox:latest", busybox_rootfs(root_ + "/busybox-src"));
    node_ = std::make_unique<BootedSystemd>(std::vector<std::string>{root_, KCTL_BIN_DIR});
    ASSERT_TRUE(node_->booted()) << node_->console();
    start_kubelet();
  }
  void TearDown() override {
    if (!client_) return;
    auto pods = client_->resource("pods", "default");
    for (const auto& p : pods.list().items) pods.remove(p["metadata"]["name"]);
    eventually([&] { return pods.list().items.empty(); }, 30s);
    node_.reset();
    std::filesystem::remove_all(root_);
  }
  // The kubelet as a transient service of the booted systemd, as its unit file runs it on a real node.
  void start_kubelet() {
    auto r = node_->run({"systemd-run", "--unit=kctl-kubelet", "-p", "Delegate=yes", "-p", "KillMode=process",
                         std::string(KCTL_BIN_DIR) + "/kctl-kubelet", "--apiserver=" + server_->url(),
                         "--hostname-override=node-sd", "--node-ip=127.0.0.1", "--pod-cidr=10.244.6.0/24",
                         "--root-dir=" + root_, "--dbus=none", "--container-launcher=systemd"});
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_TRUE(eventually([&] {
      try {
        json node = client_->resource("nodes").get("node-sd");
        for (const auto& c : node["status"]["conditions"])
          if (c["type"] == "Ready") return c["status"] == "True";
      } catch (const std::exception&) {
      }
      return false;
    }, 30s)) << journal("kctl-kubelet") << client_->resource("nodes").get("node-sd")["status"]["conditions"].dump();
  }
  std::string journal(const std::string& unit) { return node_->run({"journalctl", "--no-pager", "-u", unit}).out; }
  // systemctl list-units 'kctl-pod-*', one space between columns.
  std::string units() {
    std::string out, listed = node_->run({"systemctl", "list-units", "--all", "--no-legend", "--plain", "kctl-pod-*"}).out;
    for (char c : listed)
      if (c != ' ' || out.empty() || out.back() != ' ') out.push_back(c);
    return out;
  }
  json pod(const std::string& name) { return client_->resource("pods", "default").get(name); }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::unique_ptr<BootedSystemd> node_;
  std::string root_;
};

const char* kWebPod = R"({
  "metadata": {"name": "web"},
  "spec": {
    "nodeName": "node-sd",
    "volumes": [{"name": "html", "emptyDir": {}}],
    "containers": [
      {"name": "httpd", "image": "kctl/busybox", "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
       "volumeMounts": [{"name": "html", "mountPath": "/www"}],
       "resources": {"limits": {"cpu": "200m", "memory": "64Mi"}}},
      {"name": "writer", "image": "kctl/busybox",
       "command": ["sh", "-c", "while true; do echo page-from-web > /html/index.html; wget -q -O - http://localhost:80/; sleep 1; done"],
       "volumeMounts": [{"name": "html", "mountPath": "/html"}]}
    ]}})";

}  // namespace

TEST_F(KubeletSystemdTest, ContainersAreTransientUnitsMachinesAndJournalStreams) {
  client_->resource("pods", "default").create(json::parse(kWebPod));
  ASSERT_TRUE(eventually([&] { return pod("web")["status"].value("phase", "") == "Running"; }, 60s))
      << pod("web")["status"].dump(2) << journal("kctl-kubelet");

  // systemctl list-units 'kctl-pod-*', their limits as unit properties, machinectl list.
  const std::string httpd = "kctl-pod-default_web_httpd_0.service", writer = "kctl-pod-default_web_writer_0.service";
  std::string listed = units();
  EXPECT_TRUE(contains(listed, httpd + " loaded active running kctl pod default/web container httpd")) << listed;
  EXPECT_TRUE(contains(listed, writer + " loaded active running")) << listed;
  auto props = node_->run({"systemctl", "show", "-p", "MemoryMax,CPUQuotaPerSecUSec,Slice,Delegate", httpd}).out;
  EXPECT_TRUE(contains(props, "MemoryMax=67108864\n")) << props;
  EXPECT_TRUE(contains(props, "CPUQuotaPerSecUSec=200ms\n")) << props;
  EXPECT_TRUE(contains(props, "Slice=kctl-pods.slice\n")) << props;
  std::string machines = node_->run({"machinectl", "list", "--no-legend", "--no-pager"}).out;
  EXPECT_TRUE(contains(machines, "web-httpd-")) << machines;
  EXPECT_TRUE(contains(machines, "web-writer-")) << machines;

  // The container's output is in the journal under its unit, and in the log kubectl logs reads.
  ASSERT_TRUE(eventually([&] { return contains(journal(writer), "page-from-web"); }, 10s)) << journal(writer);
  auto logs = run({std::string(KCTL_BIN_DIR) + "/kctl", "-s", server_->url(), "logs", "web", "-c", "writer"});
  EXPECT_TRUE(contains(logs.out, "page-from-web\n")) << logs.out << logs.err;

  // A kubelet restart leaves the units running, and the new kubelet adopts them (no new attempt).
  ASSERT_EQ(node_->run({"systemctl", "stop", "kctl-kubelet"}).rc, 0);
  EXPECT_EQ(node_->run({"systemctl", "is-active", httpd}).out, "active\n");
  start_kubelet();
  std::this_thread::sleep_for(2s);
  listed = units();
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 2) << listed;
  EXPECT_EQ(pod("web")["status"]["phase"], "Running");

  // Stopping a unit by hand stops its container through the shim, which records the exit the kubelet reports.
  ASSERT_EQ(node_->run({"systemctl", "stop", writer}).rc, 0);
  ASSERT_TRUE(eventually([&] {
    json status = pod("web")["status"];
    for (const auto& c : status.value("containerStatuses", json::array()))
      if (c["name"] == "writer") return c.contains("lastState") && c["lastState"].contains("terminated");
    return false;
  }, 30s)) << pod("web")["status"].dump(2);

  // Deleting the pod leaves no unit and no machine.
  client_->resource("pods", "default").remove("web");
  ASSERT_TRUE(eventually([&] {
    try {
      pod("web");
      return false;
    } catch (const api::StatusError& e) {
      return e.status().code == 404;
    }
  }, 60s));
  EXPECT_EQ(units(), "");
  EXPECT_EQ(node_->run({"machinectl", "list", "--no-legend", "--no-pager"}).out, "");
}
