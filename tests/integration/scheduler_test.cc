// kctl-scheduler against a real apiserver with plain Node objects (no kubelets): each filter, the effect of each
// score, the PodScheduled=False condition and FailedScheduling Event as kubectl describe shows them, retries when
// the cluster changes, leader election between two schedulers, a kill and restart mid-way, and
// org.kctl.Scheduler1 through busctl on a private bus.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A kctl-scheduler child process; its log in a temporary directory.
class SchedulerProcess {
 public:
  explicit SchedulerProcess(std::vector<std::string> args, std::vector<std::string> env = {})
      : args_(std::move(args)), env_(std::move(env)), dir_(make_temp_dir("scheduler")) {
    start();
  }
  ~SchedulerProcess() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void start() {
    std::vector<std::string> argv = {std::string(KCTL_BIN_DIR) + "/kctl-scheduler"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open((dir_ + "/scheduler.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      for (const auto& e : env_) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
  }
  // SIGTERM; the exit status (or -1).
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void kill9() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return false;
    }
    return true;
  }
  std::string log() const {
    std::ifstream in(dir_ + "/scheduler.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  int pid() const { return pid_; }

 private:
  std::vector<std::string> args_, env_;
  std::string dir_;
  int pid_ = 0;
};

json node(const std::string& name, const std::string& cpu = "4", const std::string& memory = "8Gi",
          const std::string& pods = "110", const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"status",
           {{"allocatable", {{"cpu", cpu}, {"memory", memory}, {"pods", pods}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

json pod(const std::string& name, const std::string& cpu = "", const std::string& memory = "") {
  json c = {{"name", "c"}, {"image", "busybox"}};
  if (!cpu.empty()) c["resources"]["requests"]["cpu"] = cpu;
  if (!memory.empty()) c["resources"]["requests"]["memory"] = memory;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"containers", json::array({c})}}}};
}

constexpr const char* kSchedulerName = "org.kctl.Scheduler1";
constexpr const char* kSchedulerPath = "/org/kctl/Scheduler1";

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>(server_args());
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
  }
  virtual std::vector<std::string> server_args() { return {}; }

  std::unique_ptr<SchedulerProcess> start_scheduler(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--apiserver=" + server_->url(), "--dbus=none", "--leader-elect=false"};
    for (auto& e : extra) {
      std::string flag = e.substr(0, e.find('='));
      std::erase_if(args, [&](const std::string& a) { return a.rfind(flag + "=", 0) == 0; });
      args.push_back(e);
    }
    return std::make_unique<SchedulerProcess>(args);
  }

  api::ResourceClient pods() { return client_->resource("pods", "default"); }
  api::ResourceClient nodes() { return client_->resource("nodes"); }
  void create_nodes(const std::vector<json>& list) {
    for (const auto& n : list) nodes().create(n);
  }
  std::string node_of(const std::string& name) {
    try {
      return pods().get(name).value("/spec/nodeName"_json_pointer, std::string());
    } catch (const api::StatusError&) {
      return "";
    }
  }
  // The node the pod is bound to, once it is (within the timeout), or "".
  std::string bound_node(const std::string& name, std::chrono::milliseconds timeout = 10s) {
    std::string n;
    eventually([&] { return !(n = node_of(name)).empty(); }, timeout);
    return n;
  }
  json scheduled_condition(const std::string& name) {
    json p = pods().get(name);
    for (const auto& c : p.value("/status/conditions"_json_pointer, json::array()))
      if (c.value("type", "") == "PodScheduled") return c;
    return json();
  }
  // The PodScheduled=False message, once the scheduler has written one.
  std::string unschedulable_message(const std::string& name, std::chrono::milliseconds timeout = 10s) {
    std::string msg;
    eventually(
        [&] {
          json c = scheduled_condition(name);
          if (!c.is_object() || c.value("status", "") != "False" || c.value("reason", "") != "Unschedulable") return false;
          msg = c.value("message", "");
          return true;
        },
        timeout);
    return msg;
  }
  std::vector<json> events_of(const std::string& pod_name) {
    api::ListOptions o;
    o.field_selector = "involvedObject.name=" + pod_name;
    return client_->resource("events", "default").list(o).items;
  }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
};

// --- filters ------------------------------------------------------------------------------------------------------

TEST_F(SchedulerTest, ResourceRequestsGoWhereThereIsRoomOrAreUnschedulable) {
  create_nodes({node("small", "1", "1Gi"), node("medium", "2", "4Gi"), node("full", "8", "16Gi", "1")});
  // "full" takes one pod and already has it (bound directly, as a static pod would be).
  json static_pod = pod("static");
  static_pod["spec"]["nodeName"] = "full";
  pods().create(static_pod);
  auto sched = start_scheduler();

  pods().create(pod("cpu", "1500m"));
  EXPECT_EQ(bound_node("cpu"), "medium") << sched->log();
  pods().create(pod("mem", "", "2Gi"));
  EXPECT_EQ(bound_node("mem"), "medium") << sched->log();

  pods().create(pod("huge", "3", "12Gi"));
  EXPECT_EQ(unschedulable_message("huge"),
            "0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu, 2 Insufficient memory. preemption: 0/3 "
            "nodes are available: 3 No preemption victims found for incoming pod.")
      << sched->log();
  EXPECT_EQ(node_of("huge"), "");
}

TEST_F(SchedulerTest, PodsBeingBoundCountBeforeTheInformerShowsThem) {
  create_nodes({node("only", "3", "8Gi")});
  for (int i = 0; i < 5; ++i) pods().create(pod("p" + std::to_string(i), "1"));
  auto sched = start_scheduler();
  int bound = 0;
  ASSERT_TRUE(eventually(
      [&] {
        bound = 0;
        for (int i = 0; i < 5; ++i) bound += !node_of("p" + std::to_string(i)).empty();
        return bound == 3;
      },
      10s))
      << sched->log();
  std::this_thread::sleep_for(1s);
  bound = 0;
  std::string pending;
  for (int i = 0; i < 5; ++i) {
    std::string name = "p" + std::to_string(i);
    if (node_of(name).empty()) pending = name;
    else ++bound;
  }
  EXPECT_EQ(bound, 3);
  EXPECT_EQ(unschedulable_message(pending),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption "
            "victims found for incoming pod.");
}

TEST_F(SchedulerTest, NodeSelectorAndEveryNodeAffinityOperator) {
  create_nodes({node("node-a", "4", "8Gi", "110", {{"zone", "a"}, {"gpu", "true"}, {"cores", "4"}}),
                node("node-b", "4", "8Gi", "110", {{"zone", "b"}, {"cores", "8"}}),
                node("node-c", "4", "8Gi", "110", {{"zone", "c"}, {"cores", "16"}})});
  auto sched = start_scheduler();
  auto with_affinity = [&](const std::string& name, const json& term) {
    json p = pod(name);
    p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] =
        json::array({term});
    pods().create(p);
  };
  auto expr = [](const std::string& key, const std::string& op, const json& values = json::array()) {
    json e = {{"key", key}, {"operator", op}};
    if (!values.empty()) e["values"] = values;
    return e;
  };
  json sel = pod("selector");
  sel["spec"]["nodeSelector"] = {{"zone", "c"}};
  pods().create(sel);
  with_affinity("in", {{"matchExpressions", {expr("zone", "In", {"b"})}}});
  with_affinity("notin", {{"matchExpressions", {expr("zone", "NotIn", {"a", "b"})}}});
  with_affinity("exists", {{"matchExpressions", {expr("gpu", "Exists")}}});
  with_affinity("doesnotexist", {{"matchExpressions", {expr("gpu", "DoesNotExist"), expr("zone", "In", {"a", "b"})}}});
  with_affinity("gt", {{"matchExpressions", {expr("cores", "Gt", {"10"})}}});
  with_affinity("lt", {{"matchExpressions", {expr("cores", "Lt", {"5"})}}});
  with_affinity("fields", {{"matchFields", {expr("metadata.name", "In", {"node-b"})}}});
  std::map<std::string, std::string> want = {{"selector", "node-c"}, {"in", "node-b"},  {"notin", "node-c"},
                                             {"exists", "node-a"},   {"doesnotexist", "node-b"},
                                             {"gt", "node-c"},       {"lt", "node-a"},  {"fields", "node-b"}};
  for (const auto& [name, n] : want) EXPECT_EQ(bound_node(name), n) << name << "\n" << sched->log();

