// The kubelet's Events, with a real apiserver, kubelet and nspawn containers in a node namespace of the test's own,
// read back as a user reads them: with the real kubectl's describe (and kctl's, column by column). A started pod
// (Pulled, Created, Started; Killing when deleted), a failing liveness probe (Unhealthy counted, Killing, the
// restart), a crash loop (BackOff counted up), containers that cannot start (an image never pulled, a
// configuration that does not resolve), and the node's own events.
#include <algorithm>
#include <map>
#include <regex>

#include "kctl_compare.h"
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class KubeletEventsTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }
  void SetUp() override {
    start_node();
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    ASSERT_FALSE(kubectl_->binary().empty()) << "kubectl not found";
  }

  // The Events about one object (by uid), in the order the server lists them (by name: by creation time).
  std::vector<json> events_about(const std::string& uid) {
    api::ListOptions o;
    o.field_selector = "involvedObject.uid=" + uid;
    return client_->resource("events", "").list(o).items;
  }
  static const json* find(const std::vector<json>& events, const std::string& reason, const std::string& message = "") {
    for (const auto& e : events)
      if (e["reason"] == reason && (message.empty() || e["message"] == message)) return &e;
    return nullptr;
  }
  // Waits until the events about uid include every reason of `reasons`.
  std::vector<json> wait_events(const std::string& uid, const std::vector<std::string>& reasons,
                                std::chrono::milliseconds timeout = 30s) {
    std::vector<json> events;
    wait_for([&] {
      events = events_about(uid);
      for (const auto& r : reasons)
        if (!find(events, r)) return false;
      return true;
    }, timeout);
    return events;
  }
  static std::string dump(const std::vector<json>& events) {
    std::string s;
    for (const auto& e : events)
      s += e.value("type", "") + " " + e.value("reason", "") + " x" + std::to_string(e.value("count", 0)) + " " +
           e.value("message", "") + "\n";
    return s;
  }

  // The Events section of a describe output.
  static std::string events_section(const std::string& describe) {
    auto at = describe.find("\nEvents:");
    return at == std::string::npos ? "" : describe.substr(at + 1);
  }
  // Its rows as [Type, Reason, Age, From, Message].
  static std::vector<std::vector<std::string>> event_rows(const std::string& describe) {
    std::vector<std::vector<std::string>> rows;
    auto lines = split_lines(events_section(describe));
    for (size_t i = 3; i < lines.size(); ++i) {
      auto c = cells(lines[i].substr(lines[i].find_first_not_of(' ')));
      if (c.size() >= 5) rows.push_back(c);
    }
    return rows;
  }
  CmdResult kubectl(const std::vector<std::string>& args) { return (*kubectl_)(args); }
  CmdResult kctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env", "HOME=" + root_, kctl_binary(), "--kubeconfig=" + kubectl_->kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  std::unique_ptr<Kubectl> kubectl_;
};

std::string pod_manifest(const std::string& name, const std::string& script, const std::string& container_extra = "{}",
                         const std::string& spec_extra = "{}") {
  json pod = json::parse(R"({"metadata":{},"spec":{"nodeName":"node-1","terminationGracePeriodSeconds":2,
    "containers":[{"name":"c","image":"kctl/busybox","command":["sh","-c"]}]}})");
  pod["metadata"]["name"] = name;
  pod["spec"]["containers"][0]["command"].push_back(script);
  pod["spec"]["containers"][0].update(json::parse(container_extra));
  pod["spec"].update(json::parse(spec_extra));
  return pod.dump();
}

}  // namespace

