// The control plane is stateless: during a scale-up of an RC to 300 pods over 3 plain Node objects (no kubelets),
// the controller manager, the scheduler and the apiserver are each killed (SIGKILL) and started again, and the
// cluster still ends with exactly 300 pods of the RC, every one bound, none over a node's capacity.
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json node(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}}},
          {"status",
           {{"allocatable", {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}}},
            {"capacity", {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}})}}}};
}

const char* kRc = R"({"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"mypod"},
  "spec":{"replicas":300,"selector":{"name":"mypod"},"template":{"metadata":{"labels":{"name":"mypod"}},
  "spec":{"containers":[{"name":"c","image":"kctl/busybox","resources":{"requests":{"cpu":"10m"}}}]}}}})";

}  // namespace

TEST(Convergence, KillingEachDaemonDuringAScaleUpStillEndsWithTheDesiredPods) {
  ApiServerProcess server;
  auto client = api::Client::connect(server.url());
  for (const char* n : {"n1", "n2", "n3"}) client.resource("nodes").create(node(n));
  std::string dir = make_temp_dir("convergence");
  // No kubelets renew these nodes' Leases: node lifecycle is left out, so they stay Ready.
  std::vector<std::string> cm_args = {std::string(KCTL_BIN_DIR) + "/kctl-controller-manager", "--apiserver=" + server.url(),
                                      "--leader-elect=false", "--dbus=none", "--controllers=*,-nodelifecycle"};
  std::vector<std::string> sched_args = {std::string(KCTL_BIN_DIR) + "/kctl-scheduler", "--apiserver=" + server.url(),
                                         "--leader-elect=false", "--dbus=none"};
  ChildProcess cm, scheduler;
  cm.start(cm_args, dir + "/cm.log");
  scheduler.start(sched_args, dir + "/scheduler.log");

  auto rc_pods = [&] {
    api::ListOptions o;
    o.label_selector = "name=mypod";
    std::vector<json> live;
    for (auto& p : client.resource("pods", "default").list(o).items)
      if (!p["metadata"].contains("deletionTimestamp")) live.push_back(std::move(p));
    return live;
  };
  auto some_but_not_all = [&] {
    size_t n = rc_pods().size();
    return n > 0 && n < 300;
  };
  client.resource("rc", "default").create(json::parse(kRc));

  // The controller manager is killed while it creates pods, then the scheduler while it binds them, then the
  // apiserver itself; each comes back, the two others carry on or reconnect.
  EXPECT_TRUE(eventually(some_but_not_all, 10s));
  cm.kill9();
  size_t at_kill = rc_pods().size();
  std::this_thread::sleep_for(300ms);
  cm.start(cm_args, dir + "/cm.log");
  scheduler.kill9();
  std::this_thread::sleep_for(300ms);
  scheduler.start(sched_args, dir + "/scheduler.log");
  server.kill9();
  std::this_thread::sleep_for(300ms);
  server.start();

  auto converged = [&] {
    try {
      auto pods = rc_pods();
      if (pods.size() != 300) return false;
      for (const auto& p : pods)
        if (p.value("/spec/nodeName"_json_pointer, std::string()).empty()) return false;
      return true;
    } catch (const std::exception&) {
      return false;
    }
  };
  ASSERT_TRUE(eventually(converged, 60s)) << rc_pods().size() << " pods (" << at_kill << " when the controller "
                                          << "manager was killed)\n--- cm:\n" << cm.log()
                                          << "\n--- scheduler:\n" << scheduler.log();
  // Stays converged: no late duplicate from a controller that lost track of what it had created.
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(converged()) << rc_pods().size();
  std::map<std::string, int> per_node;
  for (const auto& p : rc_pods()) per_node[p["spec"]["nodeName"].get<std::string>()]++;
  for (const auto& [n, count] : per_node) EXPECT_LE(count, 110) << n << ": a node holds 110 pods at most";
  json rc = client.resource("rc", "default").get("mypod");
  EXPECT_TRUE(eventually([&] {
    return client.resource("rc", "default").get("mypod").value("/status/replicas"_json_pointer, 0) == 300;
  }, 20s)) << rc["status"].dump();
}
