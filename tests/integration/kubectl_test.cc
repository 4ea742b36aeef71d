// The real kubectl (1.33, and 1.27-1.32 where installed) against a real kctl-apiserver: the commands a
// Kubernetes user types, with the output they expect.
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

const char* kManifests = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    tier: front
spec:
  containers:
  - name: main
    image: busybox:1.36
    ports:
    - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: a
        image: img-a1
        ports:
        - containerPort: 80
        - containerPort: 443
        env:
        - name: XV
          value: "1"
        - name: YV
          value: "2"
      - name: b
        image: img-b
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc1
spec:
  replicas: 1
  template:
    metadata:
      labels:
        app: rc1
    spec:
      containers:
      - name: c
        image: nginx
)";

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    ASSERT_FALSE(kubectl_->binary().empty()) << "kubectl not found";
    dir_ = make_temp_dir("manifests");
  }
  CmdResult k(const std::vector<std::string>& args, const std::string& input = "") { return (*kubectl_)(args, input); }
  CmdResult ok(const std::vector<std::string>& args, const std::string& input = "") {
    auto r = k(args, input);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.rc, 0) << "kubectl " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r;
  }
  std::string file(const std::string& name, const std::string& content) { return write_file(dir_, name, content); }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<Kubectl> kubectl_;
  std::string dir_;
};

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_F(KubectlTest, VersionAndApiResources) {
  auto r = ok({"version", "-o", "json"});
  json v = parse_json(r.out);
  EXPECT_EQ(v["serverVersion"]["major"], "1");
  r = ok({"api-resources"});
  EXPECT_TRUE(contains(r.out, "deployments")) << r.out;
  EXPECT_TRUE(contains(r.out, "deploy")) << r.out;
  EXPECT_TRUE(contains(r.out, "replicationcontrollers")) << r.out;
  EXPECT_TRUE(contains(r.out, "leases")) << r.out;
  r = ok({"cluster-info"});
  EXPECT_TRUE(contains(r.out, "is running at")) << r.out;
}

TEST_F(KubectlTest, CreateAndGetInEveryOutputFormat) {
  auto r = ok({"create", "-f", file("all.yaml", kManifests)});
  EXPECT_TRUE(contains(r.out, "pod/web created")) << r.out;
  EXPECT_TRUE(contains(r.out, "deployment.apps/api created")) << r.out;
  EXPECT_TRUE(contains(r.out, "service/web created")) << r.out;
  EXPECT_TRUE(contains(r.out, "replicationcontroller/rc1 created")) << r.out;

  r = ok({"get", "pods"});
  EXPECT_TRUE(contains(r.out, "NAME   READY   STATUS    RESTARTS   AGE")) << r.out;
  EXPECT_TRUE(contains(r.out, "web    0/1     Pending   0")) << r.out;
  r = ok({"get", "pods", "-o", "wide"});
  EXPECT_TRUE(contains(r.out, "IP       NODE     NOMINATED NODE   READINESS GATES")) << r.out;
  r = ok({"get", "pod", "web", "-o", "yaml"});
  EXPECT_TRUE(contains(r.out, "restartPolicy: Always")) << r.out;
  EXPECT_TRUE(contains(r.out, "kind: Pod")) << r.out;
  r = ok({"get", "pod", "web", "-o", "json"});
  EXPECT_EQ(parse_json(r.out)["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
  r = ok({"get", "pods", "-o", "jsonpath={.items[*].metadata.name}"});
  EXPECT_EQ(r.out, "web");
  r = ok({"get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"});
  EXPECT_TRUE(contains(r.out, "10.")) << r.out;
  r = ok({"get", "pods", "-l", "tier=front", "--show-labels"});
  EXPECT_TRUE(contains(r.out, "app=web,tier=front")) << r.out;
  r = ok({"get", "pods", "-l", "tier in (back)"});
  EXPECT_TRUE(contains(r.err, "No resources found in default namespace.")) << r.err;
  r = ok({"get", "services", "-A"});
  EXPECT_TRUE(contains(r.out, "NAMESPACE   NAME         TYPE        CLUSTER-IP")) << r.out;
  EXPECT_TRUE(contains(r.out, "default     kubernetes   ClusterIP   10.96.0.1")) << r.out;
  r = ok({"get", "deploy,rc", "-o", "wide"});
  EXPECT_TRUE(contains(r.out, "deployment.apps/api   0/2")) << r.out;
  EXPECT_TRUE(contains(r.out, "replicationcontroller/rc1   1         0         0")) << r.out;
  r = ok({"get", "pods", "--sort-by=.metadata.name", "-L", "app"});
  EXPECT_TRUE(contains(r.out, "APP")) << r.out;
  r = k({"get", "pod", "nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.err, "Error from server (NotFound): pods \"nope\" not found")) << r.err;
  r = k({"create", "-f", file("again.yaml", kManifests)});
  EXPECT_TRUE(contains(r.err, "AlreadyExists")) << r.err;
}

TEST_F(KubectlTest, WatchSeesAddedModifiedDeleted) {
  std::thread actions([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    k({"run", "w", "--image=busybox", "--", "sleep", "100"});
    k({"label", "pod", "w", "x=y"});
    k({"delete", "pod", "w"});
  });
  auto r = (*kubectl_)({"get", "pods", "-w", "--output-watch-events"}, "", 6);
  actions.join();
  EXPECT_TRUE(contains(r.out, "ADDED      w")) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "MODIFIED   w")) << r.out;
  EXPECT_TRUE(contains(r.out, "DELETED    w")) << r.out;
}

