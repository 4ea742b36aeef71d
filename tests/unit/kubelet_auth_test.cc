// Who may call the kubelet API when it authenticates its callers: the apiserver's kubelet client and the cluster's
// admins; anyone else with a certificate is forbidden in the kubelet's words, and a caller without one is
// unauthorized.
#include <gtest/gtest.h>

#include "daemons/kubelet/kubelet_server.h"

using namespace kctl;

namespace {

http::Request request(const std::string& method, const std::string& path) {
  http::Request r;
  r.method = method;
  r.path = r.target = path;
  return r;
}

}  // namespace

TEST(KubeletAuth, TheApiServerAndAdminsAreAllowed) {
  auto logs = request("GET", "/containerLogs/default/web/main");
  EXPECT_FALSE(kubelet::refuse_caller({"kube-apiserver-kubelet-client", {}}, logs));
  EXPECT_FALSE(kubelet::refuse_caller({"kube-apiserver-kubelet-client", {"system:masters"}}, logs));
  EXPECT_FALSE(kubelet::refuse_caller({"kubernetes-admin", {"system:masters"}}, request("POST", "/exec/a/b/c")));
}

TEST(KubeletAuth, NoCertificateIsUnauthorized) {
  auto refused = kubelet::refuse_caller({}, request("GET", "/containerLogs/default/web/main"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, 401);
  EXPECT_EQ(refused->reason, "Unauthorized");
}

TEST(KubeletAuth, OtherUsersAreForbiddenInTheKubeletsWords) {
  auto refused = kubelet::refuse_caller({"bob", {"system:authenticated", "dev"}}, request("GET", "/exec/default/web/main"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, 403);
  EXPECT_EQ(refused->reason, "Forbidden");
  EXPECT_EQ(refused->message, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)");
  EXPECT_EQ(kubelet::refuse_caller({"bob", {}}, request("POST", "/portforward/default/web"))->message,
            "Forbidden (user=bob, verb=create, resource=nodes, subresource=proxy)");
  EXPECT_EQ(kubelet::refuse_caller({"bob", {}}, request("GET", "/stats/summary"))->message,
            "Forbidden (user=bob, verb=get, resource=nodes, subresource=stats)");
  EXPECT_EQ(kubelet::refuse_caller({"bob", {}}, request("GET", "/statsx"))->message,
            "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)");
  // A name like the apiserver's, or a group like the admins', is not theirs.
  EXPECT_TRUE(kubelet::refuse_caller({"kube-apiserver", {"system:master"}}, request("GET", "/logs/")));
}