  json nowhere = pod("nowhere");
  nowhere["spec"]["nodeSelector"] = {{"zone", "x"}};
  pods().create(nowhere);
  EXPECT_EQ(unschedulable_message("nowhere"),
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
            "available: 3 Preemption is not helpful for scheduling.");
  // A DaemonSet-style pod pinned by name to a node that is not there.
  with_affinity("pinned", {{"matchFields", {expr("metadata.name", "In", {"node-z"})}}});
  EXPECT_EQ(unschedulable_message("pinned"),
            "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are "
            "available: 3 Preemption is not helpful for scheduling.");
}

TEST_F(SchedulerTest, TaintsTolerationsUnschedulableAndNotReadyNodes) {
  json tainted = node("tainted");
  tainted["spec"]["taints"] = json::array({{{"key", "dedicated"}, {"value", "infra"}, {"effect", "NoSchedule"}}});
  json cordoned = node("cordoned");
  cordoned["spec"]["unschedulable"] = true;
  json notready = node("notready");
  notready["status"]["conditions"][0]["status"] = "False";
  create_nodes({tainted, cordoned, notready});
  auto sched = start_scheduler();

  pods().create(pod("plain"));
  EXPECT_EQ(unschedulable_message("plain"),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 1 node(s) had untolerated "
            "taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable. preemption: 0/3 nodes are "
            "available: 3 Preemption is not helpful for scheduling.")
      << sched->log();

  auto tolerating = [&](const std::string& name, const json& tolerations) {
    json p = pod(name);
    p["spec"]["tolerations"] = tolerations;
    pods().create(p);
  };
  tolerating("equal", {{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "infra"}, {"effect", "NoSchedule"}}});
  tolerating("exists", {{{"key", "dedicated"}, {"operator", "Exists"}}});
  tolerating("wrong-value", {{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "web"}}});
  tolerating("not-ready", {{{"key", "node.kubernetes.io/not-ready"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
  tolerating("cordon", {{{"key", "node.kubernetes.io/unschedulable"}, {"operator", "Exists"}}});
  EXPECT_EQ(bound_node("equal"), "tainted");
  EXPECT_EQ(bound_node("exists"), "tainted");
  EXPECT_EQ(bound_node("not-ready"), "notready");
  EXPECT_EQ(bound_node("cordon"), "cordoned");
  EXPECT_NE(unschedulable_message("wrong-value"), "");
  EXPECT_EQ(node_of("wrong-value"), "");

  // An empty key with Exists tolerates every taint: any node will do.
  tolerating("everything", {{{"operator", "Exists"}}});
  EXPECT_NE(bound_node("everything"), "");

  // A NoExecute taint keeps pods away too; the node turning Ready brings the waiting pod there.
  json ready = nodes().get("notready");
  ready["spec"]["taints"] = json::array({{{"key", "maintenance"}, {"effect", "NoExecute"}}});
  ready = nodes().update(ready);
  ready["status"]["conditions"][0]["status"] = "True";
  nodes().update_status(ready);
  tolerating("maint", {{{"key", "maintenance"}, {"operator", "Exists"}, {"effect", "NoExecute"}}});
  EXPECT_EQ(bound_node("maint"), "notready");
}

TEST_F(SchedulerTest, HostPortsConflict) {
  create_nodes({node("n1"), node("n2")});
  auto sched = start_scheduler();
  auto with_port = [&](const std::string& name, int port) {
    json p = pod(name);
    p["spec"]["containers"][0]["ports"] = json::array({{{"containerPort", 80}, {"hostPort", port}}});
    pods().create(p);
  };
  with_port("a", 8080);
  std::string first = bound_node("a");
  with_port("b", 8080);
  std::string second = bound_node("b");
  EXPECT_FALSE(first.empty());
  EXPECT_FALSE(second.empty());
  EXPECT_NE(first, second);
  with_port("c", 8080);
  EXPECT_EQ(unschedulable_message("c"),
            "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. preemption: 0/2 "
            "nodes are available: 2 No preemption victims found for incoming pod.");
  with_port("d", 9090);  // another port still fits
  EXPECT_NE(bound_node("d"), "");

  // The port is free again when its pod goes away: the waiting pod is retried without waiting for a timer.
  pods().remove("a", {{"gracePeriodSeconds", 0}});
  EXPECT_EQ(bound_node("c", 10s), first) << sched->log();
}

TEST_F(SchedulerTest, NoNodesThenANodeAppears) {
  auto sched = start_scheduler();
  pods().create(pod("waiting"));
  EXPECT_EQ(unschedulable_message("waiting"), "no nodes available to schedule pods");
  nodes().create(node("late"));
  // Well before the 5-minute periodic retry: the new node brings the pod back.
  EXPECT_EQ(bound_node("waiting", 8s), "late") << sched->log();
}

TEST_F(SchedulerTest, PodsOfAnotherSchedulerAreLeftAlone) {
  create_nodes({node("n1")});
  auto sched = start_scheduler();
  json other = pod("other");
  other["spec"]["schedulerName"] = "my-scheduler";
  pods().create(other);
  pods().create(pod("mine"));
  EXPECT_EQ(bound_node("mine"), "n1");
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(node_of("other"), "");
  EXPECT_TRUE(scheduled_condition("other").is_null());
  EXPECT_TRUE(events_of("other").empty());
}

// --- scores -------------------------------------------------------------------------------------------------------

TEST_F(SchedulerTest, LeastAllocatedPrefersTheEmptierNode) {
  create_nodes({node("busy", "4", "8Gi"), node("idle", "4", "8Gi")});
  json load = pod("load", "3", "6Gi");
  load["spec"]["nodeName"] = "busy";
  pods().create(load);
  auto sched = start_scheduler();
  for (int i = 0; i < 3; ++i) {
    std::string name = "w" + std::to_string(i);
    pods().create(pod(name, "200m", "256Mi"));
    EXPECT_EQ(bound_node(name), "idle") << sched->log();
  }
}

TEST_F(SchedulerTest, PodsOfOneOwnerOrServiceSpreadOverNodes) {
  // "big" is much larger: least allocated alone would put every pod there.
  create_nodes({node("big", "64", "256Gi"), node("mid", "4", "8Gi"), node("low", "4", "8Gi")});
  auto sched = start_scheduler();
  for (int i = 0; i < 3; ++i) {
    std::string name = "loner" + std::to_string(i);
    pods().create(pod(name, "100m"));
    EXPECT_EQ(bound_node(name), "big");
  }
  std::set<std::string> owned;
  for (int i = 0; i < 3; ++i) {
    json p = pod("web-" + std::to_string(i), "100m");
    p["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"},
                                                     {"kind", "ReplicaSet"},
                                                     {"name", "web"},
                                                     {"uid", "7d1c2f4e-0000-4000-8000-000000000001"},
                                                     {"controller", true}}});
    pods().create(p);
    owned.insert(bound_node("web-" + std::to_string(i)));
  }
  EXPECT_EQ(owned, (std::set<std::string>{"big", "mid", "low"})) << sched->log();

  client_->resource("services", "default")
      .create({{"apiVersion", "v1"},
               {"kind", "Service"},
               {"metadata", {{"name", "api"}}},
               {"spec", {{"selector", {{"app", "api"}}}, {"ports", json::array({{{"port", 80}}})}}}});
  std::this_thread::sleep_for(500ms);  // the scheduler's Service informer
  std::set<std::string> selected;
  for (int i = 0; i < 3; ++i) {
    json p = pod("api-" + std::to_string(i), "100m");
    p["metadata"]["labels"] = {{"app", "api"}};
    pods().create(p);
    selected.insert(bound_node("api-" + std::to_string(i)));
  }
  EXPECT_EQ(selected, (std::set<std::string>{"big", "mid", "low"})) << sched->log();
}

