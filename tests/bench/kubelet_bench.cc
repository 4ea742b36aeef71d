// Kubelet benchmark (not a test): how long a pod takes from create to Running as a watch observes it, for one pod
// at a time and for a batch created at once on one node; the same container started by a bare systemd-nspawn for
// comparison; and the kubelet's RSS with the batch running. run-kubelet-bench starts the daemons and calls it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/client.h"
#include "daemons/common/daemon.h"

using namespace kctl;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kNamespace = "default";

json pod(const std::string& name, const std::string& node) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", kNamespace}, {"labels", {{"bench", "kubelet"}}}}},
          {"spec",
           {{"nodeName", node},
            {"terminationGracePeriodSeconds", 1},
            {"containers", json::array({{{"name", "c"}, {"image", "kctl/busybox"}, {"command", {"sleep", "3600"}}}})}}}};
}

bool running(const json& p) { return p.value("/status/phase"_json_pointer, std::string()) == "Running"; }

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::ceil(p / 100.0 * double(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

void report(const std::string& what, const std::vector<double>& v) {
  std::printf("%-44s n=%-3zu p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", what.c_str(), v.size(), percentile(v, 50),
              percentile(v, 99), percentile(v, 100));
}

// Creates the pods at once and returns each one's create-to-Running time, as a watch opened before sees it.
std::vector<double> start_pods(api::Client& client, const std::string& node, const std::vector<std::string>& names) {
  auto pods = client.resource("pods", kNamespace);
  std::string rv = pods.list().resource_version;
  api::ListOptions o;
  o.resource_version = rv;
  o.label_selector = "bench=kubelet";
  auto w = pods.watch(o);
  std::map<std::string, Clock::time_point> created;
  for (const auto& n : names) {
    created[n] = Clock::now();
    pods.create(pod(n, node));
  }
  std::vector<double> out;
  std::set<std::string> done;
  api::WatchEvent ev;
  while (done.size() < names.size() && w->next(ev)) {
    std::string n = ev.object.value("/metadata/name"_json_pointer, std::string());
    if (!created.count(n) || done.count(n) || !running(ev.object)) continue;
    out.push_back(ms(Clock::now() - created[n]));
    done.insert(n);
  }
  w->stop();
  return out;
}

void delete_all(api::Client& client) {
  auto pods = client.resource("pods", kNamespace);
  for (const auto& p : pods.list().items) pods.remove(p["metadata"]["name"]);
  while (!pods.list().items.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// The same container by hand: systemd-nspawn with the flags the kubelet uses, on an overlay of the image, until
// the payload's first output line.
std::vector<double> bare_nspawn(const std::string& rootfs, const std::string& scratch, int runs) {
  std::vector<double> out;
  for (int i = 0; i < runs; ++i) {
    std::string upper = scratch + "/upper", work = scratch + "/work", merged = scratch + "/merged";
    std::filesystem::remove_all(scratch);
    for (const auto& d : {upper, work, merged}) std::filesystem::create_directories(d);
    auto t0 = Clock::now();
    std::string opts = "lowerdir=" + rootfs + ",upperdir=" + upper + ",workdir=" + work;
    if (std::system(("mount -t overlay overlay -o " + opts + " " + merged).c_str()) != 0) return out;
    int pipefd[2];
    if (pipe(pipefd) != 0) return out;
    pid_t pid = fork();
    if (pid == 0) {
      dup2(pipefd[1], 1);
      close(pipefd[0]);
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, 2);  // nspawn's own chatter
      execlp("systemd-nspawn", "systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--as-pid2",
             "--kill-signal=SIGRTMIN+3", "--console=pipe", "-D", merged.c_str(), "--", "sh", "-c",
             "echo up; exec sleep 3600", nullptr);
      _exit(127);
    }
    close(pipefd[1]);
    char c;
    while (read(pipefd[0], &c, 1) == 1 && c != '\n') {
    }
    out.push_back(ms(Clock::now() - t0));
    close(pipefd[0]);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::system(("umount " + merged).c_str());
  }
  std::filesystem::remove_all(scratch);
  return out;
}

long rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, node, rootfs, scratch = "/tmp/kctl-kubelet-bench-nspawn";
  int runs = 20, batch = 50, kubelet_pid = 0;
  kctl::Flags flags("kctl-kubelet-bench", "create-to-Running of pods on one node, against bare systemd-nspawn");
  flags.add("url", &url, "the apiserver");
  flags.add("node", &node, "the node the pods are bound to");
  flags.add("runs", &runs, "single-pod runs");
  flags.add("batch", &batch, "pods created at once");
  flags.add("kubelet-pid", &kubelet_pid, "the kubelet, for its RSS");
  flags.add("rootfs", &rootfs, "the busybox root filesystem, for the bare nspawn runs");
  flags.parse(argc, argv);
  auto client = api::Client::connect(url);
  // The node must be Ready first.
  for (int i = 0; i < 300; ++i) {
    try {
      json n = client.resource("nodes").get(node);
      bool ready = false;
      for (const auto& c : n.value("/status/conditions"_json_pointer, json::array()))
        if (c["type"] == "Ready") ready = c["status"] == "True";
      if (ready) break;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  start_pods(client, node, {"warm-up"});  // the first start pays for cold caches
  delete_all(client);

  std::vector<double> single;
  for (int i = 0; i < runs; ++i) {
    auto t = start_pods(client, node, {"single-" + std::to_string(i)});
    single.insert(single.end(), t.begin(), t.end());
    delete_all(client);
  }
  report("1 pod, create to Running", single);

  std::vector<std::string> names;
  for (int i = 0; i < batch; ++i) names.push_back("batch-" + std::to_string(i));
  auto t0 = Clock::now();
  auto many = start_pods(client, node, names);
  double all = ms(Clock::now() - t0);
  report(std::to_string(batch) + " pods at once, each create to Running", many);
  std::printf("%-44s %.0f ms\n", (std::to_string(batch) + " pods at once, all Running").c_str(), all);
  if (kubelet_pid) std::printf("%-44s %.1f MB\n", ("kubelet RSS with " + std::to_string(batch) + " pods").c_str(),
                               double(rss_kb(kubelet_pid)) / 1024.0);
  delete_all(client);
  if (!rootfs.empty()) {
    auto bare = bare_nspawn(rootfs, scratch, std::min(runs, 10));
    report("bare systemd-nspawn to first output", bare);
    if (!bare.empty())
      std::printf("%-44s %.2f\n", "ratio p50 (pod / bare nspawn)", percentile(single, 50) / percentile(bare, 50));
  }
  return 0;
}
