// kctl describe, explain, api-resources, cluster-info and version against a real kctl-apiserver, compared with
// kubectl 1.33: the describers for pods (with events), deployments, services, nodes, namespaces, rc/rs, config maps,
// secrets (sizes, never values) and the generic one (leases); explain from the server's OpenAPI v3.
#include "kctl_compare.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

class KctlDescribeTest : public KctlTest {
 protected:
  void SetUp() override {
    KctlTest::SetUp();
    ok({"create", "-f", file("all.yaml", kCompareManifests)});
    std::string uid = ok({"get", "pod", "web", "-o", "jsonpath={.metadata.uid}"}).out;
    // Events about the pod (one repeated) and the deployment, as a scheduler and a controller would write them.
    ok({"create", "-f", "-"},
       "apiVersion: v1\nkind: Event\nmetadata:\n  name: web.1\ninvolvedObject:\n  kind: Pod\n  name: web\n"
       "  namespace: default\n  uid: " + uid + "\nreason: Scheduled\nmessage: Successfully assigned default/web to node1\n"
       "type: Normal\nsource:\n  component: default-scheduler\nfirstTimestamp: \"2025-01-01T00:00:00Z\"\n"
       "lastTimestamp: \"2025-01-01T00:10:00Z\"\ncount: 3\n---\n"
       "apiVersion: v1\nkind: Event\nmetadata:\n  name: web.2\ninvolvedObject:\n  kind: Pod\n  name: web\n"
       "  namespace: default\n  uid: " + uid + "\nreason: Pulling\nmessage: '  Pulling image \"busybox:1.36\"  '\n"
       "type: Warning\nsource:\n  component: kubelet\nfirstTimestamp: \"2025-01-01T00:05:00Z\"\n"
       "lastTimestamp: \"2025-01-01T00:05:00Z\"\ncount: 1\n");
  }
};

TEST_F(KctlDescribeTest, DescribeMatchesKubectl) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"describe", "pod", "web"},
           {"describe", "pods/web"},
           {"describe", "pods", "we"},  // a name prefix
           {"describe", "pods"},
           {"describe", "deploy", "api"},
           {"describe", "svc", "web"},
           {"describe", "svc", "kubernetes"},
           {"describe", "node", "node1"},
           {"describe", "ns", "team-a"},
           {"describe", "ns", "default"},
           {"describe", "rc", "rc1"},
           {"describe", "rs", "rs1"},
           {"describe", "cm", "settings"},
           {"describe", "lease", "l1"},
           {"describe", "pod", "nope"},
           {"describe", "pods", "-l", "app=web"},
           {"describe", "-f", dir_ + "/all.yaml"},
       })
    same(args);
}

// A Secret's values are never shown: the sizes of its keys, as kubectl prints them, and not the applied copy of the
// object (with its data) that last-applied-configuration holds.
TEST_F(KctlDescribeTest, DescribeSecretShowsSizesNotValues) {
  ok({"apply", "-f", file("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n"
                                        "    app: web\ndata:\n  password: aHVudGVyMg==\n")});
  ok({"create", "secret", "generic", "two", "--from-literal=user=admin", "--from-literal=password=hunter2"});
  // The object holds the value twice, in data and in the annotation apply wrote.
  EXPECT_TRUE(contains(ok({"get", "secret", "db", "-o", "jsonpath={.metadata.annotations}"}).out, "aHVudGVyMg"));
  same({"describe", "secret", "db"});  // one key: kubectl's order of several is Go's map order
  for (const char* name : {"db", "two"}) {
    auto r = ok({"describe", "secret", name});
    EXPECT_TRUE(contains(r.out, "password:  7 bytes\n")) << r.out;
    for (const char* value : {"hunter2", "aHVudGVyMg", "admin", "YWRtaW4"}) EXPECT_FALSE(contains(r.out, value)) << r.out;
  }
  EXPECT_TRUE(contains(ok({"describe", "secret", "two"}).out, "user:      5 bytes\n"));
  // All of the namespace's Secrets at once.
  auto all = ok({"describe", "secrets"});
  EXPECT_FALSE(contains(all.out, "hunter2")) << all.out;
  EXPECT_FALSE(contains(all.out, "aHVudGVyMg")) << all.out;
}

TEST_F(KctlDescribeTest, ExplainMatchesKubectl) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"explain", "pods"},
           {"explain", "pods.spec.containers"},
           {"explain", "pods.spec.containers.ports"},
           {"explain", "pods.metadata.labels"},
           {"explain", "svc.spec.ports.targetPort"},
           {"explain", "node.status.capacity"},
           {"explain", "deploy"},
           {"explain", "deployment.spec.strategy"},
           {"explain", "deploy.spec", "--recursive"},
           {"explain", "lease.spec"},
       })
    same(args);
  auto r = kctl({"explain", "pods.nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "error: field \"nope\" does not exist\n");
}

TEST_F(KctlDescribeTest, ApiResourcesClusterInfoVersion) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"api-resources"},
           {"api-resources", "-o", "wide"},
           {"api-resources", "-o", "name"},
           {"api-resources", "--namespaced=false"},
           {"api-resources", "--api-group=apps"},
           {"api-resources", "--sort-by=kind", "--no-headers"},
           {"api-resources", "--verbs=list", "--categories=all"},
           {"cluster-info"},
       })
    same(args);
  // The server part of `version` is the server's; the client part is kctl's own.
  json k = parse_json(kubectl({"version", "-o", "json"}).out), c = parse_json(ok({"version", "-o", "json"}).out);
  EXPECT_EQ(k["serverVersion"], c["serverVersion"]);
  EXPECT_EQ(c["clientVersion"]["major"], "1");
  auto r = ok({"version"});
  EXPECT_TRUE(contains(r.out, "Client Version: v1.33.0-kctl")) << r.out;
  EXPECT_TRUE(contains(r.out, "Server Version: " + k["serverVersion"]["gitVersion"].get<std::string>())) << r.out;
}

}  // namespace
