// The kubelet's handling of a pod's life, with a real apiserver, kubelet and nspawn containers in a node namespace
// of the test's own: graceful termination (a container that exits on SIGTERM goes at once, one that ignores it is
// killed when the grace period ends), cpu and memory limits in the container's cgroup and the OOM killer at the
// memory limit, container log rotation, and a node left clean once every pod is deleted.
#include <dirent.h>

#include <set>

#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class KubeletLifecycleTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }

  // Deletes the pod (with the given grace period, or its own) and returns how long until it is gone from the API,
  // which is when the kubelet has stopped its containers and confirmed.
  std::chrono::milliseconds time_deletion(const std::string& name, std::optional<int> grace = std::nullopt) {
    json opts = grace ? json{{"gracePeriodSeconds", *grace}} : json(nullptr);
    auto t0 = std::chrono::steady_clock::now();
    pods().remove(name, opts);
    EXPECT_TRUE(wait_for([&] { return gone(name); }, 60s)) << kubelet_->log();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  }
  std::string uid(const std::string& name) { return pods().get(name)["metadata"]["uid"]; }

  // The cgroup directory of a container in one hierarchy (v1 controller name, or "" on a unified host).
  static std::string cgroup_dir(const std::string& controller, const std::string& pod_uid, const std::string& id) {
    bool unified = slurp("/sys/fs/cgroup/cgroup.controllers").find("memory") != std::string::npos;
    return "/sys/fs/cgroup/" + (unified ? std::string() : controller + "/") + "kctl/pod-" + pod_uid + "/" + id;
  }
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
};

// A pod whose one container runs `script` in sh.
std::string shell_pod(const std::string& name, const std::string& script, const std::string& extra_spec = "",
                      const std::string& extra_container = "") {
  json pod = json::parse(R"({"metadata":{},"spec":{"nodeName":"node-1",
    "containers":[{"name":"c","image":"kctl/busybox","command":["sh","-c"]}]}})");
  pod["metadata"]["name"] = name;
  pod["spec"]["containers"][0]["command"].push_back(script);
  if (!extra_spec.empty()) pod["spec"].update(json::parse(extra_spec));
  if (!extra_container.empty()) pod["spec"]["containers"][0].update(json::parse(extra_container));
  return pod.dump();
}

// Running for the kubelet means its container process is started; a shell's trap is only set a moment later.
const char* kTrapsTerm = "trap 'echo got-term; exit 0' TERM; echo trap-set; while true; do sleep 0.2; done";
const char* kIgnoresTerm = "trap '' TERM; echo trap-set; while true; do sleep 0.2; done";

}  // namespace

TEST_F(KubeletLifecycleTest, AContainerThatExitsOnSigtermStopsAtOnce) {
  start_node();
  create_pod(shell_pod("polite", kTrapsTerm, R"({"terminationGracePeriodSeconds": 30})"));
  ASSERT_TRUE(wait_phase("polite", "Running")) << kubelet_->log();
  std::string log_path = root_ + "/pods/" + uid("polite") + "/logs/c/0.log";
  ASSERT_TRUE(wait_for([&] { return slurp(log_path).find("trap-set") != std::string::npos; }, 10s));
  auto took = time_deletion("polite");
  std::cout << "deleting a pod whose container exits on SIGTERM (grace 30 s): " << took.count() << " ms\n";
  EXPECT_LT(took, 5s) << "it waited for the grace period instead of the container";
}

TEST_F(KubeletLifecycleTest, AContainerIgnoringSigtermIsKilledWhenTheGracePeriodEnds) {
  start_node();
  // The pod's own terminationGracePeriodSeconds.
  create_pod(shell_pod("stubborn", kIgnoresTerm, R"({"terminationGracePeriodSeconds": 3})"));
  // The delete's gracePeriodSeconds overrides the pod's.
  create_pod(shell_pod("overridden", kIgnoresTerm, R"({"terminationGracePeriodSeconds": 600})"));
  for (const char* name : {"stubborn", "overridden"}) {
    ASSERT_TRUE(wait_phase(name, "Running")) << kubelet_->log();
    std::string log_path = root_ + "/pods/" + uid(name) + "/logs/c/0.log";
    ASSERT_TRUE(wait_for([&] { return slurp(log_path).find("trap-set") != std::string::npos; }, 10s));
  }
  auto took = time_deletion("stubborn");
  std::cout << "deleting a pod ignoring SIGTERM (terminationGracePeriodSeconds 3): " << took.count() << " ms\n";
  EXPECT_GE(took, 2500ms) << "killed before its grace period ended";
  EXPECT_LT(took, 10s) << "not killed when its grace period ended";
  took = time_deletion("overridden", 2);
  std::cout << "deleting a pod ignoring SIGTERM (gracePeriodSeconds 2 on delete): " << took.count() << " ms\n";
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 9s);
}

