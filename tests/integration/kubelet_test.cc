// The kubelet with a real apiserver, real namespaces and real nspawn containers (all inside a network namespace of
// the test): node registration and Lease, the two-container pod sharing a volume and localhost reaching Running
// with an IP, restart policies with back-off, completion, deletion that cleans the node, re-adoption of running
// pods by a restarted kubelet, and Secret volumes.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

class KubeletTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }
  void SetUp() override { start_node(); }
};

const char* kTwoContainerPod = R"({
  "metadata": {"name": "web", "labels": {"app": "web"}},
  "spec": {
    "nodeName": "node-1",
    "volumes": [{"name": "html", "emptyDir": {}}],
    "containers": [
      {"name": "httpd", "image": "kctl/busybox", "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
       "volumeMounts": [{"name": "html", "mountPath": "/www"}], "ports": [{"containerPort": 80}]},
      {"name": "writer", "image": "kctl/busybox",
       "command": ["sh", "-c", "while true; do echo page-from-$POD_NAME > /html/index.html; wget -q -O - http://localhost:80/ || true; sleep 1; done"],
       "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
       "volumeMounts": [{"name": "html", "mountPath": "/html"}]}
    ]}})";

}  // namespace

TEST_F(KubeletTest, RegistersAReadyNodeWithALease) {
  auto nodes = client_->resource("nodes");
  ASSERT_TRUE(wait_for([&] {
    json n = nodes.get("node-1");
    for (const auto& c : n["status"]["conditions"])
      if (c["type"] == "Ready") return c["status"] == "True";
    return false;
  })) << kubelet_->log();
  json n = nodes.get("node-1");
  EXPECT_EQ(n["spec"]["podCIDR"], "10.244.1.0/24");
  EXPECT_EQ(n["metadata"]["labels"]["kubernetes.io/hostname"], "node-1");
  EXPECT_FALSE(n["status"]["capacity"]["cpu"].get<std::string>().empty());
  EXPECT_EQ(n["status"]["nodeInfo"]["operatingSystem"], "linux");
  json lease = client_->resource("leases", "kube-node-lease").get("node-1");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "node-1");
}

TEST_F(KubeletTest, TwoContainerPodSharesVolumeAndLocalhost) {
  auto pods = client_->resource("pods", "default");
  pods.create(json::parse(kTwoContainerPod));
  ASSERT_TRUE(wait_for([&] { return pod_status("web")["phase"] == "Running"; }, 30s))
      << pod_status("web").dump(2) << kubelet_->log();
  json st = pod_status("web");
  EXPECT_EQ(st["podIP"].get<std::string>().rfind("10.244.1.", 0), 0u) << st;
  EXPECT_EQ(st["containerStatuses"].size(), 2u);
  for (const auto& cs : st["containerStatuses"]) {
    EXPECT_TRUE(cs["state"].contains("running")) << cs;
    EXPECT_EQ(cs["ready"], true);
  }
  bool ready = false;
  for (const auto& c : st["conditions"])
    if (c["type"] == "Ready") ready = c["status"] == "True";
  EXPECT_TRUE(ready);
  // The writer fetched the page the web server serves from the shared volume, over localhost.
  std::string uid = pods.get("web")["metadata"]["uid"];
  EXPECT_TRUE(wait_for([&] {
    return run({"sh", "-c", "cat " + root_ + "/pods/" + uid + "/logs/writer/0.log"}).out.find("page-from-web") !=
           std::string::npos;
  })) << run({"sh", "-c", "cat " + root_ + "/pods/" + uid + "/logs/*/*"}).out;
  // Logs through the apiserver, which relays them from the kubelet: over HTTP and with the real kubectl.
  auto logs = server_->client().request("GET", "/api/v1/namespaces/default/pods/web/log?container=writer&tailLines=2");
  EXPECT_EQ(logs.status, 200) << logs.body;
  EXPECT_NE(logs.body.find("page-from-web"), std::string::npos) << logs.body;
  auto no_container = server_->client().request("GET", "/api/v1/namespaces/default/pods/web/log");
  EXPECT_EQ(no_container.status, 400) << no_container.body;
  EXPECT_NE(no_container.body.find("choose one of: [httpd writer]"), std::string::npos) << no_container.body;
  Kubectl kubectl(server_->url());
  auto kl = kubectl({"logs", "web", "-c", "writer", "--tail=1"});
  EXPECT_EQ(kl.rc, 0) << kl.err;
  EXPECT_EQ(kl.out.substr(0, 13), "page-from-web") << kl.out;
  auto follow = kubectl({"logs", "-f", "web", "-c", "writer"}, "", 3);  // killed after 3 s: it kept streaming
  EXPECT_GE(std::count(follow.out.begin(), follow.out.end(), '\n'), 2) << follow.out;
  // The pod answers on its IP from the node.
  auto r = run_process({"busybox", "wget", "-q", "-O", "-", "http://" + st["podIP"].get<std::string>() + "/"});
  EXPECT_NE(r.out.find("page-from-web"), std::string::npos) << r.err;

  // Deleting it stops the containers, cleans the node, and the kubelet confirms the deletion.
  pods.remove("web");
  EXPECT_TRUE(wait_for([&] {
    try {
      pods.get("web");
      return false;
    } catch (const api::StatusError& e) {
      return e.status().code == 404;
    }
  })) << kubelet_->log();
  EXPECT_FALSE(std::filesystem::exists("/run/netns/kctl-" + uid));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/pods/" + uid));
  EXPECT_TRUE(run({"sh", "-c", "ls " + root_ + "/runtime/containers"}).out.empty());
}

