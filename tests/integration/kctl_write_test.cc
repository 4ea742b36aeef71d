// The writing verbs against a real kctl-apiserver: kubectl 1.33 and kctl run the same commands, each in a namespace
// of its own, and must print the same lines and leave the same objects behind (create, apply client- and
// server-side, replace, patch, label, annotate, scale, run, expose, delete, edit).
#include <algorithm>
#include <regex>
#include <thread>

#include "kctl_compare.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

class KctlWriteTest : public KctlTest {
 protected:
  // kubectl writes to a server of its own: the manifests hold cluster-scoped objects (a Namespace, a Node) that the
  // two tools would otherwise both create and delete, each seeing the other's leftovers.
  void SetUp() override {
    KctlTest::SetUp();
    kubectl_server_ = std::make_unique<ApiServerProcess>();
    kubectl_side_ = std::make_unique<Kubectl>(kubectl_server_->url());
    EXPECT_EQ((*kubectl_side_)({"create", "namespace", "k"}).rc, 0);
    ok({"create", "namespace", "c"});
  }
  const std::string& kubeconfig_of(const std::string& ns) const {
    return ns == "k" ? kubectl_side_->kubeconfig() : kubectl_->kubeconfig();
  }
  // The same command by kubectl in namespace k (of its server) and by kctl in namespace c; outputs compared, with
  // the namespaces' names and the ClusterIPs each server allocated masked. `unordered`: kubectl prints the lines in
  // Go's random map order (label --list), so they are compared sorted.
  void both(std::vector<std::string> args, const std::string& input = "", bool unordered = false) {
    auto ka = args, ca = args;
    ka.insert(ka.begin(), {"-n", "k"});
    ca.insert(ca.begin(), {"-n", "c"});
    auto k = (*kubectl_side_)(ka, input);
    auto c = kctl(ca, input);
    EXPECT_EQ(k.rc, c.rc) << joined(args) << "\nkubectl: " << k.out << k.err << "\nkctl: " << c.out << c.err;
    auto unns = [unordered](std::string s, const std::string& ns) {
      for (std::string from : {"\"" + ns + "\"", "namespace " + ns, " " + ns + " ", "namespace: " + ns + "\n"}) {
        std::string to = from;
        to.replace(to.rfind(ns), ns.size(), "NS");
        for (size_t p; (p = s.find(from)) != std::string::npos;) s.replace(p, from.size(), to);
      }
      s = std::regex_replace(s, std::regex(R"(\b10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+\b)"), "CLUSTER-IP");
      // Two objects: two uids, and creation times a second apart when a second boundary falls between the runs.
      s = std::regex_replace(s, std::regex(R"(uid: [0-9a-f-]{36})"), "uid: UID");
      s = std::regex_replace(s, std::regex(R"(creationTimestamp: "[0-9T:Z-]+")"), "creationTimestamp: TIME");
      if (unordered) {
        auto lines = split_lines(s);
        std::sort(lines.begin(), lines.end());
        s.clear();
        for (const auto& l : lines) s += l + "\n";
      }
      return s;
    };
    EXPECT_TRUE(same_columns(unns(k.out, "k"), unns(c.out, "c"))) << "stdout of " << joined(args);
    EXPECT_TRUE(same_columns(unns(k.err, "k"), unns(c.err, "c"))) << "stderr of " << joined(args);
  }
  // The object as each tool left it, without what differs between any two objects (uid, times, versions).
  json state(const std::string& ns, const std::string& what) {
    auto r = run({"env", "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubeconfig_of(ns), "get", what, "-n", ns, "-o", "json"});
    EXPECT_EQ(r.rc, 0) << "get " << what << " -n " << ns << ": " << r.err;
    json o = parse_json(r.out);
    if (!o.is_object()) return o;
    std::function<void(json&)> strip = [&](json& v) {
      if (v.is_object()) {
        for (const char* k : {"uid", "resourceVersion", "creationTimestamp", "namespace", "clusterIP", "clusterIPs",
                              "kubectl.kubernetes.io/restartedAt"})
          v.erase(k);
        if (v.contains("kubectl.kubernetes.io/last-applied-configuration")) {
          std::string s = v["kubectl.kubernetes.io/last-applied-configuration"];
          for (size_t p; (p = s.find("\"namespace\":\"" + ns + "\"")) != std::string::npos;)
            s.replace(p, 14 + ns.size(), "\"namespace\":\"NS\"");
          v["kubectl.kubernetes.io/last-applied-configuration"] = s;
        }
        for (auto& [k, child] : v.items()) strip(child);
      } else if (v.is_array()) {
        for (auto& child : v) strip(child);
      }
    };
    strip(o);
    return o;
  }
  void same_state(const std::string& what) { EXPECT_EQ(state("k", what), state("c", what)) << what; }

  // kctl in namespace ns of that namespace's server (k: kubectl's, c: kctl's).
  CmdResult kctl_in(const std::string& ns, std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubeconfig_of(ns), "-n", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, input);
    EXPECT_EQ(r.rc, 0) << joined(args) << ": " << r.out << r.err;
    return r;
  }
  // What a deployment controller would have left behind for deployment "api" (image nginx:1) in ns: revision 1
  // (nginx:0) and 2 (the current template) as ReplicaSets it owns, and a status that observed the spec.
  void fake_deployment_controller(const std::string& ns) {
    std::string uid = kctl_in(ns, {"get", "deploy", "api", "-o", "jsonpath={.metadata.uid}"}).out;
    std::string rs;
    for (int rev : {1, 2}) {
      std::string hash = "h" + std::to_string(rev);
      rs += "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: api-" + hash +
            "\n  labels:\n    app: api\n    pod-template-hash: " + hash +
            "\n  annotations:\n    deployment.kubernetes.io/revision: \"" + std::to_string(rev) +
            "\"\n  ownerReferences:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: api\n    uid: " + uid +
            "\n    controller: true\n    blockOwnerDeletion: true\nspec:\n  replicas: " + std::to_string(rev - 1) +
            "\n  selector:\n    matchLabels:\n      app: api\n      pod-template-hash: " + hash +
            "\n  template:\n    metadata:\n      labels:\n        app: api\n        pod-template-hash: " + hash +
            "\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:" + std::to_string(rev - 1) + "\n";
    }
    kctl_in(ns, {"create", "-f", "-"}, rs);
    kctl_in(ns, {"patch", "deploy", "api", "--subresource=status", "--type=merge", "-p",
                 R"({"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,)"
                 R"("availableReplicas":1,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},)"
                 R"({"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}})"});
  }

  std::unique_ptr<ApiServerProcess> kubectl_server_;
  std::unique_ptr<Kubectl> kubectl_side_;
};