TEST_F(KubectlTest, ApplyClientSideMergesListsByKey) {
  auto path = file("app.yaml", kManifests);
  auto r = ok({"apply", "-f", path});
  EXPECT_TRUE(contains(r.out, "deployment.apps/api created")) << r.out;
  r = ok({"apply", "-f", path});
  EXPECT_TRUE(contains(r.out, "deployment.apps/api unchanged")) << r.out;
  // Someone labels it out of band; then the config drops a port, an env var and a container, changes the image,
  // and stops saying how many replicas (so the default comes back, as in Kubernetes).
  ok({"label", "deploy/api", "owner=ops"});
  std::string changed = kManifests;
  auto erase = [&](const std::string& s) { changed.erase(changed.find(s), s.size()); };
  erase("        - containerPort: 443\n");
  erase("        - name: XV\n          value: \"1\"\n");
  erase("      - name: b\n        image: img-b\n");
  erase("  replicas: 2\n  selector:\n    matchLabels:\n      app: api\n");
  changed.replace(changed.find("spec:\n  template:\n    metadata:\n      labels:\n        app: api"), 5,
                  "spec:\n  selector:\n    matchLabels:\n      app: api\n");
  changed.replace(changed.find("img-a1"), 6, "img-a2");
  path = file("app2.yaml", changed);
  r = ok({"apply", "-f", path});
  EXPECT_TRUE(contains(r.out, "deployment.apps/api configured")) << r.out;
  json d = parse_json(ok({"get", "deploy", "api", "-o", "json"}).out);
  json cs = d["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(cs.size(), 1u) << cs;
  EXPECT_EQ(cs[0]["image"], "img-a2");
  EXPECT_EQ(cs[0]["ports"].size(), 1u);
  EXPECT_EQ(cs[0]["env"], json::parse(R"([{"name":"YV","value":"2"}])"));
  EXPECT_EQ(d["metadata"]["labels"]["owner"], "ops");  // the out-of-band change survives
  EXPECT_EQ(d["spec"]["replicas"], 1);
  EXPECT_EQ(d["metadata"]["generation"], 2);  // the label did not bump it; the template change did
}

TEST_F(KubectlTest, ApplyServerSideCreatesThenUpdates) {
  std::string cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ss\ndata:\n  a: \"1\"\n---\n"
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ss2\ndata:\n  b: \"1\"\n";
  auto r = ok({"apply", "--server-side", "-f", file("ss.yaml", cm)});
  EXPECT_TRUE(contains(r.out, "configmap/ss serverside-applied")) << r.out;
  EXPECT_TRUE(contains(r.out, "configmap/ss2 serverside-applied")) << r.out;
  cm.replace(cm.find("a: \"1\""), 6, "a: \"2\"");
  ok({"apply", "--server-side", "-f", file("ss.yaml", cm)});
  EXPECT_EQ(ok({"get", "cm", "ss", "-o", "jsonpath={.data.a}"}).out, "2");
}

TEST_F(KubectlTest, LabelAnnotatePatch) {
  ok({"create", "-f", file("all.yaml", kManifests)});
  ok({"label", "pod", "web", "env=prod"});
  auto r = k({"label", "pod", "web", "env=dev"});
  EXPECT_NE(r.rc, 0);  // needs --overwrite
  ok({"label", "pod", "web", "env=dev", "--overwrite"});
  ok({"annotate", "pod", "web", "note=hello"});
  json p = parse_json(ok({"get", "pod", "web", "-o", "json"}).out);
  EXPECT_EQ(p["metadata"]["labels"]["env"], "dev");
  EXPECT_EQ(p["metadata"]["annotations"]["note"], "hello");
  ok({"label", "pod", "web", "env-"});
  ok({"annotate", "pod", "web", "note-"});
  // strategic: a container merged by name, not replaced
  ok({"patch", "deploy", "api", "-p", R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"img-b2"}]}}}})"});
  // merge and json
  ok({"patch", "svc", "web", "--type=merge", "-p", R"({"metadata":{"labels":{"m":"1"}}})"});
  ok({"patch", "svc", "web", "--type=json", "-p", R"([{"op":"add","path":"/metadata/labels/j","value":"2"}])"});
  r = k({"patch", "svc", "web", "--type=json", "-p", R"([{"op":"test","path":"/metadata/labels/j","value":"3"}])"});
  EXPECT_NE(r.rc, 0);
  p = parse_json(ok({"get", "pod", "web", "-o", "json"}).out);
  EXPECT_FALSE(p["metadata"]["labels"].contains("env"));
  json d = parse_json(ok({"get", "deploy", "api", "-o", "json"}).out);
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"].size(), 2u);
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][1]["image"], "img-b2");
  json s = parse_json(ok({"get", "svc", "web", "-o", "json"}).out);
  EXPECT_EQ(s["metadata"]["labels"], json::parse(R"({"j":"2","m":"1"})"));
}

