// Liveness, readiness and startup probes of the kubelet, with a real apiserver, a real kubelet and real nspawn
// containers (inside a network namespace of the test): an httpGet readiness probe on busybox httpd following the
// file it serves, an exec liveness probe that restarts its container, a tcpSocket probe, a startup probe holding
// readiness back (and one that never passes restarting its container), and probes resumed by a restarted kubelet.
#include <filesystem>
#include <fstream>
#include <thread>

#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "api/client.h"
#include "daemons/common/process.h"
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class KubeletProbeTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }
  void SetUp() override { start_node(); }

  json status(const std::string& pod) { return pods().get(pod)["status"]; }
  json container(const std::string& pod, size_t i = 0) { return status(pod)["containerStatuses"][i]; }
  static json condition(const json& st, const std::string& type) {
    for (const auto& c : st.value("conditions", json::array()))
      if (c["type"] == type) return c;
    return json::object();
  }
  bool pod_ready(const std::string& pod) { return condition(status(pod), "Ready").value("status", "") == "True"; }
  bool running(const std::string& pod) {
    json cs = container(pod);
    return cs.is_object() && cs["state"].contains("running");
  }
  // The file a pod's emptyDir volume holds, seen from the node.
  std::string volume_file(const std::string& pod, const std::string& volume, const std::string& file) {
    std::string uid = pods().get(pod)["metadata"]["uid"];
    return root_ + "/pods/" + uid + "/volumes/empty-dir/" + volume + "/" + file;
  }
  // True when cond holds at every look for the whole duration.
  static bool throughout(const std::function<bool()>& cond, std::chrono::milliseconds duration) {
    auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      if (!cond()) return false;
      std::this_thread::sleep_for(100ms);
    }
    return true;
  }
};

// busybox httpd serving an emptyDir at /www, ready when /ready.html is there (the port by name, 1 s periods).
const char* kHttpdPod = R"({
  "metadata": {"name": "web"},
  "spec": {
    "nodeName": "node-1", "terminationGracePeriodSeconds": 2,
    "volumes": [{"name": "www", "emptyDir": {}}],
    "containers": [{
      "name": "httpd", "image": "kctl/busybox", "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
      "ports": [{"name": "http", "containerPort": 80}],
      "volumeMounts": [{"name": "www", "mountPath": "/www"}],
      "readinessProbe": {"httpGet": {"path": "/ready.html", "port": "http",
                                     "httpHeaders": [{"name": "X-Probe", "value": "kctl"}]},
                         "periodSeconds": 1, "failureThreshold": 1}}]}})";

}  // namespace

TEST_F(KubeletProbeTest, HttpGetReadinessFollowsTheServedFile) {
  pods().create(json::parse(kHttpdPod));
  ASSERT_TRUE(wait_for([&] { return running("web"); }, 30s)) << kubelet_->log();
  // Running and started, but the probe gets 404: not ready, and the conditions say which container.
  ASSERT_TRUE(throughout([&] { return !pod_ready("web"); }, 3s)) << status("web").dump(2);
  json st = status("web");
  EXPECT_EQ(st["phase"], "Running");
  EXPECT_EQ(st["containerStatuses"][0]["ready"], false);
  EXPECT_EQ(st["containerStatuses"][0]["started"], true);
  for (const char* type : {"Ready", "ContainersReady"}) {
    json c = condition(st, type);
    EXPECT_EQ(c["status"], "False") << type;
    EXPECT_EQ(c["reason"], "ContainersNotReady") << type;
    EXPECT_EQ(c["message"], "containers with unready status: [httpd]") << type;
  }
  EXPECT_NE(kubelet_->log().find("Readiness probe failed: HTTP probe failed with statuscode: 404"), std::string::npos)
      << kubelet_->log();

  // The page appears: ready within about one period (the result wakes the pod's sync, no resync needed).
  std::ofstream(volume_file("web", "www", "ready.html")) << "ok\n";
  auto written = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return pod_ready("web"); }, 10s)) << status("web").dump(2) << kubelet_->log();
  EXPECT_LT(std::chrono::steady_clock::now() - written, 3s);
  st = status("web");
  EXPECT_EQ(st["containerStatuses"][0]["ready"], true);
  EXPECT_EQ(condition(st, "ContainersReady")["status"], "True");
  EXPECT_FALSE(condition(st, "Ready").contains("message"));

  // It goes away: unready again, the container keeps running (readiness never restarts anything).
  std::filesystem::remove(volume_file("web", "www", "ready.html"));
  ASSERT_TRUE(wait_for([&] { return !pod_ready("web"); }, 10s)) << status("web").dump(2);
  EXPECT_EQ(container("web")["restartCount"], 0);
  EXPECT_TRUE(running("web"));
}