TEST_F(KubeletLifecycleTest, CpuAndMemoryLimitsAreInTheContainersCgroup) {
  start_node();
  create_pod(shell_pod("limited", "exec sleep 4242", "",
                       R"({"resources":{"limits":{"cpu":"250m","memory":"64Mi"},"requests":{"cpu":"100m","memory":"32Mi"}}})"));
  ASSERT_TRUE(wait_phase("limited", "Running")) << kubelet_->log();
  std::string u = uid("limited"), id = u + "_c_0";
  bool unified = slurp("/sys/fs/cgroup/cgroup.controllers").find("memory") != std::string::npos;
  if (unified) {
    EXPECT_EQ(trim(slurp(cgroup_dir("memory", u, id) + "/memory.max")), "67108864");
    EXPECT_EQ(trim(slurp(cgroup_dir("cpu", u, id) + "/cpu.max")), "25000 100000");
  } else {
    EXPECT_EQ(trim(slurp(cgroup_dir("memory", u, id) + "/memory.limit_in_bytes")), "67108864");
    EXPECT_EQ(trim(slurp(cgroup_dir("cpu", u, id) + "/cpu.cfs_quota_us")), "25000");
    EXPECT_EQ(trim(slurp(cgroup_dir("cpu", u, id) + "/cpu.cfs_period_us")), "100000");
  }
  // The container's process is under those limits: the sleep is in that cgroup (or in the child nspawn makes for
  // its payload).
  // (busybox's sh runs its applets in-process: the command line stays sh's.)
  std::string sleep_pid;
  for (const auto& e : fs::directory_iterator("/proc"))
    if (slurp(e.path() / "cmdline").find("exec sleep 4242") != std::string::npos) sleep_pid = e.path().filename();
  ASSERT_FALSE(sleep_pid.empty());
  std::string cgroups = slurp("/proc/" + sleep_pid + "/cgroup");
  EXPECT_NE(cgroups.find("kctl/pod-" + u + "/" + id), std::string::npos) << cgroups;
}

TEST_F(KubeletLifecycleTest, AContainerAllocatingPastItsMemoryLimitIsOomKilled) {
  start_node();
  // dd's 256 MiB block buffer is filled from /dev/zero: all of it is touched, far past the 64 MiB limit.
  create_pod(shell_pod("hungry", "exec dd if=/dev/zero of=/dev/null bs=256M count=1", R"({"restartPolicy":"Never"})",
                       R"({"resources":{"limits":{"memory":"64Mi"}}})"));
  ASSERT_TRUE(wait_phase("hungry", "Failed")) << pod_status("hungry").dump(2) << kubelet_->log();
  json term = pod_status("hungry")["containerStatuses"][0]["state"]["terminated"];
  EXPECT_EQ(term["reason"], "OOMKilled") << term;
  EXPECT_EQ(term["exitCode"], 137) << term;
}

// --container-log-max-size and --container-log-max-files: a container writing 250 KB of log through 4 KiB files
// never has more than 3 files, none past 4 KiB; logs read the current file, and a follower streams to the end.
TEST_F(KubeletLifecycleTest, ContainerLogsAreRotated) {
  start_node({"--container-log-max-size=4Ki", "--container-log-max-files=3"});
  create_pod(shell_pod("chatty",
                       "i=0; while [ $i -lt 3000 ]; do echo \"line-$i padding-padding-padding-padding\"; i=$((i+1)); "
                       "[ $((i % 50)) -eq 0 ] && sleep 0.05; done; sleep 2",
                       R"({"restartPolicy":"Never"})"));
  ASSERT_TRUE(wait_phase("chatty", "Running")) << kubelet_->log();
  std::string dir = root_ + "/pods/" + uid("chatty") + "/logs/c";
  Kubectl kubectl(server_->url());
  CmdResult followed;
  std::thread follower([&] { followed = kubectl({"logs", "-f", "chatty"}, "", 120); });
  size_t most_files = 0, samples = 0;
  uintmax_t largest = 0;
  auto finished = [&] { return slurp(dir + "/0.log").find("line-2999 ") != std::string::npos; };
  while (!finished() && samples < 20000) {
    std::error_code ec;
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      ++files;
      // Once: a file rotated away between two calls would make the second fail (uintmax_t(-1)).
      uintmax_t size = e.file_size(ec);
      if (!ec) largest = std::max(largest, size);
    }
    most_files = std::max(most_files, files);
    ++samples;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(finished()) << kubelet_->log();
  std::cout << samples << " samples while the container wrote: at most " << most_files << " log files, the largest "
            << largest << " bytes\n";
  EXPECT_LE(most_files, 3u);
  EXPECT_LE(largest, 4096u);
  EXPECT_EQ(most_files, 3u) << "it never rotated";

  // Logs are the current file's lines, from its first record to the last line written.
  auto logs = server_->client().request("GET", "/api/v1/namespaces/default/pods/chatty/log");
  ASSERT_EQ(logs.status, 200) << logs.body;
  std::string first_record;
  std::ifstream current(dir + "/0.log");
  std::getline(current, first_record);
  std::string first_line = first_record.substr(first_record.find(" F ") + 3);
  EXPECT_EQ(logs.body.substr(0, logs.body.find('\n')), first_line);
  EXPECT_NE(logs.body.find("line-2999 padding"), std::string::npos);
  EXPECT_EQ(logs.body.find("line-0 "), std::string::npos) << "the first lines were rotated away long ago";

  // The follower went on from file to file while they were rotated, in order, to the end.
  follower.join();
  EXPECT_EQ(followed.rc, 0) << followed.err;
  std::istringstream lines(followed.out);
  int last = -1, count = 0;
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("line-", 0) != 0) continue;  // nspawn's own messages
    int n = std::atoi(l.c_str() + 5);
    EXPECT_GT(n, last) << "out of order or repeated: " << l;
    last = n;
    ++count;
  }
  EXPECT_EQ(last, 2999);
  std::cout << "kubectl logs -f streamed " << count << " of 3000 lines across the rotations\n";
}