TEST_F(KubectlTest, ScaleReplicationControllerAndDeployment) {
  ok({"create", "-f", file("all.yaml", kManifests)});
  auto r = ok({"scale", "rc", "rc1", "--replicas=3"});
  EXPECT_TRUE(contains(r.out, "replicationcontroller/rc1 scaled")) << r.out;
  ok({"scale", "deployment/api", "--replicas=5"});
  EXPECT_EQ(ok({"get", "rc", "rc1", "-o", "jsonpath={.spec.replicas}"}).out, "3");
  EXPECT_EQ(ok({"get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"}).out, "5");
  r = k({"scale", "deploy/api", "--current-replicas=4", "--replicas=1"});
  EXPECT_NE(r.rc, 0);
  ok({"scale", "deploy/api", "--current-replicas=5", "--replicas=1"});
  EXPECT_EQ(ok({"get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"}).out, "1");
}

TEST_F(KubectlTest, DeleteByNameFileAndSelector) {
  auto path = file("all.yaml", kManifests);
  ok({"create", "-f", path});
  auto r = ok({"delete", "pod", "web"});
  EXPECT_TRUE(contains(r.out, "pod \"web\" deleted")) << r.out;
  ok({"run", "a1", "--image=busybox", "--labels=grp=x"});
  ok({"run", "a2", "--image=busybox", "--labels=grp=x"});
  ok({"run", "b1", "--image=busybox", "--labels=grp=y"});
  r = ok({"delete", "pods", "-l", "grp=x"});
  EXPECT_TRUE(contains(r.out, "pod \"a1\" deleted")) << r.out;
  EXPECT_TRUE(contains(r.out, "pod \"a2\" deleted")) << r.out;
  r = ok({"get", "pods", "-o", "name"});
  EXPECT_EQ(r.out, "pod/b1\n");
  r = k({"delete", "-f", path});
  EXPECT_TRUE(contains(r.out, "deployment.apps \"api\" deleted")) << r.out;
  EXPECT_TRUE(contains(r.out, "service \"web\" deleted")) << r.out;
  EXPECT_TRUE(contains(r.err, "pods \"web\" not found")) << r.err;
}

