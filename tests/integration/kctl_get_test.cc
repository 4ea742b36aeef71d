// kctl get against a real kctl-apiserver, compared with what kubectl 1.33 prints for the same objects and the same
// arguments: tables (every kind, wide, -A, -L, --show-labels, --sort-by, several kinds), the -o formats, errors,
// and -w / --watch-only / --output-watch-events.
#include <thread>

#include "kctl_compare.h"

using namespace kctl::test;

namespace {

class KctlGetTest : public KctlTest {
 protected:
  void SetUp() override {
    KctlTest::SetUp();
    ok({"create", "-f", file("all.yaml", kCompareManifests)});
    ok({"create", "configmap", "c2", "--from-literal=a=1"});
    ok({"create", "configmap", "c10", "--from-literal=b=2"});
  }
};

TEST_F(KctlGetTest, TablesMatchKubectl) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"get", "pods"},
           {"get", "pods", "-o", "wide"},
           {"get", "pod", "web"},
           {"get", "po/web"},
           {"get", "pods", "--show-labels"},
           {"get", "pods", "-L", "app,tier"},
           {"get", "pods", "-l", "tier=front"},
           {"get", "pods", "-l", "tier in (back)"},
           {"get", "pods", "--field-selector", "metadata.name=web"},
           {"get", "svc", "-A"},
           {"get", "services", "-A", "-o", "wide"},
           {"get", "deploy,rc,rs", "-o", "wide"},
           {"get", "pods,svc"},
           {"get", "all"},
           {"get", "all", "-A"},
           {"get", "pod/web", "svc/web", "deploy/api"},
           {"get", "cm", "--sort-by=.metadata.name"},
           {"get", "svc", "--sort-by=.spec.clusterIP"},
           {"get", "pods,cm", "--sort-by=.metadata.name", "-A"},
           {"get", "cm", "--no-headers"},
           {"get", "cm", "--show-kind"},
           {"get", "nodes"},
           {"get", "nodes", "-o", "wide", "--show-labels"},
           {"get", "ns"},
           {"get", "leases"},
           {"get", "leases.coordination.k8s.io"},
           {"get", "deployments.v1.apps"},
           {"get", "ev"},
           {"get", "sa"},
           {"get", "ep"},
           {"get", "secrets", "-A"},
           {"get", "cm", "-n", "team-a"},
           {"get", "pods", "-n", "team-a"},
       })
    same(args);
}

TEST_F(KctlGetTest, ObjectFormatsMatchKubectl) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"get", "pod", "web", "-o", "yaml"},
           {"get", "pod", "web", "-o", "json"},
           {"get", "pods", "-o", "yaml"},
           {"get", "deploy,svc", "-o", "json"},
           {"get", "cm", "-o", "name"},
           {"get", "pods,deploy,svc", "-o", "name"},
           {"get", "cm", "-n", "team-a", "-o", "yaml"},
           {"get", "pod", "web", "-o", "jsonpath={.metadata.name} {.spec.containers[0].ports[0].containerPort}"},
           {"get", "pods", "-o", "jsonpath={.items[*].metadata.labels}"},
           {"get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.status.phase}{\"\\n\"}{end}"},
           {"get", "deploy", "-o", "jsonpath={.items[0].spec.template.spec.containers[?(@.name==\"b\")].image}"},
           {"get", "svc", "-o", "jsonpath={.items[*].spec.ports[0].port}"},
           {"get", "svc", "-o", "jsonpath-as-json={.items[*].metadata.name}"},
           {"get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image,X:.nope"},
           {"get", "pods", "-o", "custom-columns=NAME:.metadata.name", "--no-headers"},
           {"get", "pods", "-o", "go-template={{range .items}}{{.metadata.name}} {{.spec.containers}}{{\"\\n\"}}{{end}}"},
           {"get", "deploy", "api", "-o", "go-template={{.spec.replicas}} {{.metadata.nope}} {{len .spec.template.spec.containers}}"},
           {"get", "pod", "web", "-o", "template", "--template={{.status.phase}}"},
           {"get", "cm", "settings", "-o", "go-template={{range $k, $v := .data}}{{$k}}={{$v}};{{end}}"},
           {"get", "cm", "--sort-by=.metadata.name", "-o", "name"},
           {"config", "view"},
           {"config", "view", "-o", "jsonpath={.contexts[0].name}"},
       })
    same(args);
}

TEST_F(KctlGetTest, ErrorsMatchKubectl) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"get", "pod", "nope"},
           {"get", "pod", "web", "nope"},
           {"get", "pod", "nope", "-o", "yaml"},
           {"get", "pods", "--ignore-not-found", "nope"},
           {"get", "foo"},
           {"get"},
           {"get", "pods", "-o", "foo"},
           {"get", "pods", "-n", "empty"},
           {"get", "nodes", "-l", "none=here"},
           {"get", "pods", "--nope"},
           {"get", "pods", "-l", "app=web", "web"},
       })
    same(args);
  // exit codes as kubectl's: 1 for every error
  EXPECT_EQ(kctl({"get", "pod", "nope"}).rc, 1);
}

TEST_F(KctlGetTest, WatchMatchesKubectl) {
  const std::vector<std::vector<std::string>> watches = {
      {"get", "pods", "-w"},
      {"get", "pods", "-w", "--output-watch-events", "-o", "wide"},
      {"get", "pod", "web", "--watch-only"},
      {"get", "pods", "-o", "name", "-w"},
  };
  std::vector<CmdResult> k(watches.size()), c(watches.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < watches.size(); ++i) {
    threads.emplace_back([&, i] { k[i] = kubectl(watches[i], "", 6); });
    threads.emplace_back([&, i] { c[i] = kctl(watches[i], "", 6); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ok({"run", "longer-name-pod", "--image=busybox"});
  ok({"label", "pod", "web", "seen=yes"});
  ok({"delete", "pod", "longer-name-pod", "--wait=false"});
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < watches.size(); ++i) {
    EXPECT_TRUE(contains(c[i].out, "web")) << joined(watches[i]) << ": " << c[i].out << c[i].err;
    EXPECT_TRUE(same_columns(k[i].out, c[i].out)) << joined(watches[i]);
  }
  EXPECT_TRUE(contains(c[1].out, "DELETED    longer-name-pod")) << c[1].out;
}

}  // namespace