TEST_F(SchedulerTest, PreferredNodeAffinityWins) {
  create_nodes({node("n-a", "4", "8Gi", "110", {{"disk", "hdd"}}), node("n-b", "4", "8Gi", "110", {{"disk", "ssd"}}),
                node("n-c", "4", "8Gi", "110", {{"disk", "hdd"}})});
  auto sched = start_scheduler();
  for (int i = 0; i < 3; ++i) {
    json p = pod("pref" + std::to_string(i), "100m");
    p["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = json::array(
        {{{"weight", 50},
          {"preference", {{"matchExpressions", json::array({{{"key", "disk"}, {"operator", "In"}, {"values", {"ssd"}}}})}}}}});
    pods().create(p);
    EXPECT_EQ(bound_node("pref" + std::to_string(i)), "n-b") << sched->log();
  }
}

// --- what users see -----------------------------------------------------------------------------------------------

TEST_F(SchedulerTest, KubectlDescribeShowsTheConditionAndTheEvents) {
  create_nodes({node("node-1", "1", "2Gi")});
  auto sched = start_scheduler();
  pods().create(pod("web", "100m"));
  ASSERT_EQ(bound_node("web"), "node-1");
  pods().create(pod("greedy", "2"));
  std::string msg = unschedulable_message("greedy");
  ASSERT_EQ(msg, "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption "
                 "victims found for incoming pod.");
  ASSERT_TRUE(eventually([&] { return events_of("greedy").size() == 1 && events_of("web").size() == 1; }))
      << sched->log();
  json ev = events_of("greedy")[0];
  EXPECT_EQ(ev.value("type", ""), "Warning");
  EXPECT_EQ(ev.value("reason", ""), "FailedScheduling");
  EXPECT_EQ(ev.value("message", ""), msg);
  EXPECT_EQ(ev.value("/source/component"_json_pointer, std::string()), "default-scheduler");
  EXPECT_EQ(ev.value("reportingComponent", ""), "default-scheduler");

  Kubectl kubectl(server_->url());
  auto r = kubectl({"describe", "pod", "greedy"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("PodScheduled +False"))) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("Warning +FailedScheduling +\\S+ +default-scheduler +0/1 nodes are available: 1 Insufficient cpu\\. "
                        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod\\.")))
      << r.out;
  r = kubectl({"describe", "pod", "web"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("Normal +Scheduled +\\S+ +default-scheduler +Successfully assigned default/web to node-1")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("Node: +node-1"))) << r.out;
}

TEST_F(SchedulerTest, AnUnschedulablePodIsNotRetriedInALoop) {
  create_nodes({node("node-1", "1", "2Gi")});
  auto sched = start_scheduler();
  pods().create(pod("greedy", "2"));
  ASSERT_NE(unschedulable_message("greedy"), "");
  std::string rv = pods().get("greedy").value("/metadata/resourceVersion"_json_pointer, std::string());
  std::this_thread::sleep_for(3s);
  // Nothing changed in the cluster: no new attempt, so no new write to the pod and one Event with count 1.
  EXPECT_EQ(pods().get("greedy").value("/metadata/resourceVersion"_json_pointer, std::string()), rv);
  auto evs = events_of("greedy");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].value("count", 0), 1);
}