TEST_F(KctlWriteTest, CreateApplyReplaceMatchKubectl) {
  std::string all = file("all.yaml", kCompareManifests);
  std::string dir = make_temp_dir("manifests");
  write_file(dir, "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fa\ndata:\n  x: \"1\"\n");
  write_file(dir, "b.json", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fb"}})");
  write_file(dir, "ignored.txt", "not a manifest");
  run({"mkdir", "-p", dir + "/sub"});
  write_file(dir + "/sub", "c.yml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: fc\n");
  both({"create", "-f", file("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\nspec:\n  containers:\n  - name: m\n    image: x\n")});
  both({"create", "-f", dir});
  both({"create", "-f", dir, "-R", "--dry-run=server"});
  both({"create", "-f", dir, "-R"});  // fa and fb exist, fc is new
  both({"create", "-f", "-"}, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stdin\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\nstringData:\n  a: b\n");
  both({"create", "-f", "-"}, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stdin\n");  // AlreadyExists
  both({"create", "-f", file("typo.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\nspec:\n  containers:\n  - name: m\n    image: x\n    imagePullPolcy: Always\n")});
  both({"create", "-f", file("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers: []\n")});
  both({"create", "-f", file("nope.yaml", "apiVersion: v9\nkind: Nope\nmetadata:\n  name: x\n")});
  both({"create", "deployment", "gen", "--image=nginx:1.25", "--replicas=2"});
  both({"create", "configmap", "lit", "--from-literal=a=1", "--from-literal=b=2"});
  both({"create", "secret", "generic", "sec", "--from-literal=p=secret"});
  both({"create", "service", "clusterip", "svc1", "--tcp=80:8080"});
  both({"create", "serviceaccount", "robot"});
  both({"apply", "-f", all});
  both({"apply", "-f", all});  // unchanged
  both({"apply", "--server-side", "-f", file("ss.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ss\ndata:\n  a: \"1\"\n")});
  std::string changed = kCompareManifests;
  changed.replace(changed.find("img-a1"), 6, "img-a2");
  changed.erase(changed.find("      - name: b\n        image: img-b\n"), 36);
  both({"apply", "-f", file("changed.yaml", changed)});
  both({"replace", "-f", file("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  labels:\n    r: \"1\"\nspec:\n  containers:\n  - name: m\n    image: x\n")});
  for (const char* what : {"deploy/api", "deploy/gen", "pod/p1", "cm/fa", "cm/fc", "cm/ss", "svc/svc1", "secret/sec", "cm/lit"})
    same_state(what);
}

TEST_F(KctlWriteTest, PatchLabelAnnotateScaleMatchKubectl) {
  both({"create", "-f", file("all.yaml", kCompareManifests)});
  both({"label", "pod", "web", "env=prod"});
  both({"label", "pod", "web", "env=dev"});  // needs --overwrite
  both({"label", "pod", "web", "env=dev", "--overwrite"});
  both({"label", "pod", "web", "env-"});
  both({"label", "pod", "web", "env-"});
  both({"label", "pods", "--all", "all=yes"});
  both({"label", "pod", "web", "--list"}, "", true);
  both({"annotate", "pod", "web", "a=b"});
  both({"annotate", "pod", "web", "a-"});
  both({"patch", "deploy", "api", "-p", R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"img-b2"}]}}}})"});
  both({"patch", "deploy", "api", "-p", R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"img-b2"}]}}}})"});
  both({"patch", "svc", "web", "--type=merge", "-p", R"({"metadata":{"labels":{"m":"1"}}})"});
  both({"patch", "svc", "web", "--type=json", "-p", R"([{"op":"add","path":"/metadata/labels/j","value":"2"}])"});
  both({"patch", "svc", "web", "--type=json", "-p", R"([{"op":"test","path":"/metadata/labels/j","value":"3"}])"});
  both({"patch", "cm", "settings", "-p", "data:\n  mode: slow\n", "--dry-run=client", "-o", "yaml"});
  both({"scale", "rc", "rc1", "--replicas=3"});
  both({"scale", "deployment/api", "--replicas=5"});
  both({"scale", "deploy/api", "--current-replicas=4", "--replicas=1"});
  both({"scale", "deploy/api", "--current-replicas=5", "--replicas=1"});
  both({"scale", "rs", "rs1", "--replicas=0", "-o", "name"});
  for (const char* what : {"pod/web", "deploy/api", "svc/web", "rc/rc1", "rs/rs1"}) same_state(what);
}