TEST_F(KubectlTest, DescribeAndExplain) {
  ok({"create", "-f", file("all.yaml", kManifests)});
  auto r = ok({"describe", "pod", "web"});
  EXPECT_TRUE(contains(r.out, "Name:             web")) << r.out;
  EXPECT_TRUE(contains(r.out, "busybox:1.36")) << r.out;
  EXPECT_TRUE(contains(r.out, "Events:")) << r.out;
  r = ok({"describe", "deploy", "api"});
  EXPECT_TRUE(contains(r.out, "Replicas:")) << r.out;
  r = ok({"describe", "svc", "web"});
  EXPECT_TRUE(contains(r.out, "8080/TCP")) << r.out;
  r = ok({"explain", "pods.spec.containers"});
  EXPECT_TRUE(contains(r.out, "FIELD: containers <[]Container>")) << r.out;
  EXPECT_TRUE(contains(r.out, "image\t<string>")) << r.out;
  r = ok({"explain", "deployment.spec.strategy"});
  EXPECT_TRUE(contains(r.out, "rollingUpdate")) << r.out;
}

// kubectl 1.32+ sends these as protobuf (its typed clients); the object stored must be what JSON would give.
TEST_F(KubectlTest, CreateSubcommandsSendingProtobuf) {
  ok({"create", "configmap", "pc", "--from-literal=a=1"});
  ok({"create", "secret", "generic", "ps", "--from-literal=p=secret"});
  ok({"create", "deployment", "pd", "--image=nginx", "--replicas=2"});
  ok({"create", "service", "nodeport", "pn", "--tcp=80:8080"});
  ok({"create", "namespace", "pns"});
  ok({"create", "serviceaccount", "psa"});
  EXPECT_EQ(ok({"get", "cm", "pc", "-o", "jsonpath={.data.a}"}).out, "1");
  EXPECT_EQ(ok({"get", "secret", "ps", "-o", "jsonpath={.data.p}"}).out, "c2VjcmV0");
  json d = parse_json(ok({"get", "deploy", "pd", "-o", "json"}).out);
  EXPECT_EQ(d["spec"]["replicas"], 2);
  EXPECT_EQ(d["spec"]["template"]["spec"]["restartPolicy"], "Always");  // defaulted, not "" from the wire
  EXPECT_EQ(d["spec"]["strategy"]["type"], "RollingUpdate");
  json s = parse_json(ok({"get", "svc", "pn", "-o", "json"}).out);
  EXPECT_EQ(s["spec"]["type"], "NodePort");
  EXPECT_EQ(s["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_GE(s["spec"]["ports"][0]["nodePort"].get<int>(), 30000);
  ok({"get", "ns", "pns"});
  ok({"get", "sa", "psa"});
}

TEST_F(KubectlTest, EditAppliesTheEditorsChange) {
  ok({"create", "-f", file("e1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e1\ndata:\n  a: \"1\"\n")});
  std::string editor = write_file(dir_, "editor.sh", "#!/bin/sh\nsed -i 's/^  a: .*/  a: \"9\"/' \"$1\"\n");
  run({"chmod", "+x", editor});
  auto r = run({"env", "EDITOR=" + editor, "HOME=" + dir_, kubectl_->binary(), "--kubeconfig=" + kubectl_->kubeconfig(),
                "--cache-dir=" + dir_ + "/cache", "edit", "cm", "e1"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(ok({"get", "cm", "e1", "-o", "jsonpath={.data.a}"}).out, "9");
}

TEST(KubectlVersions, OlderKubectlsWork) {
  ApiServerProcess server;
  for (const char* version : {"1.27", "1.28", "1.29", "1.30", "1.31", "1.32"}) {
    if (Kubectl::find(version).empty()) continue;  // only where the version is installed
    Kubectl k(server.url(), version);
    std::string dir = make_temp_dir("old");
    std::string name = std::string("v") + version;
    name.erase(std::remove(name.begin(), name.end(), '.'), name.end());
    auto expect_ok = [&](const CmdResult& r, const std::string& what) {
      EXPECT_EQ(r.rc, 0) << version << " " << what << ": " << r.out << r.err;
    };
    std::string cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  a: \"1\"\n";
    auto r = k({"apply", "--validate=strict", "-f", write_file(dir, "cm.yaml", cm)});
    expect_ok(r, "apply cm");
    r = k({"get", "cm", name});
    expect_ok(r, "get cm");
    EXPECT_NE(r.out.find("DATA"), std::string::npos) << r.out;
    r = k({"delete", "cm", name});
    expect_ok(r, "delete cm");

    // create -f validates strictly by default, and 1.27-1.31 load /openapi/v2 for it: without it they fail with
    // "failed to download openapi". Quantities and int-or-strings must pass as numbers and names.
    std::string pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                      "\nspec:\n  containers:\n  - name: main\n    image: busybox:1.36\n"
                      "    ports:\n    - containerPort: 8080\n"
                      "    resources:\n      limits:\n        cpu: 1\n        memory: 64Mi\n";
    std::string svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
                      "\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: http\n";
    r = k({"create", "-f", write_file(dir, "pod.yaml", pod), "-f", write_file(dir, "svc.yaml", svc)});
    expect_ok(r, "create");
    EXPECT_TRUE(contains(r.out, "pod/" + name + " created")) << version << ": " << r.out;
    EXPECT_TRUE(contains(r.out, "service/" + name + " created")) << version << ": " << r.out;

    // An unknown field: the server rejects it (the patch operations declare fieldValidation), and kubectl's own
    // schema check, which it runs for a `kind: List`, names it in the type it read from /openapi/v2.
    std::string typo = pod;
    typo.replace(typo.find("name: " + name), 6 + name.size(), "name: " + name + "-typo");
    typo.replace(typo.find("    ports:"), 0, "    imagePullPolcy: Always\n");
    r = k({"create", "-f", write_file(dir, "typo.yaml", typo)});
    EXPECT_NE(r.rc, 0) << version;
    EXPECT_TRUE(contains(r.err, "unknown field \"spec.containers[0].imagePullPolcy\"")) << version << ": " << r.err;
    std::string list = "apiVersion: v1\nkind: List\nitems:\n- ";
    for (size_t i = 0; i < typo.size(); ++i)  // the pod as the list's item, indented under "- "
      list += typo[i] == '\n' && i + 1 < typo.size() ? "\n  " : std::string(1, typo[i]);
    r = k({"create", "-f", write_file(dir, "list.yaml", list)});
    EXPECT_NE(r.rc, 0) << version;
    EXPECT_TRUE(contains(r.err, "error validating data: ValidationError(Pod.spec.containers[0]): unknown field "
                                "\"imagePullPolcy\" in io.k8s.api.core.v1.Container"))
        << version << ": " << r.err;

    // Client-side apply twice: the patch merges containers by name and drops the removed port.
    std::string deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
                         "\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: " + name +
                         "\n  template:\n    metadata:\n      labels:\n        app: " + name +
                         "\n    spec:\n      containers:\n      - name: a\n        image: img-a1\n        ports:\n"
                         "        - containerPort: 80\n        - containerPort: 443\n"
                         "      - name: b\n        image: img-b\n";
    r = k({"apply", "-f", write_file(dir, "deploy.yaml", deploy)});
    expect_ok(r, "apply");
    EXPECT_TRUE(contains(r.out, "deployment.apps/" + name + " created")) << version << ": " << r.out;
    deploy.erase(deploy.find("        - containerPort: 443\n"), 29);
    deploy.replace(deploy.find("img-a1"), 6, "img-a2");
    r = k({"apply", "-f", write_file(dir, "deploy.yaml", deploy)});
    expect_ok(r, "apply again");
    EXPECT_TRUE(contains(r.out, "deployment.apps/" + name + " configured")) << version << ": " << r.out;
    r = k({"get", "deploy", name, "-o", "json"});
    expect_ok(r, "get deploy");
    json cs = parse_json(r.out)["spec"]["template"]["spec"]["containers"];
    ASSERT_EQ(cs.size(), 2u) << version << ": " << cs;
    EXPECT_EQ(cs[0]["image"], "img-a2") << version;
    EXPECT_EQ(cs[0]["ports"].size(), 1u) << version << ": " << cs;
    EXPECT_EQ(cs[1]["image"], "img-b") << version;

    // explain, both from OpenAPI v3 (the default) and from v2.
    r = k({"explain", "pods.spec.containers"});
    expect_ok(r, "explain");
    EXPECT_TRUE(contains(r.out, "FIELD: containers <[]Container>")) << version << ": " << r.out;
    r = k({"explain", "pods.spec.containers", "--output=plaintext-openapiv2"});
    expect_ok(r, "explain v2");
    EXPECT_TRUE(contains(r.out, "RESOURCE: containers <[]Object>")) << version << ": " << r.out;
    EXPECT_TRUE(contains(r.out, "image\t<string>")) << version << ": " << r.out;

    r = k({"delete", "-f", dir + "/pod.yaml", "-f", dir + "/svc.yaml", "-f", dir + "/deploy.yaml", "--wait=false"});
    expect_ok(r, "delete");
  }
}
