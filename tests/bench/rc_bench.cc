// ReplicationController benchmark (not a test): how long kctl-controller-manager takes to create every pod of an
// RC of N replicas (and, when a scheduler runs, to have them all bound) with M fake nodes registered. run-rc-bench
// starts the daemons and calls it.
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>

#include "api/client.h"
#include "daemons/common/daemon.h"

using namespace kctl;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// A Node as a kubelet would register it, Ready and with room for the pods (no kubelet runs: nothing starts).
void register_nodes(const api::Client& client, int count) {
  auto nodes = client.resource("nodes");
  for (int i = 0; i < count; ++i) {
    std::string name = "fake-" + std::to_string(i);
    json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}}};
    json created = nodes.create(node);
    created["status"] = {
        {"capacity", {{"cpu", "32"}, {"memory", "128Gi"}, {"pods", "110"}}},
        {"allocatable", {{"cpu", "32"}, {"memory", "128Gi"}, {"pods", "110"}}},
        {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}})}};
    nodes.update_status(created);
  }
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int replicas = 1000, node_count = 100, timeout = 600;
  bool bound = false;
  kctl::Flags flags("kctl-rc-bench", "time for an RC's pods to be created (and bound) by the controllers");
  flags.add("url", &url, "the apiserver");
  flags.add("replicas", &replicas, "the RC's replicas");
  flags.add("nodes", &node_count, "fake nodes to register");
  flags.add("bound", &bound, "wait for every pod to be bound too (a scheduler runs)");
  flags.add("timeout", &timeout, "give up after this many seconds");
  flags.parse(argc, argv);
  auto client = api::Client::connect(url);
  register_nodes(client, node_count);

  auto pods = client.resource("pods", "default");
  api::ListOptions o;
  o.label_selector = "bench=rc";
  auto watch = pods.watch(o);
  json tmpl = {{"metadata", {{"labels", {{"bench", "rc"}}}}},
               {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "kctl/busybox"}}})}}}};
  json rc = {{"apiVersion", "v1"},
             {"kind", "ReplicationController"},
             {"metadata", {{"name", "bench"}, {"namespace", "default"}}},
             {"spec", {{"replicas", replicas}, {"selector", {{"bench", "rc"}}}, {"template", tmpl}}}};
  auto start = Clock::now();
  client.resource("replicationcontrollers", "default").create(rc);

  std::set<std::string> created, scheduled;
  double first = -1, half = -1, all_created = -1, all_bound = -1;
  api::WatchEvent ev;
  std::thread guard([&, deadline = start + std::chrono::seconds(timeout)] {
    while (Clock::now() < deadline && (all_created < 0 || (bound && all_bound < 0)))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    watch->stop();
  });
  while (watch->next(ev)) {
    if (ev.type != api::WatchEvent::Type::Added && ev.type != api::WatchEvent::Type::Modified) continue;
    std::string name = ev.object.value("/metadata/name"_json_pointer, std::string());
    if (created.insert(name).second) {
      if (created.size() == 1) first = seconds_since(start);
      if (created.size() == size_t(replicas) / 2) half = seconds_since(start);
      if (created.size() == size_t(replicas)) all_created = seconds_since(start);
    }
    if (!ev.object.value("/spec/nodeName"_json_pointer, std::string()).empty() && scheduled.insert(name).second &&
        scheduled.size() == size_t(replicas))
      all_bound = seconds_since(start);
    if (all_created >= 0 && (!bound || all_bound >= 0)) break;
  }
  watch->stop();
  guard.join();
  size_t listed = pods.list(o).items.size();
  std::printf("rc of %d replicas, %d fake nodes (%zu pods listed at the end)\n", replicas, node_count, listed);
  std::printf("  first pod created     %8.3f s\n", first);
  std::printf("  half the pods created %8.3f s\n", half);
  if (all_created >= 0)
    std::printf("  all pods created      %8.3f s  (%.0f pods/s)\n", all_created, replicas / all_created);
  else
    std::printf("  all pods created      not within %d s (%zu created)\n", timeout, created.size());
  if (bound) {
    if (all_bound >= 0)
      std::printf("  all pods bound        %8.3f s\n", all_bound);
    else
      std::printf("  all pods bound        not within %d s (%zu bound)\n", timeout, scheduled.size());
  }
  return all_created >= 0 && (!bound || all_bound >= 0) ? 0 : 1;
}