TEST_F(KctlWriteTest, SetImageMatchesKubectl) {
  both({"create", "-f", file("all.yaml", kCompareManifests)});
  both({"set", "image", "deployment/api", "a=img-a9"});
  both({"set", "image", "deploy/api", "a=img-a9"});  // unchanged
  both({"set", "image", "deploy", "api", "*=img-all", "-o", "name"});
  both({"set", "image", "deployment/api", "nope=x"});
  both({"set", "image", "deployment/api"});
  both({"set", "image", "pod/web", "main=busybox:1.37"});
  both({"set", "image", "rc/rc1", "rs/rs1", "*=img-z"});
  both({"set", "image", "pods", "--all", "main=busybox:1.38", "--dry-run=client"});
  for (const char* what : {"pod/web", "deploy/api", "rc/rc1", "rs/rs1"}) same_state(what);
}

TEST_F(KctlWriteTest, RunExposeDeleteMatchKubectl) {
  both({"create", "-f", file("all.yaml", kCompareManifests)});
  both({"run", "r1", "--image=busybox", "--labels=grp=x", "--", "sleep", "100"});
  both({"run", "r2", "--image=busybox", "--labels=grp=x", "--env=A=1", "--port=8080", "--command", "--", "sh", "-c", "true"});
  both({"run", "r3", "--image=busybox", "--dry-run=client", "-o", "yaml"});
  both({"expose", "pod", "web", "--port=80", "--name=web-pod"});
  both({"expose", "deploy", "api", "--port=8080", "--target-port=80"});
  both({"expose", "rc", "rc1", "--port=80", "--type=NodePort", "--dry-run=client", "-o", "yaml"});
  both({"expose", "rs", "rs1", "--port=80"});
  for (const char* what : {"pod/r1", "pod/r2", "svc/web-pod", "svc/api", "svc/rs1"}) same_state(what);
  both({"delete", "pod", "r1"});
  both({"delete", "pods", "-l", "grp=x"});
  both({"delete", "pods", "-l", "grp=none"});
  both({"delete", "pod", "nope"});
  both({"delete", "pod", "nope", "--ignore-not-found"});
  both({"delete", "svc", "web-pod", "--wait=false", "--grace-period=0", "--force"});
  both({"delete", "cm", "--all", "--dry-run=server"});
  both({"delete", "cm", "--all", "-l", "a=b"});
  both({"delete", "cm", "settings", "--force", "--grace-period=5"});
  both({"delete", "cm", "settings", "--now", "--grace-period=3"});
  both({"delete", "cm", "settings", "--force", "--dry-run=server"});
  both({"delete", "cm", "settings", "--grace-period=0", "-o", "name"});  // 0 without --force is 1
  both({"delete", "rs", "rs1", "--now", "--wait=false"});
  both({"delete", "pods", "--all"});
  // Some of these are gone already: both report it and neither waits (the Namespace would wait for a namespace
  // controller).
  both({"delete", "-f", file("all.yaml", kCompareManifests), "--now"});
  both({"delete", "deploy"});
  both({"get", "all"});
}

