// `kctl local up|status|down` as the README runs it: the daemons start in the background, the examples are
// applied, kubectl works with the written kubeconfig, and down removes every process and file; with worker nodes,
// the example pod runs, pods on different nodes reach each other, and down leaves nothing behind.
#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include <sched.h>

#include <gtest/gtest.h>

#include "harness.h"
#include "node_harness.h"

using namespace kctl::test;
using nlohmann::json;

TEST(LocalCluster, UpStatusDown) {
  std::string dir = make_temp_dir("local") + "/cluster";
  std::string port = std::to_string(free_port());
  std::string kctl = std::string(KCTL_BIN_DIR) + "/kctl";
  // HTTPS on a port of its own too: this test runs in the machine's network namespace.
  std::string secure_port = std::to_string(free_port());
  auto r = run({kctl, "local", "up", "--dir", dir, "--api-port", port, "--secure-port", secure_port, "--workers", "0", "--examples",
                std::string(KCTL_SOURCE_DIR) + "/examples"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("deployment/web created"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/kubeconfig"));

  r = run({kctl, "local", "status", "--dir", dir, "--api-port", port});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("kctl-apiserver: running"), std::string::npos) << r.out;

  std::string kubectl = Kubectl::find("");
  r = run({"env", "HOME=" + dir, kubectl, "--kubeconfig", dir + "/kubeconfig", "--cache-dir", dir + "/cache", "get",
           "deploy,svc,rc", "-n", "demo"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("deployment.apps/web"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("service/echo"), std::string::npos) << r.out;

  // up again is harmless: the cluster is there, the examples are re-applied
  r = run({kctl, "local", "up", "--dir", dir, "--api-port", port, "--examples", std::string(KCTL_SOURCE_DIR) + "/examples"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;

  r = run({kctl, "local", "down", "--dir", dir});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir));
  r = run({kctl, "local", "status", "--dir", dir, "--api-port", port});
  EXPECT_EQ(r.rc, 3);
  r = run({"sh", "-c", "pgrep -f '[k]ctl-apiserver --data-dir=" + dir + "' || true"});
  EXPECT_EQ(r.out, "") << "a daemon outlived `kctl local down`";
}

namespace {

std::string pod_of(const std::string& name, const std::string& node) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec",
             {{"nodeName", node},
              {"containers",
               json::array({{{"name", "httpd"},
                             {"image", "kctl/busybox"},
                             {"command", {"sh", "-c", "mkdir /www; echo " + name + " > /www/index.html; httpd -f -p 80 -h /www"}}}})}}}};
  return p.dump();
}

std::string mounts_under(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string out;
  for (std::string line; std::getline(in, line);)
    if (line.find(" " + dir + "/") != std::string::npos) out += line + "\n";
  return out;
}

}  // namespace

// Two workers in their own network namespaces (inside one of the test's, so the host is untouched): both register
// Ready, the example pod runs on the first, a pod on each node reaches the other's by IP (the kubelets route each
// other's podCIDRs), and down removes pods, namespaces, links, mounts and processes.
TEST(LocalCluster, WorkersRunPodsThatReachEachOtherAcrossNodes) {
  ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root";
  run({"ip", "link", "set", "lo", "up"});
  ensure_system_bus();
  for (int i = 1; i <= 2; ++i)
    if (std::filesystem::exists("/run/netns/kctl-worker-" + std::to_string(i)))
      GTEST_SKIP() << "a local cluster with the default name runs on this machine";
  std::string dir = make_temp_dir("local-workers") + "/cluster";
  std::string port = std::to_string(free_port());
  std::string kctl = std::string(KCTL_BIN_DIR) + "/kctl";
  auto r = run({kctl, "local", "up", "--dir", dir, "--api-port", port, "--examples",
                std::string(KCTL_SOURCE_DIR) + "/examples"}, "", 180);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  // up ends by showing the nodes and pods: both workers Ready, the example pod Running on the first.
  EXPECT_NE(r.out.find("node/kctl-worker-1   Ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("node/kctl-worker-2   Ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pod/web"), std::string::npos) << r.out;
  Kubectl kubectl("http://127.0.0.1:" + port);
  auto web = parse_json(kubectl({"get", "pod", "web", "-n", "demo", "-o", "json"}).out);
  EXPECT_EQ(web["status"]["phase"], "Running") << web["status"];
  EXPECT_EQ(web["status"]["hostIP"], "10.250.0.11");
  EXPECT_EQ(web["status"]["podIP"].get<std::string>().rfind("10.244.1.", 0), 0u) << web["status"];
  // The writer writes its page, then fetches it, every 5 s: a moment after Running there may be no page yet (404),
  // and its first fetch may come before httpd listens.
  auto until_contains = [](const std::function<CmdResult()>& cmd, const std::string& text) {
    CmdResult r;
    for (int i = 0; i < 40 && r.out.find(text) == std::string::npos; ++i) {
      if (i) std::this_thread::sleep_for(std::chrono::milliseconds(500));
      r = cmd();
    }
    return r;
  };
  auto page = until_contains([&] {
    return kubectl({"exec", "-n", "demo", "web", "-c", "writer", "--", "wget", "-q", "-O", "-", "http://localhost/"});
  }, "hello from web on kctl-worker-1");
  EXPECT_NE(page.out.find("hello from web on kctl-worker-1"), std::string::npos) << page.out << page.err;
  auto logs = until_contains([&] { return kubectl({"logs", "-n", "demo", "web", "-c", "writer", "--tail=1"}); },
                             "hello from web");
  EXPECT_NE(logs.out.find("hello from web"), std::string::npos) << logs.out << logs.err;

  // Each worker's kubelet on its node's own bus, as busctl shows it.
  std::string bus = "--address=unix:path=" + dir + "/nodes/kctl-worker-1/dbus/bus";
  auto prop = [&](const std::string& name) {
    return run({"busctl", bus, "get-property", "org.kctl.Kubelet1", "/org/kctl/Kubelet1", "org.kctl.Kubelet1", name}).out;
  };
  EXPECT_EQ(prop("NodeName"), "s \"kctl-worker-1\"\n");
  EXPECT_EQ(prop("Ready"), "b true\n");
  EXPECT_EQ(prop("PodCIDR"), "s \"10.244.1.0/24\"\n");
  // As many as the API shows Running on the node (the examples' controllers put pods there too).
  auto running_on_node = [&] {
    auto list = parse_json(kubectl({"get", "pods", "-A", "--field-selector=spec.nodeName=kctl-worker-1", "-o", "json"}).out);
    int n = 0;
    for (const auto& p : list.value("items", json::array())) n += p.value("/status/phase"_json_pointer, std::string()) == "Running";
    return n;
  };
  EXPECT_TRUE(eventually([&] { return prop("RunningPods") == "u " + std::to_string(running_on_node()) + "\n"; }))
      << prop("RunningPods") << " running: " << running_on_node();
  auto listed = run({"busctl", bus, "--json=short", "call", "org.kctl.Kubelet1", "/org/kctl/Kubelet1",
                     "org.kctl.Kubelet1", "ListPods"});
  EXPECT_NE(listed.out.find("[\"demo\",\"web\",\"" + web["metadata"]["uid"].get<std::string>() + "\",\"Running\""),
            std::string::npos) << listed.out << listed.err;
  auto got = run({"busctl", bus, "--json=short", "call", "org.kctl.Kubelet1", "/org/kctl/Kubelet1",
                  "org.kctl.Kubelet1", "GetPod", "ss", "demo", "web"});
  EXPECT_EQ(parse_json(parse_json(got.out)["data"][0].get<std::string>())["metadata"]["uid"], web["metadata"]["uid"]);
  EXPECT_EQ(run({"busctl", bus, "call", "org.kctl.Kubelet1", "/org/kctl/Kubelet1", "org.kctl.Kubelet1", "Sync"}).rc, 0);
  auto nobody = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "busctl", bus, "call",
                     "org.kctl.Kubelet1", "/org/kctl/Kubelet1", "org.kctl.Kubelet1", "Sync"});
  EXPECT_NE(nobody.rc, 0) << "only root may make the kubelet sync";

  // One pod per worker, each fetching the other's page by pod IP.
  ASSERT_EQ(kubectl({"create", "-f", "-"}, pod_of("a", "kctl-worker-1")).rc, 0);
  ASSERT_EQ(kubectl({"create", "-f", "-"}, pod_of("b", "kctl-worker-2")).rc, 0);
  auto wait = kubectl({"wait", "--for=condition=Ready", "pod/a", "pod/b", "--timeout=60s"}, "", 90);
  ASSERT_EQ(wait.rc, 0) << wait.out << wait.err;
  std::string ip_a = kubectl({"get", "pod", "a", "-o", "jsonpath={.status.podIP}"}).out;
  std::string ip_b = kubectl({"get", "pod", "b", "-o", "jsonpath={.status.podIP}"}).out;
  EXPECT_EQ(ip_b.rfind("10.244.2.", 0), 0u) << ip_b;
  auto ab = kubectl({"exec", "a", "--", "wget", "-q", "-O", "-", "http://" + ip_b + "/"});
  EXPECT_EQ(ab.out, "b\n") << ab.err;
  auto ba = kubectl({"exec", "b", "--", "wget", "-q", "-O", "-", "http://" + ip_a + "/"});
  EXPECT_EQ(ba.out, "a\n") << ba.err;
  // The master (here, the test's namespace) reaches the pods too.
  auto from_master = run({"busybox", "wget", "-q", "-O", "-", "http://" + ip_a + "/"});
  EXPECT_EQ(from_master.out, "a\n") << from_master.err;

  // kctl image on a node while its kubelet runs: an imported image runs, a missing one is reported, not fatal.
  std::string node2 = "--root-dir=" + dir + "/nodes/kctl-worker-2";
  r = run({kctl, "image", "import", node2, "example.org/tools:1.0", dir + "/images/busybox"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  r = run({kctl, "image", "list", node2});
  EXPECT_NE(r.out.find("example.org/tools"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("docker.io/kctl/busybox"), std::string::npos) << r.out;
  json tools = parse_json(pod_of("tools", "kctl-worker-2"));
  tools["spec"]["containers"][0]["image"] = "example.org/tools:1.0";
  json missing = parse_json(pod_of("missing", "kctl-worker-2"));
  missing["spec"]["containers"][0]["image"] = "example.org/nope:1.0";
  missing["spec"]["containers"][0]["imagePullPolicy"] = "Never";
  ASSERT_EQ(kubectl({"create", "-f", "-"}, tools.dump()).rc, 0);
  ASSERT_EQ(kubectl({"create", "-f", "-"}, missing.dump()).rc, 0);
  wait = kubectl({"wait", "--for=condition=Ready", "pod/tools", "--timeout=60s"}, "", 90);
  EXPECT_EQ(wait.rc, 0) << wait.out << wait.err;
  wait = kubectl({"wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ErrImageNeverPull",
                  "pod/missing", "--timeout=60s"}, "", 90);
  EXPECT_EQ(wait.rc, 0) << wait.out << wait.err << kubectl({"get", "pod", "missing", "-o", "yaml"}).out;
  r = run({kctl, "image", "rm", node2, "example.org/tools:1.0", "example.org/never:1.0"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("Deleted: example.org/tools:1.0"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("no such image: example.org/never:1.0"), std::string::npos) << r.err;

  std::vector<std::string> netns = {"kctl-worker-1", "kctl-worker-2"};
  for (const auto& [ns, pod] : {std::pair{"demo", "web"}, {"default", "a"}, {"default", "b"}, {"default", "tools"}})
    netns.push_back("kctl-" + kubectl({"get", "pod", pod, "-n", ns, "-o", "jsonpath={.metadata.uid}"}).out);

  r = run({kctl, "local", "down", "--dir", dir}, "", 180);
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir));
  for (const auto& ns : netns) EXPECT_FALSE(std::filesystem::exists("/run/netns/" + ns)) << ns;
  EXPECT_EQ(run({"sh", "-c", "ip -o link show | grep -E 'kctl|veth' || true"}).out, "");
  EXPECT_EQ(mounts_under(dir), "");
  EXPECT_EQ(run({"sh", "-c", "pgrep -af '[s]ystemd-nspawn.*" + dir + "|[k]ctl-kubelet.*" + dir + "' || true"}).out, "");
}