// --- restarts and leader election ---------------------------------------------------------------------------------

TEST_F(SchedulerTest, KilledMidwayAndRestartedItConverges) {
  for (int i = 0; i < 4; ++i) nodes().create(node("n" + std::to_string(i), "2", "8Gi"));
  constexpr int kPods = 120;  // 4 nodes x 2 cpu = 80 pods of 100m: 40 stay pending
  for (int i = 0; i < kPods; ++i) pods().create(pod("p" + std::to_string(i), "100m"));
  auto count_bound = [&] {
    int n = 0;
    for (const auto& p : pods().list().items) n += !p.value("/spec/nodeName"_json_pointer, std::string()).empty();
    return n;
  };
  auto sched = start_scheduler();
  ASSERT_TRUE(eventually([&] { return count_bound() >= 10; }, 20s)) << sched->log();
  sched->kill9();
  int before = count_bound();
  auto again = start_scheduler();
  ASSERT_TRUE(eventually([&] { return count_bound() == 80; }, 30s)) << again->log();
  std::this_thread::sleep_for(1s);
  std::map<std::string, int> per_node;
  int pending = 0;
  for (const auto& p : pods().list().items) {
    std::string n = p.value("/spec/nodeName"_json_pointer, std::string());
    if (n.empty()) ++pending;
    else ++per_node[n];
  }
  EXPECT_LT(before, kPods);
  EXPECT_EQ(pending, kPods - 80);
  for (const auto& [n, count] : per_node) EXPECT_EQ(count, 20) << n;  // 2 cpu / 100m, never more
}