// rollout without a deployment controller (there is none yet): what a deployment with no ReplicaSets says, then
// history, a revision's template, status, undo, restart, pause and resume over the ReplicaSets and status a
// controller would have written (made here by hand).
TEST_F(KctlWriteTest, RolloutMatchesKubectl) {
  both({"create", "deployment", "api", "--image=nginx:1"});
  both({"rollout", "history", "deploy/api"});
  both({"rollout", "undo", "deploy/api"});
  both({"rollout", "status", "deploy/api", "--watch=false"});
  both({"rollout", "status", "deploy/api", "--timeout=1s"});
  fake_deployment_controller("k");
  fake_deployment_controller("c");
  both({"rollout", "history", "deployment/api"});
  both({"rollout", "history", "deploy/api", "--revision=1"});
  both({"rollout", "history", "deploy/api", "--revision=7"});
  both({"rollout", "status", "deploy/api"});
  both({"rollout", "status", "deploy/api", "--revision=2"});
  both({"rollout", "undo", "deploy/api", "--to-revision=1", "--dry-run=client"});
  both({"rollout", "undo", "deploy/api", "--to-revision=1"});  // no annotations to replace: the patch fails
  for (const char* ns : {"k", "c"}) kctl_in(ns, {"annotate", "deploy", "api", "deployment.kubernetes.io/revision=2"});
  both({"rollout", "undo", "deploy/api", "--to-revision=1"});
  same_state("deploy/api");
  both({"rollout", "undo", "deploy/api", "--to-revision=9"});
  both({"rollout", "restart", "deploy/api"});
  both({"rollout", "pause", "deploy/api"});
  both({"rollout", "pause", "deploy/api"});
  both({"rollout", "resume", "deploy/api"});
  both({"rollout", "status", "deploy/api", "--timeout=1s"});  // the new generation is not observed
  same_state("deploy/api");
}