// Kubernetes' own example: the container removes /tmp/healthy after a while, `cat /tmp/healthy` fails, the
// container is killed and restarted (after the crash back-off), and the restart count goes up.
TEST_F(KubeletProbeTest, ExecLivenessRestartsTheContainer) {
  pods().create(json::parse(R"({"metadata":{"name":"liveness"},"spec":{"nodeName":"node-1",
    "terminationGracePeriodSeconds": 2,
    "containers":[{"name":"c","image":"kctl/busybox",
      "command":["sh","-c","touch /tmp/healthy; sleep 4; rm -f /tmp/healthy; sleep 600"],
      "livenessProbe":{"exec":{"command":["cat","/tmp/healthy"]},"periodSeconds":1,"failureThreshold":2}}]}})"));
  // A startup probe that never passes restarts its container the same way.
  pods().create(json::parse(R"({"metadata":{"name":"never-starts"},"spec":{"nodeName":"node-1",
    "terminationGracePeriodSeconds": 2,
    "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","600"],
      "startupProbe":{"exec":{"command":["sh","-c","exit 1"]},"periodSeconds":1,"failureThreshold":2},
      "readinessProbe":{"exec":{"command":["true"]},"periodSeconds":1}}]}})"));
  ASSERT_TRUE(wait_for([&] { return running("liveness"); }, 30s)) << kubelet_->log();
  // Healthy while the file is there.
  EXPECT_TRUE(throughout([&] { return running("liveness") && container("liveness")["restartCount"] == 0; }, 2s))
      << status("liveness").dump(2);
  // Killed once the probe failed twice: waiting in back-off with the killed instance as its last state...
  ASSERT_TRUE(wait_for([&] { return container("liveness")["lastState"].contains("terminated"); }, 15s))
      << status("liveness").dump(2) << kubelet_->log();
  json killed = container("liveness")["lastState"]["terminated"];
  EXPECT_EQ(killed["exitCode"], 143) << killed;  // SIGTERM, as the runtime sent it
  EXPECT_EQ(killed["reason"], "Error");
  EXPECT_NE(kubelet_->log().find("Liveness probe failed: cat: can't open '/tmp/healthy'"), std::string::npos)
      << kubelet_->log();
  EXPECT_NE(kubelet_->log().find("Container c failed liveness probe, will be restarted"), std::string::npos);
  // ...then running again, one restart further, and healthy again (the new instance has its file).
  ASSERT_TRUE(wait_for([&] { return running("liveness") && container("liveness")["restartCount"] == 1; }, 20s))
      << status("liveness").dump(2) << kubelet_->log();
  EXPECT_TRUE(throughout([&] { return running("liveness") && container("liveness")["restartCount"] == 1; }, 2s));

  json cs = container("never-starts");
  EXPECT_GE(cs["restartCount"].get<int>(), 1) << cs.dump(2);
  EXPECT_TRUE(cs["lastState"].contains("terminated")) << cs.dump(2);
  EXPECT_EQ(cs["started"], false);
  EXPECT_EQ(cs["ready"], false);
  EXPECT_NE(kubelet_->log().find("Container c failed startup probe"), std::string::npos);
}

// A tcpSocket readiness probe: refused until the server listens (httpd on 8080 after 3 s), then ready; a probe that
// cannot run (an unknown named port) restarts nothing.
TEST_F(KubeletProbeTest, TcpSocketReadinessWaitsForTheListener) {
  pods().create(json::parse(R"({"metadata":{"name":"tcp"},"spec":{"nodeName":"node-1",
    "terminationGracePeriodSeconds": 2,
    "containers":[{"name":"server","image":"kctl/busybox",
      "command":["sh","-c","sleep 3; exec httpd -f -p 8080"],
      "readinessProbe":{"tcpSocket":{"port":8080},"periodSeconds":1},
      "livenessProbe":{"tcpSocket":{"port":8080},"initialDelaySeconds":5,"periodSeconds":1}},
     {"name":"sidecar","image":"kctl/busybox","command":["sleep","600"],
      "livenessProbe":{"httpGet":{"port":"nope"},"periodSeconds":1,"failureThreshold":1}}]}})"));
  ASSERT_TRUE(wait_for([&] { return running("tcp"); }, 30s)) << kubelet_->log();
  EXPECT_FALSE(pod_ready("tcp"));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return pod_ready("tcp"); }, 15s)) << status("tcp").dump(2) << kubelet_->log();
  EXPECT_GT(std::chrono::steady_clock::now() - start, 1s) << "ready before anything listened";
  std::string ip = status("tcp")["podIP"];
  EXPECT_NE(kubelet_->log().find("Readiness probe failed: dial tcp " + ip + ":8080: connect: connection refused"),
            std::string::npos)
      << kubelet_->log();
  // The liveness probe on the same port passes: no restart. The sidecar's names a port it does not have: an
  // error, thrown away rather than counted as a failure, so no restart either.
  EXPECT_TRUE(throughout([&] {
    return container("tcp", 0)["restartCount"] == 0 && container("tcp", 1)["restartCount"] == 0 && pod_ready("tcp");
  }, 3s)) << status("tcp").dump(2);
  EXPECT_NE(kubelet_->log().find("Liveness probe errored: couldn't find port: nope in container"), std::string::npos)
      << kubelet_->log();
}