TEST_F(KubeletEventsTest, StartedPodShowsPulledCreatedStartedInDescribe) {
  std::string uid = create_pod(pod_manifest("web", "sleep 600"))["metadata"]["uid"];
  auto events = wait_events(uid, {"Pulled", "Created", "Started"});
  ASSERT_EQ(events.size(), 3u) << dump(events) << kubelet_->log();

  // The Event objects, field by field as the kubelet writes them.
  const json& started = *find(events, "Started");
  EXPECT_EQ(started["metadata"]["namespace"], "default");
  EXPECT_EQ(started["metadata"]["name"].get<std::string>().rfind("web.", 0), 0u) << started;
  EXPECT_EQ(started["involvedObject"]["kind"], "Pod");
  EXPECT_EQ(started["involvedObject"]["apiVersion"], "v1");
  EXPECT_EQ(started["involvedObject"]["name"], "web");
  EXPECT_EQ(started["involvedObject"]["namespace"], "default");
  EXPECT_EQ(started["involvedObject"]["uid"], uid);
  EXPECT_EQ(started["involvedObject"]["fieldPath"], "spec.containers{c}");
  EXPECT_FALSE(started["involvedObject"].value("resourceVersion", "").empty());
  EXPECT_EQ(started["source"], (json{{"component", "kubelet"}, {"host", "node-1"}}));
  EXPECT_EQ(started["reportingComponent"], "kubelet");
  EXPECT_EQ(started["reportingInstance"], "node-1");
  EXPECT_EQ(started["type"], "Normal");
  EXPECT_EQ(started["count"], 1);
  EXPECT_FALSE(started.value("firstTimestamp", "").empty());
  EXPECT_EQ(started["firstTimestamp"], started["lastTimestamp"]);

  // kubectl describe pod: the three, in order, in the kubelet's words.
  auto k = kubectl({"describe", "pod", "web"});
  ASSERT_EQ(k.rc, 0) << k.err;
  auto rows = event_rows(k.out);
  ASSERT_EQ(rows.size(), 3u) << k.out;
  std::vector<std::vector<std::string>> expected = {
      {"Normal", "Pulled", "kubelet", "Container image \"kctl/busybox\" already present on machine"},
      {"Normal", "Created", "kubelet", "Created container: c"},
      {"Normal", "Started", "kubelet", "Started container c"}};
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ((std::vector<std::string>{rows[i][0], rows[i][1], rows[i][3], rows[i][4]}), expected[i]) << k.out;

  // kctl describe prints the same Events section (ages aside).
  auto c = kctl({"describe", "pod", "web"});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_TRUE(same_columns(events_section(k.out), events_section(c.out)));

  // Deleted: the kubelet says it stops the container.
  pods().remove("web");
  events = wait_events(uid, {"Killing"});
  const json* killing = find(events, "Killing");
  ASSERT_TRUE(killing) << dump(events);
  EXPECT_EQ((*killing)["message"], "Stopping container c");
  EXPECT_EQ((*killing)["type"], "Normal");
}

// Kubernetes' liveness example: each failed probe is an Unhealthy event (counted on one Event), the kill says why,
// and the restart repeats Pulled, Created and Started (counted too).
TEST_F(KubeletEventsTest, FailingLivenessProbeGivesUnhealthyAndKilling) {
  std::string uid = create_pod(pod_manifest(
      "liveness", "touch /tmp/healthy; sleep 3; rm -f /tmp/healthy; sleep 600",
      R"({"livenessProbe":{"exec":{"command":["cat","/tmp/healthy"]},"periodSeconds":1,"failureThreshold":2}})"))
                        ["metadata"]["uid"];
  ASSERT_TRUE(wait_for([&] { return pod_status("liveness")["containerStatuses"][0]["restartCount"] == 1; }, 40s))
      << pod_status("liveness").dump(2) << kubelet_->log();
  auto events = wait_events(uid, {"Unhealthy", "Killing"});
  const std::string unhealthy_message = "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory";
  const json* unhealthy = find(events, "Unhealthy");
  ASSERT_TRUE(unhealthy) << dump(events);
  // The exec probe's output as it is, newline included, as Kubernetes keeps it (describe trims it).
  EXPECT_EQ((*unhealthy)["message"], unhealthy_message + "\n");
  EXPECT_EQ((*unhealthy)["type"], "Warning");
  // failureThreshold 2: at least two failures on one Event (the restarted container removes its file again after
  // 3 s, and a slow machine may see its next failure before this look).
  EXPECT_GE((*unhealthy)["count"].get<int>(), 2) << dump(events);
  EXPECT_EQ((*unhealthy)["involvedObject"]["fieldPath"], "spec.containers{c}");
  const json* killing = find(events, "Killing");
  ASSERT_TRUE(killing) << dump(events);
  EXPECT_EQ((*killing)["message"], "Container c failed liveness probe, will be restarted");
  ASSERT_TRUE(wait_for([&] {
    const json* s = find(events = events_about(uid), "Started");
    return s && (*s)["count"] == 2;
  }, 10s)) << dump(events);

  // In describe: the reasons with their counts (BackOff, should a later exit come into back-off, left out).
  auto k = kubectl({"describe", "pod", "liveness"});
  ASSERT_EQ(k.rc, 0) << k.err;
  auto rows = event_rows(k.out);
  std::vector<std::string> reasons;
  for (const auto& r : rows)
    if (r[1] != "BackOff") reasons.push_back(r[1]);
  // Every reason once, its repeats counted on it. (Not their order: the restart follows the kill at once, and
  // describe sorts by lastTimestamp, whole seconds, so ties fall either way.)
  std::sort(reasons.begin(), reasons.end());
  EXPECT_EQ(reasons, (std::vector<std::string>{"Created", "Killing", "Pulled", "Started", "Unhealthy"})) << k.out;
  for (const auto& r : rows) {
    if (r[1] == "Unhealthy") {
      EXPECT_EQ(r[0], "Warning");
      EXPECT_TRUE(std::regex_search(r[2], std::regex(R"(\(x\d+ over )"))) << r[2];
      EXPECT_EQ(r[4], unhealthy_message);
    }
    if (r[1] == "Started") {
      EXPECT_NE(r[2].find("(x2 over "), std::string::npos) << r[2];
    }
  }
}