TEST_F(SchedulerTest, TwoSchedulersOneLeaderBindsAndTheOtherTakesOver) {
  create_nodes({node("n1"), node("n2")});
  std::vector<std::string> le = {"--leader-elect=true", "--leader-elect-lease-duration=3s",
                                 "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms"};
  auto first = start_scheduler(le);
  std::this_thread::sleep_for(300ms);
  auto second = start_scheduler(le);
  auto lease_holder = [&] {
    try {
      return client_->resource("leases", "kube-system").get("kube-scheduler").value(
          "/spec/holderIdentity"_json_pointer, std::string());
    } catch (const api::StatusError&) {
      return std::string();
    }
  };
  std::string holder;
  ASSERT_TRUE(eventually([&] { return !(holder = lease_holder()).empty(); }, 10s)) << first->log();
  for (int i = 0; i < 5; ++i) pods().create(pod("a" + std::to_string(i), "100m"));
  for (int i = 0; i < 5; ++i) EXPECT_NE(bound_node("a" + std::to_string(i)), "");
  // Exactly one of them bound the pods: the leader.
  auto bound_by = [](const SchedulerProcess& s) {
    return s.log().find("became the leader") != std::string::npos;
  };
  ASSERT_NE(bound_by(*first), bound_by(*second)) << first->log() << "\n---\n" << second->log();
  SchedulerProcess& leader = bound_by(*first) ? *first : *second;
  SchedulerProcess& standby = bound_by(*first) ? *second : *first;
  // The standby says whom it follows once its first attempt to acquire finds the Lease held (soon, not at once).
  EXPECT_TRUE(eventually([&] { return standby.log().find("the leader is " + holder) != std::string::npos; }, 10s))
      << standby.log();
  // No scheduling by the standby: every Scheduled event names the leader's reportingInstance (same host), so
  // count bindings by their log lines instead: the standby logged none.
  EXPECT_EQ(standby.log().find("unable to schedule"), std::string::npos);

  leader.kill9();  // the Lease is not released: the standby takes over once it expires
  for (int i = 0; i < 3; ++i) pods().create(pod("b" + std::to_string(i), "100m"));
  for (int i = 0; i < 3; ++i) EXPECT_NE(bound_node("b" + std::to_string(i), 15s), "") << standby.log();
  EXPECT_NE(standby.log().find("became the leader"), std::string::npos);
  EXPECT_NE(lease_holder(), holder);
}