TEST_F(KubeletTest, RestartPoliciesAndBackOff) {
  auto pods = client_->resource("pods", "default");
  pods.create(json::parse(R"({"metadata":{"name":"crash"},"spec":{"nodeName":"node-1","restartPolicy":"OnFailure",
    "containers":[{"name":"c","image":"kctl/busybox","command":["sh","-c","exit 7"]}]}})"));
  pods.create(json::parse(R"({"metadata":{"name":"done"},"spec":{"nodeName":"node-1","restartPolicy":"Never",
    "containers":[{"name":"c","image":"kctl/busybox","command":["sh","-c","echo finished"]}]}})"));
  pods.create(json::parse(R"({"metadata":{"name":"noimage"},"spec":{"nodeName":"node-1",
    "containers":[{"name":"c","image":"nosuch/image:1","command":["true"]}]}})"));
  ASSERT_TRUE(wait_for([&] { return pod_status("done")["phase"] == "Succeeded"; }, 30s)) << pod_status("done");
  EXPECT_EQ(pod_status("done")["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
  ASSERT_TRUE(wait_for([&] {
    json cs = pod_status("crash")["containerStatuses"][0];
    return cs["restartCount"] == 1 && cs["state"].contains("waiting") &&
           cs["state"]["waiting"]["reason"] == "CrashLoopBackOff";
  }, 40s)) << pod_status("crash");
  json cs = pod_status("crash")["containerStatuses"][0];
  EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 7);
  EXPECT_EQ(pod_status("crash")["phase"], "Running");
  json ni = pod_status("noimage")["containerStatuses"][0];
  EXPECT_EQ(ni["state"]["waiting"]["reason"], "ImagePullBackOff") << ni;
  EXPECT_EQ(pod_status("noimage")["phase"], "Pending");
}

TEST_F(KubeletTest, RestartedKubeletReadoptsRunningPods) {
  auto pods = client_->resource("pods", "default");
  pods.create(json::parse(R"({"metadata":{"name":"long"},"spec":{"nodeName":"node-1",
    "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","1000"]}]}})"));
  ASSERT_TRUE(wait_for([&] { return pod_status("long")["phase"] == "Running"; }, 30s)) << kubelet_->log();
  std::string started = pod_status("long")["containerStatuses"][0]["state"]["running"]["startedAt"];
  kubelet_->stop();
  kubelet_->start();
  std::this_thread::sleep_for(3s);
  json cs = pod_status("long")["containerStatuses"][0];
  EXPECT_EQ(cs["restartCount"], 0) << cs;
  EXPECT_EQ(cs["state"]["running"]["startedAt"], started) << "the container was restarted, not re-adopted";
}

