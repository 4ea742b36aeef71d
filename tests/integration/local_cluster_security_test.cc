// Who is who on a real local cluster (`kctl local up`, two workers in network namespaces): the plain port is the
// master's own and cannot be reached from a node or a pod; every worker daemon reaches HTTPS as itself (the kubelet
// as system:node:NAME, refused another node's pods); a pod's ServiceAccount token and CA, taken from inside the pod,
// authenticate it through the `kubernetes` Service (the ClusterIP a pod dials, programmed by the node's proxy).
#include <gtest/gtest.h>

#include "local_cluster_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kName = "sec";  // its nodes sec-worker-1 and -2: it may run beside the other local clusters

class LocalClusterSecurity : public LocalClusterFixture {
 protected:
  // The real kubectl with one of the cluster's kubeconfigs.
  CmdResult kubectl(const std::string& kubeconfig, std::vector<std::string> args) const {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, Kubectl::find(""), "--kubeconfig=" + kubeconfig};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 60);
  }
  // A command in worker `i`'s network namespace, as the node itself runs it.
  static CmdResult on_node(int i, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", std::string(kName) + "-worker-" + std::to_string(i)});
    return run(argv, "", 30);
  }
};

}  // namespace

TEST_F(LocalClusterSecurity, NodesAndPodsReachTheApiOnlyAsThemselves) {
  up(kName);
  // The plain port listens on 127.0.0.1 only: a node cannot reach it; HTTPS without credentials is 401.
  auto plain = on_node(1, {"curl", "-sS", "--max-time", "5", "http://10.250.0.1:" + port_ + "/api"});
  EXPECT_NE(plain.rc, 0) << plain.out;
  auto anonymous = on_node(1, {"curl", "-sk", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                               "https://10.250.0.1:6443/api/v1/pods"});
  EXPECT_EQ(anonymous.out, "401") << anonymous.err;

  // The kubelets are nodes, each itself.
  std::string w1 = dir_ + "/nodes/" + node(1) + "/kubelet.conf";
  auto whoami = kubectl(w1, {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  EXPECT_EQ(whoami.out, "system:node:" + node(1)) << whoami.err;
  auto proxy = kubectl(dir_ + "/nodes/" + node(1) + "/proxy.conf", {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  EXPECT_EQ(proxy.out, "system:kube-proxy") << proxy.err;

  // A pod on worker 2: worker 1 may not touch it; logs and exec reach it through the apiserver (the kubelets take
  // calls only from the apiserver's certificate).
  auto created = kctl({"run", "reader", "--image=kctl/busybox", "--restart=Never",
                       "--overrides={\"spec\":{\"nodeName\":\"" + node(2) + "\"}}", "--command", "--", "sleep", "1000"});
  ASSERT_EQ(created.rc, 0) << created.err;
  ASSERT_TRUE(until([&] { return kctl({"get", "pod", "reader", "-o", "jsonpath={.status.phase}"}).out == "Running"; }, 60s))
      << log("kctl-kubelet-" + node(2));
  auto del = kubectl(w1, {"delete", "pod", "reader", "--wait=false"});
  EXPECT_NE(del.rc, 0);
  EXPECT_NE(del.err.find("Forbidden"), std::string::npos) << del.err;

  // The pod's own credentials, read inside it...
  auto token = kctl({"exec", "reader", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"});
  ASSERT_EQ(token.rc, 0) << token.err;
  auto ca = kctl({"exec", "reader", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"});
  ASSERT_EQ(ca.rc, 0) << ca.err;
  auto env = kctl({"exec", "reader", "--", "sh", "-c", "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"});
  EXPECT_EQ(env.out, "10.96.0.1:443\n");
  std::string ca_file = write_file(dir_, "pod-ca.crt", ca.out);
  // ...are who the pod is, through the kubernetes Service on the pod's node, checked against the CA the pod holds.
  auto review = on_node(2, {"curl", "-sS", "--max-time", "10", "--cacert", ca_file, "-H", "Authorization: Bearer " + token.out,
                            "-H", "Content-Type: application/json", "-X", "POST", "--data",
                            R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})",
                            "https://kubernetes.default.svc.cluster.local/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            "--resolve", "kubernetes.default.svc.cluster.local:443:10.96.0.1"});
  ASSERT_EQ(review.rc, 0) << review.err;
  json r = parse_json(review.out);
  EXPECT_EQ(r["status"]["userInfo"]["username"], "system:serviceaccount:default:default") << review.out;
  // The default ServiceAccount may not list pods: RBAC says so, by its name.
  auto list = on_node(2, {"curl", "-sS", "--max-time", "10", "--cacert", ca_file, "-H", "Authorization: Bearer " + token.out,
                          "https://10.96.0.1/api/v1/namespaces/default/pods"});
  EXPECT_NE(list.out.find("\"code\":403"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("system:serviceaccount:default:default"), std::string::npos) << list.out;
}