TEST_F(SchedulerTest, SigtermReleasesTheLeaseAndExitsCleanly) {
  std::vector<std::string> le = {"--leader-elect=true", "--leader-elect-lease-duration=15s",
                                 "--leader-elect-retry-period=500ms"};
  auto sched = start_scheduler(le);
  ASSERT_TRUE(eventually([&] { return sched->log().find("became the leader") != std::string::npos; }, 10s));
  EXPECT_EQ(sched->stop(), 0);
  json lease = client_->resource("leases", "kube-system").get("kube-scheduler");
  EXPECT_EQ(lease.value("/spec/holderIdentity"_json_pointer, std::string("x")), "");
  // A new scheduler leads at once instead of waiting 15 s for the old Lease to expire.
  auto next = start_scheduler(le);
  EXPECT_TRUE(eventually([&] { return next->log().find("became the leader") != std::string::npos; }, 5s))
      << next->log();
}

// --- D-Bus and sd_notify ------------------------------------------------------------------------------------------

class SchedulerDbusTest : public SchedulerTest {
 protected:
  std::vector<std::string> server_args() override { return {bus_.apiserver_flag()}; }
  CmdResult busctl(std::vector<std::string> args, bool as_nobody = false) {
    std::vector<std::string> argv;
    if (as_nobody) argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    argv.push_back("busctl");
    argv.push_back("--address=" + bus_.address());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  json property(const std::string& name, bool as_nobody = false) {
    auto r = busctl({"--json=short", "get-property", kSchedulerName, kSchedulerPath, kSchedulerName, name}, as_nobody);
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? parse_json(r.out)["data"] : json();
  }
  DbusDaemon bus_;
};

TEST_F(SchedulerDbusTest, OverDbusByDefaultWithPropertiesAndScheduleNow) {
  // The apiserver over D-Bus (the default transport), the object on the same private bus; sd_notify to a socket.
  std::string dir = make_temp_dir("notify");
  std::string sock = dir + "/notify";
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  create_nodes({node("n1", "1", "2Gi")});
  SchedulerProcess sched({"--apiserver=dbus:" + bus_.address(), "--dbus-address=" + bus_.address(),
                          "--leader-elect=false"},
                         {"NOTIFY_SOCKET=" + sock});
  ASSERT_TRUE(eventually([&] { return busctl({"status", kSchedulerName}).rc == 0; }, 10s)) << sched.log();

  pods().create(pod("fits", "500m"));
  pods().create(pod("too-big", "2"));
  ASSERT_EQ(bound_node("fits"), "n1") << sched.log();
  ASSERT_NE(unschedulable_message("too-big"), "");
  EXPECT_EQ(property("ScheduledTotal"), 1);
  EXPECT_EQ(property("PendingPods"), 1);
  EXPECT_GE(property("FailedTotal").get<int>(), 1);
  EXPECT_GT(property("LastCycleMicroseconds").get<int64_t>(), 0);
  EXPECT_EQ(property("Leader"), true);
  // Anyone may look; only root may act.
  EXPECT_EQ(property("ScheduledTotal", true), 1);
  auto denied = busctl({"call", kSchedulerName, kSchedulerPath, kSchedulerName, "ScheduleNow"}, true);
  EXPECT_NE(denied.rc, 0);
  EXPECT_NE(denied.err.find("ccess denied"), std::string::npos) << denied.err;

  // ScheduleNow retries the unschedulable pod at once: a second attempt, and the Event counts it.
  uint64_t failed = property("FailedTotal").get<uint64_t>();
  auto r = busctl({"call", kSchedulerName, kSchedulerPath, kSchedulerName, "ScheduleNow"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(eventually([&] { return property("FailedTotal").get<uint64_t>() > failed; }, 5s));
  EXPECT_TRUE(eventually([&] {
    auto evs = events_of("too-big");
    return evs.size() == 1 && evs[0].value("count", 0) == 2;
  }));

  // READY=1 and a STATUS= line with the counts.
  std::string notes;
  ASSERT_TRUE(eventually(
      [&] {
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) notes += std::string(buf, size_t(n)) + "\n";
        return notes.find("READY=1") != std::string::npos &&
               notes.find("STATUS=1 pods pending, 1 scheduled") != std::string::npos;
      },
      5s))
      << notes;
  close(fd);
  EXPECT_EQ(sched.stop(), 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