// A Secret as volumes: in the container each file has the volume's defaultMode (0644 without one, as kube's 420) or
// its item's mode; a mode beyond the permission bits (a setuid file) is refused by the apiserver's validation (and
// the kubelet would drop those bits, as kube's does); on the node the files sit under a directory only root may
// enter, so no other user of the node reads them, and neither daemon logs their content.
TEST_F(KubeletTest, SecretVolumesKeepTheirModesAndOnlyRootReachesThemOnTheNode) {
  std::filesystem::permissions(root_, std::filesystem::perms(0755));  // as /var/lib/kctl is: anyone may enter
  client_->resource("secrets", "default")
      .create({{"metadata", {{"name", "db"}}}, {"data", {{"password", "aHVudGVyMg=="}, {"user", "YWRtaW4="}}}});
  json pod = create_pod(R"({"metadata":{"name":"vault"},"spec":{"nodeName":"node-1",
    "volumes":[{"name":"all","secret":{"secretName":"db"}},
               {"name":"tight","secret":{"secretName":"db","defaultMode":256}},
               {"name":"picked","secret":{"secretName":"db","items":[{"key":"password","path":"pw/p","mode":384}]}}],
    "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"],
      "volumeMounts":[{"name":"all","mountPath":"/s/all"},{"name":"tight","mountPath":"/s/tight"},
                      {"name":"picked","mountPath":"/s/picked"}]}]}})");
  ASSERT_TRUE(wait_phase("vault", "Running", 60s)) << pod_status("vault") << kubelet_->log();
  Kubectl kubectl(server_->url());
  auto r = kubectl({"exec", "vault", "--", "sh", "-c",
                    "cat /s/all/password; echo; stat -c '%n %a' /s/all/password /s/all/user /s/tight/password "
                    "/s/tight/user /s/picked/pw/p; ls /s/picked"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "hunter2\n/s/all/password 644\n/s/all/user 644\n/s/tight/password 400\n/s/tight/user 400\n"
                   "/s/picked/pw/p 600\npw\n");
  try {
    create_pod(R"({"metadata":{"name":"suid"},"spec":{"nodeName":"node-1",
      "volumes":[{"name":"suid","secret":{"secretName":"db","defaultMode":2541}}],
      "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"]}]}})");
    ADD_FAILURE() << "a setuid defaultMode was accepted";
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 422);
    EXPECT_NE(e.status().message.find("must be a number between 0 and 0777 (octal)"), std::string::npos)
        << e.status().message;
  }

  std::string host_dir = root_ + "/pods/" + pod["metadata"]["uid"].get<std::string>() + "/volumes/secret";
  struct stat st {};
  ASSERT_EQ(::stat(host_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(slurp(host_dir + "/all/password"), "hunter2");  // root reads it
  for (const char* file : {"/all/password", "/all/user", "/picked/pw/p"}) {
    auto nobody = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", host_dir + file});
    EXPECT_NE(nobody.rc, 0) << file;
    EXPECT_EQ(nobody.out, "") << file;
  }
  for (const std::string& log : {kubelet_->log(), server_->log()}) {
    EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
    EXPECT_EQ(log.find("aHVudGVyMg"), std::string::npos) << log;
  }
}

// kubectl exec through the apiserver, which relays the WebSocket upgrade to the kubelet: the command runs in the
// container (its filesystem, environment and the pod's network), stdout and stderr come back on their channels,
// stdin is carried to the command and its exit code is kubectl's.
TEST_F(KubeletTest, ExecRunsInTheContainerThroughTheApiServer) {
  auto pods = client_->resource("pods", "default");
  pods.create(json::parse(kTwoContainerPod));
  ASSERT_TRUE(wait_for([&] { return pod_status("web")["phase"] == "Running"; }, 30s)) << kubelet_->log();
  Kubectl kubectl(server_->url());
  auto hello = kubectl({"exec", "web", "-c", "writer", "--", "sh", "-c", "echo out-$POD_NAME; echo err >&2; hostname"});
  EXPECT_EQ(hello.rc, 0) << hello.err << kubelet_->log();
  EXPECT_EQ(hello.out, "out-web\nweb\n");
  EXPECT_EQ(hello.err, "err\n");
  // The container's own filesystem: the web server's volume is mounted at /www in httpd only.
  auto fs = kubectl({"exec", "web", "-c", "httpd", "--", "sh", "-c", "test -d /www && test ! -d /html && echo ok"});
  EXPECT_EQ(fs.out, "ok\n") << fs.err;
  auto code = kubectl({"exec", "web", "-c", "writer", "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(code.rc, 3) << code.err;
  auto in = kubectl({"exec", "-i", "web", "-c", "writer", "--", "sh", "-c", "tr a-z A-Z; echo done"}, "abc\n");
  EXPECT_EQ(in.rc, 0) << in.err;
  EXPECT_EQ(in.out, "ABC\ndone\n");
  // -it needs a terminal on kubectl's side: script(1) gives it one.
  auto tty = run({"script", "-qec",
                  kubectl.binary() + " --kubeconfig=" + kubectl.kubeconfig() + " exec -it web -c writer -- tty",
                  "/dev/null"});
  EXPECT_NE(tty.out.find("/dev/pts/"), std::string::npos) << tty.out << tty.err;
  auto missing = kubectl({"exec", "web", "-c", "nope", "--", "true"});
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("container nope is not valid for pod web"), std::string::npos) << missing.err;
}

// kubectl port-forward through the apiserver to the kubelet, which connects to the port inside the pod's network
// namespace: first over kubectl's default WebSocket tunnel, then over its SPDY fallback. Pages come back through
// several connections one after the other and two at once; a port nobody listens on is an error, not a hang.
TEST_F(KubeletTest, PortForwardReachesThePodPortThroughTheApiServer) {
  auto pods = client_->resource("pods", "default");
  pods.create(json::parse(kTwoContainerPod));
  ASSERT_TRUE(wait_for([&] { return pod_status("web")["phase"] == "Running"; }, 30s)) << kubelet_->log();
  // Running means started, not listening yet: kubectl port-forward (1.33) gives up at the first refused connection.
  std::string ip = pod_status("web")["podIP"];
  ASSERT_TRUE(wait_for([&] {
    return run({"curl", "-sS", "--max-time", "5", "http://" + ip + "/"}, "", 10).out == "page-from-web\n";
  })) << kubelet_->log();
  Kubectl kubectl(server_->url());
  std::string home = make_temp_dir("port-forward");

  // kubectl port-forward in the background; its output goes to a file.
  struct Background {
    pid_t pid = -1;
    std::string log_path;
    std::string log() const {
      std::ifstream in(log_path);
      std::stringstream ss;
      ss << in.rdbuf();
      return ss.str();
    }
    std::optional<int> exited() {
      int status = 0;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      return std::nullopt;
    }
    void stop() {
      if (pid <= 0) return;
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
    ~Background() { stop(); }
  };
  auto port_forward = [&](const std::string& env, int local, int remote, Background& bg) {
    bg.log_path = home + "/port-forward-" + std::to_string(local) + ".log";
    std::vector<std::string> argv = {"env", "HOME=" + home, env, kubectl.binary(), "--kubeconfig=" + kubectl.kubeconfig(),
                                     "port-forward", "pod/web", std::to_string(local) + ":" + std::to_string(remote)};
    bg.pid = ::fork();
    if (bg.pid == 0) {
      int out = ::open(bg.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = ::open("/dev/null", O_RDONLY);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> a;
      for (auto& arg : argv) a.push_back(arg.data());
      a.push_back(nullptr);
      ::execvp(a[0], a.data());
      ::_exit(127);
    }
    return wait_for([&] { return bg.log().find("Forwarding from 127.0.0.1:" + std::to_string(local)) != std::string::npos; });
  };
  auto fetch = [](int local) {
    return run({"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(local) + "/"}, "", 20);
  };

  for (std::string env : {"KUBECTL_PORT_FORWARD_WEBSOCKETS=true", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}) {
    SCOPED_TRACE(env);
    bool websocket = env.find("true") != std::string::npos;
    int local = free_port();
    Background bg;
    ASSERT_TRUE(port_forward(env, local, 80, bg)) << bg.log() << kubelet_->log();
    for (int i = 0; i < 3; ++i) {
      auto page = fetch(local);
      EXPECT_EQ(page.rc, 0) << page.err;
      EXPECT_EQ(page.out, "page-from-web\n");
    }
    CmdResult a, b;
    std::thread first([&] { a = fetch(local); });
    std::thread second([&] { b = fetch(local); });
    first.join();
    second.join();
    EXPECT_EQ(a.out, "page-from-web\n") << a.err;
    EXPECT_EQ(b.out, "page-from-web\n") << b.err;
    EXPECT_FALSE(bg.exited()) << bg.log();
    EXPECT_EQ(bg.log().find("error"), std::string::npos) << bg.log();
    // The kubelet saw the transport kubectl was asked for (a failed WebSocket would have fallen back silently).
    std::string mode = websocket ? "(SPDY/3.1 in a WebSocket)" : "(SPDY/3.1) from";
    EXPECT_NE(kubelet_->log().find("port-forward to pod default/web " + mode), std::string::npos) << kubelet_->log();
  }

  // Nothing listens on port 81: the connection is closed and kubectl reports the kubelet's error and exits.
  int local = free_port();
  Background bg;
  ASSERT_TRUE(port_forward("KUBECTL_PORT_FORWARD_WEBSOCKETS=true", local, 81, bg)) << bg.log();
  auto refused = fetch(local);
  EXPECT_NE(refused.out, "page-from-web\n");
  std::optional<int> rc;
  EXPECT_TRUE(wait_for([&] { return (rc = bg.exited()).has_value(); }, 20s)) << bg.log();
  EXPECT_NE(rc.value_or(0), 0);
  EXPECT_NE(bg.log().find("error forwarding port 81 to pod web"), std::string::npos) << bg.log();
  std::filesystem::remove_all(home);
}