// Readiness and liveness wait for the startup probe: not started and not ready for the first 4 s, though the
// readiness probe itself would pass at once, and no restart, though the liveness probe would fail until then.
TEST_F(KubeletProbeTest, StartupProbeHoldsReadinessBack) {
  pods().create(json::parse(R"({"metadata":{"name":"slow"},"spec":{"nodeName":"node-1",
    "terminationGracePeriodSeconds": 2,
    "containers":[{"name":"app","image":"kctl/busybox",
      "command":["sh","-c","sleep 4; touch /tmp/started; sleep 600"],
      "startupProbe":{"exec":{"command":["cat","/tmp/started"]},"periodSeconds":1,"failureThreshold":30},
      "readinessProbe":{"exec":{"command":["true"]},"periodSeconds":1},
      "livenessProbe":{"exec":{"command":["cat","/tmp/started"]},"periodSeconds":1,"failureThreshold":1}}]}})"));
  ASSERT_TRUE(wait_for([&] { return running("slow"); }, 30s)) << kubelet_->log();
  auto start = std::chrono::steady_clock::now();
  json cs = container("slow");
  EXPECT_EQ(cs["started"], false) << cs.dump(2);
  EXPECT_EQ(cs["ready"], false);
  ASSERT_TRUE(wait_for([&] { return container("slow")["started"] == true; }, 15s))
      << status("slow").dump(2) << kubelet_->log();
  EXPECT_GT(std::chrono::steady_clock::now() - start, 2s) << "started before the startup probe could pass";
  ASSERT_TRUE(wait_for([&] { return pod_ready("slow"); }, 5s)) << status("slow").dump(2);
  EXPECT_EQ(container("slow")["ready"], true);
  EXPECT_EQ(container("slow")["restartCount"], 0);
}

// A restarted kubelet probes its re-adopted pods again: a ready pod stays ready through the restart (no status
// written in between says otherwise), and its probe still notices when the page goes away.
TEST_F(KubeletProbeTest, RestartedKubeletResumesProbing) {
  pods().create(json::parse(kHttpdPod));
  ASSERT_TRUE(wait_for([&] { return running("web"); }, 30s)) << kubelet_->log();
  std::ofstream(volume_file("web", "www", "ready.html")) << "ok\n";
  ASSERT_TRUE(wait_for([&] { return pod_ready("web"); }, 10s)) << status("web").dump(2) << kubelet_->log();
  json before = pods().get("web");
  kubelet_->stop();
  kubelet_->start();
  EXPECT_TRUE(throughout([&] { return pod_ready("web"); }, 3s)) << status("web").dump(2) << kubelet_->log();
  // Every version of the pod written since (replayed by a watch from before the restart) says ready.
  api::ListOptions since;
  since.resource_version = before["metadata"]["resourceVersion"];
  since.field_selector = "metadata.name=web";
  since.timeout_seconds = 1;
  auto watch = pods().watch(since);
  int versions = 0;
  for (api::WatchEvent ev; watch->next(ev);) {
    if (ev.type != api::WatchEvent::Type::Modified) continue;
    ++versions;
    EXPECT_EQ(condition(ev.object["status"], "Ready")["status"], "True") << ev.object["status"].dump(2);
    EXPECT_EQ(ev.object["status"]["containerStatuses"][0]["ready"], true);
  }
  RecordProperty("pod_versions_across_restart", versions);
  std::filesystem::remove(volume_file("web", "www", "ready.html"));
  ASSERT_TRUE(wait_for([&] { return !pod_ready("web"); }, 10s)) << status("web").dump(2) << kubelet_->log();
  EXPECT_EQ(container("web")["restartCount"], 0);
}

// An exec probe that outlives its timeoutSeconds fails as "command timed out", and its command is killed with it
// (nsenter and what it forked into the container), so timed-out probes do not pile up in the container.
TEST_F(KubeletProbeTest, ExecProbeTimesOutAndIsKilled) {
  pods().create(json::parse(R"({"metadata":{"name":"slow-probe"},"spec":{"nodeName":"node-1",
    "terminationGracePeriodSeconds": 2,
    "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","600"],
      "readinessProbe":{"exec":{"command":["sleep","77"]},"timeoutSeconds":1,"periodSeconds":1}}]}})"));
  ASSERT_TRUE(wait_for([&] { return running("slow-probe"); }, 30s)) << kubelet_->log();
  ASSERT_TRUE(wait_for([&] { return kubelet_->log().find("Readiness probe failed: command timed out") !=
                                      std::string::npos; }, 10s))
      << kubelet_->log();
  std::this_thread::sleep_for(3s);  // three more timed-out probes
  EXPECT_FALSE(pod_ready("slow-probe"));
  auto probes = run({"sh", "-c", "pgrep -x -f 'sleep 77' | wc -l"});
  EXPECT_LE(std::stoi(probes.out), 1) << "timed-out probe commands were left running";
}