// wait: a condition that is not there (timeout), then is (a kubelet's Ready, written here by hand), a jsonpath,
// and --for=delete ending when the object goes.
TEST_F(KctlWriteTest, WaitMatchesKubectl) {
  both({"run", "w1", "--image=busybox"});
  both({"run", "w2", "--image=busybox"});
  both({"wait", "pod/w1", "--for=condition=Ready", "--timeout=1s"});
  for (const char* ns : {"k", "c"})
    kctl_in(ns, {"patch", "pod", "w1", "--subresource=status", "--type=merge", "-p",
                 R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"});
  both({"wait", "pod/w1", "--for=condition=Ready", "--timeout=5s"});
  both({"wait", "pod/w1", "--for=condition=Ready=false", "--timeout=1s"});
  both({"wait", "pods", "--all", "--for=jsonpath={.status.phase}=Pending", "--timeout=5s"});
  both({"wait", "pod/nope", "--for=delete", "--timeout=1s"});
  both({"wait", "pod/w1", "--for=nonsense"});
  CmdResult k, c;
  std::thread tk([&] { k = (*kubectl_side_)({"-n", "k", "wait", "pod/w2", "--for=delete", "--timeout=20s"}); });
  std::thread tc([&] { c = kctl({"-n", "c", "wait", "pod/w2", "--for=delete", "--timeout=20s"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kctl_in("k", {"delete", "pod", "w2", "--wait=false"});
  kctl_in("c", {"delete", "pod", "w2", "--wait=false"});
  tk.join();
  tc.join();
  EXPECT_EQ(k.rc, 0) << k.err;
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_EQ(c.out, "pod/w2 condition met\n");
  EXPECT_EQ(k.out, c.out);
}

// delete waits until the object is gone: a finalizer holds it, and removing the finalizer ends the wait.
TEST_F(KctlWriteTest, DeleteWaitsForTheObjectToBeGone) {
  ok({"create", "-f", file("f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers:\n  - example.com/hold\n")});
  CmdResult r;
  std::thread del([&] { r = kctl({"delete", "cm", "held"}, "", 30); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto still = kctl({"get", "cm", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"});
  EXPECT_FALSE(still.out.empty()) << still.out << still.err;
  ok({"patch", "cm", "held", "--type=merge", "-p", R"({"metadata":{"finalizers":null}})"});
  del.join();
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap \"held\" deleted\n");
  ok({"create", "-f", file("f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers:\n  - example.com/hold\n")});
  r = kctl({"delete", "cm", "held", "--timeout=1s"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "error: timed out waiting for the condition on configmaps/held\n");
  EXPECT_EQ(ok({"delete", "cm", "held", "--wait=false"}).out, "configmap \"held\" deleted\n");
}

TEST_F(KctlWriteTest, EditAppliesTheEditorsChangeAndReopensOnError) {
  ok({"create", "-f", file("e1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e1\ndata:\n  a: \"1\"\n")});
  std::string editor = write_file(dir_, "editor.sh", "#!/bin/sh\nsed -i 's/^  a: .*/  a: \"9\"/' \"$1\"\n");
  run({"chmod", "+x", editor});
  auto r = run({"env", "EDITOR=" + editor, "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubectl_->kubeconfig(), "edit", "cm", "e1"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "configmap/e1 edited\n");
  EXPECT_EQ(ok({"get", "cm", "e1", "-o", "jsonpath={.data.a}"}).out, "9");
  // An invalid change: the file comes back with the error on top; the second editor run fixes it.
  std::string counter = dir_ + "/count";
  std::string editor2 = write_file(dir_, "editor2.sh",
                                   "#!/bin/sh\nn=$(cat " + counter + " 2>/dev/null || echo 0); echo $((n+1)) > " + counter +
                                       "\nif [ $n = 0 ]; then sed -i 's/^  name: e1/  name: e1\\n  labels:\\n    \"bad key\": x/' \"$1\"; "
                                       "else grep -q 'was not valid' \"$1\" && sed -i '/bad key/d; /labels:/d' \"$1\" && "
                                       "sed -i 's/^  a: .*/  a: \"7\"/' \"$1\"; fi\n");
  run({"chmod", "+x", editor2});
  r = run({"env", "EDITOR=" + editor2, "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubectl_->kubeconfig(), "edit", "cm/e1"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(ok({"get", "cm", "e1", "-o", "jsonpath={.data.a}"}).out, "7");
  EXPECT_EQ(run({"cat", counter}).out, "2\n");
  // No change: cancelled, as kubectl says.
  r = run({"env", "EDITOR=true", "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubectl_->kubeconfig(), "edit", "cm", "e1"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "Edit cancelled, no changes made.\n");
}

}  // namespace