// A container that keeps crashing: each sync that finds it in back-off says so, on one Event counting up.
TEST_F(KubeletEventsTest, CrashLoopGivesBackOffCountedUp) {
  std::string uid = create_pod(pod_manifest("crash", "exit 1"))["metadata"]["uid"];
  json backoff;
  ASSERT_TRUE(wait_for([&] {
    auto events = events_about(uid);
    const json* b = find(events, "BackOff");
    if (b) backoff = *b;
    return b && (*b)["count"].get<int>() > 1;
  }, 40s)) << dump(events_about(uid)) << kubelet_->log();
  EXPECT_EQ(backoff["type"], "Warning");
  EXPECT_EQ(backoff["message"], "Back-off restarting failed container c in pod crash_default(" + uid + ")");
  EXPECT_EQ(backoff["involvedObject"]["fieldPath"], "spec.containers{c}");
  EXPECT_NE(backoff["firstTimestamp"], nullptr);

  auto k = kubectl({"describe", "pod", "crash"});
  ASSERT_EQ(k.rc, 0) << k.err;
  bool shown = false;
  for (const auto& r : event_rows(k.out))
    if (r[1] == "BackOff") shown = r[0] == "Warning" && r[2].find(" (x") != std::string::npos;
  EXPECT_TRUE(shown) << k.out;
}

TEST_F(KubeletEventsTest, ContainersThatCannotStartAreWarnings) {
  std::string uid = create_pod(pod_manifest("nope", "true", R"({"image":"kctl/nope","imagePullPolicy":"Never"})"))
                        ["metadata"]["uid"];
  // An init container that runs, then an app container whose configuration does not resolve.
  std::string config_uid = create_pod(pod_manifest(
      "config", "sleep 600", R"({"envFrom":[{"configMapRef":{"name":"missing"}}]})",
      R"({"initContainers":[{"name":"init","image":"kctl/busybox","command":["true"]}]})"))["metadata"]["uid"];

  auto events = wait_events(uid, {"ErrImageNeverPull", "Failed"});
  const json* never = find(events, "ErrImageNeverPull");
  ASSERT_TRUE(never) << dump(events) << kubelet_->log();
  EXPECT_EQ((*never)["type"], "Warning");
  EXPECT_EQ((*never)["message"], "Container image \"kctl/nope\" is not present with pull policy of Never");
  EXPECT_TRUE(find(events, "Failed", "Error: ErrImageNeverPull")) << dump(events);
  EXPECT_FALSE(find(events, "Started")) << dump(events);

  events = wait_events(config_uid, {"Started", "Failed"});
  const json* failed = find(events, "Failed");
  ASSERT_TRUE(failed) << dump(events) << kubelet_->log();
  EXPECT_EQ((*failed)["type"], "Warning");
  EXPECT_EQ((*failed)["message"], "Error: configmap \"missing\" not found");
  EXPECT_EQ((*failed)["involvedObject"]["fieldPath"], "spec.containers{c}");
  const json* started = find(events, "Started");
  EXPECT_EQ((*started)["message"], "Started container init");
  EXPECT_EQ((*started)["involvedObject"]["fieldPath"], "spec.initContainers{init}");
}

// The kubelet's own start and its node's conditions, on a reference whose uid is the node's name.
TEST_F(KubeletEventsTest, NodeEventsAtRegistration) {
  auto events = wait_events("node-1", {"Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure",
                                       "NodeHasSufficientPID", "NodeReady"});
  ASSERT_TRUE(find(events, "NodeReady")) << dump(events) << kubelet_->log();
  EXPECT_EQ((*find(events, "Starting"))["message"], "Starting kubelet.");
  EXPECT_EQ((*find(events, "NodeReady"))["message"], "Node node-1 status is now: NodeReady");
  EXPECT_EQ((*find(events, "NodeHasSufficientMemory"))["message"], "Node node-1 status is now: NodeHasSufficientMemory");
  for (const auto& e : events) {
    EXPECT_EQ(e["metadata"]["namespace"], "default");
    EXPECT_EQ(e["involvedObject"]["kind"], "Node");
    EXPECT_EQ(e["involvedObject"]["name"], "node-1");
  }
  EXPECT_FALSE(find(events, "NodeNotReady")) << dump(events);

  auto k = kubectl({"describe", "node", "node-1"});
  ASSERT_EQ(k.rc, 0) << k.err;
  std::vector<std::string> reasons;
  for (const auto& r : event_rows(k.out)) reasons.push_back(r[1]);
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "NodeReady"), reasons.end()) << k.out;
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "Starting"), reasons.end()) << k.out;
}
