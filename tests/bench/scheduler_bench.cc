// Scheduler throughput benchmark (not a test), after kube-scheduler's scheduler_perf SchedulingBasic: N plain Node
// objects (Ready, 4 cpu, 32Gi, 110 pods, no kubelets) and M pending pods (100m, 500Mi) are created through the API,
// then kctl-scheduler is started and the pods it binds per second are sampled until every pod is bound. At the end
// every pod is checked to be bound and no node to hold more than it can. run-scheduler-bench starts the bus and the
// apiserver and calls it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "api/http_client.h"
#include "api/quantity.h"
#include "daemons/common/dbus_service.h"
#include "dbus/org.kctl.Scheduler1_proxy.h"

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kNamespace = "sched-bench";
constexpr int kCreators = 8;
constexpr auto kGiveUp = std::chrono::seconds(300);

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

json node_json(int i) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", "node-" + std::to_string(i)}, {"labels", {{"kubernetes.io/hostname", "node-" + std::to_string(i)}}}}},
          {"status",
           {{"capacity", {{"cpu", "4"}, {"memory", "32Gi"}, {"pods", "110"}}},
            {"allocatable", {{"cpu", "4"}, {"memory", "32Gi"}, {"pods", "110"}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

json pod_json(int i) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", "pod-" + std::to_string(i)}, {"namespace", kNamespace}}},
          {"spec",
           {{"containers",
             json::array({{{"name", "pause"},
                           {"image", "registry.k8s.io/pause:3.10"},
                           {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "500Mi"}}}}}}})}}}};
}

// POSTs count objects from kCreators threads; returns objects/s.
double create_all(const std::string& url, const std::string& path, int count, json (*make)(int)) {
  std::atomic<int> next{0}, failed{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kCreators; ++t)
    threads.emplace_back([&] {
      kctl::http::Client c(url);
      for (int i; (i = next++) < count;) {
        auto r = c.request("POST", path, make(i).dump(), {{"Content-Type", "application/json"}});
        if (r.status != 201 && r.status != 409) ++failed;
      }
    });
  for (auto& t : threads) t.join();
  if (failed) std::cerr << failed << " creates failed\n";
  return count / since(t0);
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  if (a.count("--bus-config")) {  // --bus-config SOCKET --policy FILE: the private bus's configuration
    std::cout << kctl::private_bus_config(a["--bus-config"], a["--policy"]);
    return 0;
  }
  std::string url = a["--url"], bus = a["--bus"], scheduler = a["--scheduler"], endpoint = a["--apiserver"];
  std::string log = a.count("--log") ? a["--log"] : "/dev/null";
  int nodes = a.count("--nodes") ? std::stoi(a["--nodes"]) : 5000;
  int pods = a.count("--pods") ? std::stoi(a["--pods"]) : 10000;
  if (url.empty() || bus.empty() || scheduler.empty() || endpoint.empty()) {
    std::cerr << "usage: kctl-scheduler-bench --url HTTP-URL --bus BUS-ADDRESS --scheduler BINARY --apiserver "
                 "ENDPOINT [--nodes N] [--pods M] [--log FILE]\n";
    return 2;
  }
  kctl::http::Client c(url);
  c.request("POST", "/api/v1/namespaces", json{{"metadata", {{"name", kNamespace}}}}.dump(),
            {{"Content-Type", "application/json"}});
  double node_rate = create_all(url, "/api/v1/nodes", nodes, node_json);
  double pod_rate = create_all(url, std::string("/api/v1/namespaces/") + kNamespace + "/pods", pods, pod_json);
  std::cout << std::fixed << std::setprecision(0) << "created " << nodes << " nodes (" << node_rate << "/s) and "
            << pods << " pending pods (" << pod_rate << "/s) over HTTP" << std::endl;

  auto t_start = Clock::now();
  pid_t pid = spawn({scheduler, "--apiserver=" + endpoint, "--dbus-address=" + bus, "--leader-elect=false"}, log);
  auto conn = sdbus::createSessionBusConnectionWithAddress(bus);
  struct Proxy : sdbus::ProxyInterfaces<org::kctl::Scheduler1_proxy> {
    Proxy(sdbus::IConnection& c) : ProxyInterfaces(c, "org.kctl.Scheduler1", "/org/kctl/Scheduler1") { registerProxy(); }
    ~Proxy() { unregisterProxy(); }
  };
  std::unique_ptr<Proxy> p;
  auto scheduled = [&]() -> int64_t {
    try {
      if (!p) p = std::make_unique<Proxy>(*conn);
      return int64_t(p->ScheduledTotal());
    } catch (const sdbus::Error&) {
      p.reset();
      return -1;
    }
  };
  // Sample every second from the first binding to the last.
  std::vector<double> per_second;
  Clock::time_point first{}, last_sample{};
  int64_t last = 0, done = 0;
  while (since(t_start) < std::chrono::duration<double>(kGiveUp).count()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    done = scheduled();
    if (done <= 0) continue;
    if (first == Clock::time_point{}) {
      first = last_sample = Clock::now();
      std::cout << std::setprecision(2) << "first binding " << since(t_start) << " s after start (informers listing "
                << nodes << " nodes and " << pods << " pods)" << std::endl;
      last = done;
    }
    if (since(last_sample) >= 1.0 || done >= pods) {
      double rate = double(done - last) / since(last_sample);
      if (done < pods) per_second.push_back(rate);  // a partial last second is not a sample
      last = done;
      last_sample = Clock::now();
    }
    if (done >= pods) break;
  }
  double elapsed = since(first);
  std::cout << std::setprecision(0) << "scheduled " << done << "/" << pods << " pods in " << std::setprecision(2)
            << elapsed << " s from the first binding: " << std::setprecision(0) << double(done) / elapsed
            << " pods/s sustained; per second: perc50 " << percentile(per_second, 0.5) << ", perc90 "
            << percentile(per_second, 0.9) << ", perc99 " << percentile(per_second, 0.99) << ", min "
            << percentile(per_second, 0) << " (" << per_second.size() << " samples)" << std::endl;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100 && waitpid(pid, nullptr, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (waitpid(pid, nullptr, WNOHANG) == 0) {
    std::cerr << "kctl-scheduler did not stop within 10 s of SIGTERM" << std::endl;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  // Every pod bound, no node over its allocatable.
  auto list = json::parse(c.request("GET", std::string("/api/v1/namespaces/") + kNamespace + "/pods").body);
  std::map<std::string, std::pair<int64_t, int64_t>> per_node;
  int bound = 0;
  for (const auto& pod : list["items"]) {
    std::string node = pod.value("/spec/nodeName"_json_pointer, std::string());
    if (node.empty()) continue;
    ++bound;
    per_node[node].first += 100;
    per_node[node].second += 1;
  }
  int64_t max_cpu = 0, max_pods = 0;
  for (const auto& [n, v] : per_node) {
    max_cpu = std::max(max_cpu, v.first);
    max_pods = std::max(max_pods, v.second);
  }
  bool ok = bound == pods && max_cpu <= 4000 && max_pods <= 110;
  std::cout << "check: " << bound << "/" << pods << " bound, on " << per_node.size() << " nodes, at most " << max_pods
            << " pods (" << max_cpu << "m cpu) on one node: " << (ok ? "ok" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