// After every pod is deleted, nothing of them is left on the node: no network namespace, veth, mount, cgroup,
// process, or state file.
TEST_F(KubeletLifecycleTest, TheNodeIsCleanOnceEveryPodIsDeleted) {
  start_node();
  create_pod(R"({"metadata":{"name":"web"},"spec":{"nodeName":"node-1",
    "volumes":[{"name":"html","emptyDir":{}}],
    "containers":[
      {"name":"httpd","image":"kctl/busybox","command":["httpd","-f","-p","80","-h","/www"],
       "volumeMounts":[{"name":"html","mountPath":"/www"}]},
      {"name":"writer","image":"kctl/busybox","command":["sh","-c","while true; do date > /html/index.html; sleep 1; done"],
       "volumeMounts":[{"name":"html","mountPath":"/html"}]}]}})");
  create_pod(shell_pod("crashing", "echo bye; exit 3", R"({"restartPolicy":"Always"})"));
  create_pod(shell_pod("done", "echo finished", R"({"restartPolicy":"Never"})"));
  create_pod(shell_pod("stubborn", kIgnoresTerm, R"({"terminationGracePeriodSeconds": 2})",
                       R"({"resources":{"limits":{"cpu":"100m","memory":"32Mi"}}})"));
  ASSERT_TRUE(wait_phase("web", "Running")) << kubelet_->log();
  ASSERT_TRUE(wait_phase("stubborn", "Running")) << kubelet_->log();
  ASSERT_TRUE(wait_phase("done", "Succeeded")) << kubelet_->log();
  ASSERT_TRUE(wait_for([&] { return pod_status("crashing")["containerStatuses"][0]["restartCount"] >= 1; }, 40s))
      << pod_status("crashing").dump(2);
  std::set<std::string> uids;
  for (const auto& p : pods().list().items) uids.insert(p["metadata"]["uid"].get<std::string>());
  ASSERT_EQ(uids.size(), 4u);

  for (const auto& p : pods().list().items) pods().remove(p["metadata"]["name"]);
  ASSERT_TRUE(wait_for([&] { return pods().list().items.empty(); }, 60s)) << kubelet_->log();
  // Succeeded pods leave the API at once, before the kubelet has cleaned up after them.
  ASSERT_TRUE(wait_for([&] { return fs::is_empty(root_ + "/pods"); }, 30s)) << kubelet_->log();

  for (const auto& u : uids) {
    SCOPED_TRACE("pod " + u);
    EXPECT_FALSE(fs::exists("/run/netns/kctl-" + u));
    for (const char* h : {"memory", "cpu", "pids", "systemd", "unified", ""})
      EXPECT_FALSE(fs::exists(std::string("/sys/fs/cgroup/") + h + (*h ? "/" : "") + "kctl/pod-" + u));
  }
  // In the node's namespace (the test's own): the bridge is left, with no port; no veth at all.
  EXPECT_EQ(run({"ip", "-o", "link", "show", "type", "veth"}).out, "");
  EXPECT_EQ(run({"ip", "-o", "link", "show", "master", "kctl0"}).out, "");
  // No mount below the kubelet's root (container overlays, emptyDirs).
  std::string mounts = slurp("/proc/self/mountinfo");
  EXPECT_EQ(mounts.find(root_), std::string::npos) << mounts;
  // No process of a pod: shims and nspawn run with the kubelet's root in their command lines.
  std::vector<std::string> leftovers;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = slurp(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(root_ + "/") != std::string::npos && cmdline.find("kctl-kubelet") != 0 &&
        cmdline.find("/kctl-kubelet ") == std::string::npos)
      leftovers.push_back(pid + ": " + cmdline);
  }
  EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
  // No state: containers, addresses.
  EXPECT_TRUE(fs::is_empty(root_ + "/runtime/containers"));
  EXPECT_TRUE(fs::is_empty(root_ + "/network/ipam"));
}
