// Authentication, authorization and limits on the apiserver's HTTPS port, driven by curl and the real kubectl:
// 401 without credentials (but the health checks and /version), client certificates, static tokens, legacy basic auth
// only when enabled, impersonation, the reviews behind `kubectl auth can-i/whoami`, and 413/429.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "api/http_client.h"
#include "kctl_compare.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

class ApiServerAuthTest : public KctlTest {
 protected:
  std::vector<std::string> server_args() override {
    secure_port_ = free_port();
    files_ = make_temp_dir("kctl-auth");
    write(files_ + "/tokens.csv",
          "token-ops,ops,1001,\"system:masters,ops\"\n"
          "token-bob,bob,1002\n"
          "token-carol,carol,1003,\"team-a\"\n"
          "token-ops2,ops2,1004,system:masters\n");
    std::vector<std::string> args = {"--secure-port=" + std::to_string(secure_port_),
                                     "--token-auth-file=" + files_ + "/tokens.csv"};
    for (const auto& a : extra_args()) args.push_back(a);
    return args;
  }
  virtual std::vector<std::string> extra_args() { return {}; }

  std::string url(const std::string& path = "") const { return "https://127.0.0.1:" + std::to_string(secure_port_) + path; }
  std::string admin_kubeconfig() const { return server_->dir() + "/data/admin.kubeconfig"; }
  std::string ca() const { return server_->dir() + "/data/pki/ca.crt"; }

  // curl against the secure port: "CODE\nBODY".
  struct Curl {
    int code = 0;
    std::string body;
    json status() const { return json::parse(body, nullptr, false); }
  };
  Curl curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-s", "--cacert", ca(), "-o", "-", "-w", "\n%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv);
    Curl c;
    auto nl = r.out.rfind('\n');
    if (nl == std::string::npos) return c;
    c.body = r.out.substr(0, nl);
    c.code = std::atoi(r.out.c_str() + nl + 1);
    return c;
  }
  // The real kubectl with only a server, the CA and these credentials.
  CmdResult kubectl_as(const std::vector<std::string>& credentials, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, kubectl_->binary(), "--kubeconfig=/dev/null",
                                     "--server=" + url(), "--certificate-authority=" + ca()};
    argv.insert(argv.end(), credentials.begin(), credentials.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  CmdResult admin(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, kubectl_->binary(), "--kubeconfig=" + admin_kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input);
  }

  int secure_port_ = 0;
  std::string files_;
};

TEST_F(ApiServerAuthTest, WithoutCredentialsOnlyHealthAndVersionAnswer) {
  for (const char* path : {"/api/v1/namespaces/default/pods", "/api", "/apis", "/openapi/v2", "/api/v1/nodes"}) {
    auto r = curl({url(path)});
    EXPECT_EQ(r.code, 401) << path << ": " << r.body;
    EXPECT_EQ(r.status()["kind"], "Status") << r.body;
    EXPECT_EQ(r.status()["reason"], "Unauthorized") << r.body;
    EXPECT_EQ(r.status()["message"], "Unauthorized") << r.body;
  }
  for (const char* path : {"/healthz", "/livez", "/readyz", "/readyz/ping", "/version"}) {
    auto r = curl({url(path)});
    EXPECT_EQ(r.code, 200) << path << ": " << r.body;
  }
  // The plain HTTP port stays the local superuser's.
  EXPECT_EQ(server_->client().request("GET", "/api/v1/namespaces/default/pods").status, 200);
}

TEST_F(ApiServerAuthTest, ClientCertificateNamesTheUserAndItsGroups) {
  auto who = admin({"auth", "whoami", "-o", "json"});
  ASSERT_EQ(who.rc, 0) << who.err;
  json review = json::parse(who.out);
  EXPECT_EQ(review["kind"], "SelfSubjectReview");
  EXPECT_EQ(review["status"]["userInfo"]["username"], "kubernetes-admin");
  EXPECT_EQ(review["status"]["userInfo"]["groups"], json({"system:masters", "system:authenticated"}));
  auto created = admin({"create", "configmap", "by-admin", "--from-literal=a=b"});
  EXPECT_EQ(created.rc, 0) << created.err;
  EXPECT_EQ(admin({"auth", "can-i", "delete", "nodes"}).out, "yes\n");
  // curl with the admin's certificate and key.
  std::string pki = server_->dir() + "/data/pki/";
  auto r = curl({"--cert", pki + "admin.crt", "--key", pki + "admin.key", url("/api/v1/namespaces/default/configmaps/by-admin")});
  EXPECT_EQ(r.code, 200) << r.body;
}

TEST_F(ApiServerAuthTest, StaticTokensAuthenticateAndWrongOnesAreRefused) {
  auto ops = kubectl_as({"--token=token-ops"}, {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"});
  EXPECT_EQ(ops.out, "ops [\"system:masters\",\"ops\",\"system:authenticated\"]") << ops.err;
  EXPECT_EQ(kubectl_as({"--token=token-ops"}, {"create", "namespace", "by-token"}).rc, 0);
  auto wrong = kubectl_as({"--token=token-nobody"}, {"get", "pods"});
  EXPECT_NE(wrong.rc, 0);
  // kubectl's words for a 401 during discovery: "(the server has asked for the client to provide credentials)".
  EXPECT_TRUE(contains(wrong.err, "error: You must be logged in to the server (")) << wrong.err;
  // A known user without permissions: 403 with kube-apiserver's message.
  auto r = curl({"-H", "Authorization: Bearer token-bob", url("/api/v1/namespaces/default/pods")});
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_EQ(r.status()["reason"], "Forbidden");
  EXPECT_EQ(r.status()["message"],
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"");
  auto bob = kubectl_as({"--token=token-bob"}, {"create", "deployment", "web", "--image=nginx"});
  EXPECT_NE(bob.rc, 0);
  EXPECT_TRUE(contains(bob.err, "deployments.apps is forbidden: User \"bob\" cannot "
                                "create resource \"deployments\" in API group \"apps\" in the namespace \"default\""))
      << bob.err;
}

TEST_F(ApiServerAuthTest, RbacDecidesForEveryoneElse) {
  // bob may view the default namespace, carol's group may edit team-a's.
  ASSERT_EQ(admin({"create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", "default"}).rc, 0);
  ASSERT_EQ(admin({"create", "namespace", "team-a"}).rc, 0);
  ASSERT_EQ(admin({"create", "rolebinding", "team-a-edit", "--clusterrole=edit", "--group=team-a", "-n", "team-a"}).rc, 0);
  const std::vector<std::string> bob = {"--token=token-bob"}, carol = {"--token=token-carol"};
  ASSERT_TRUE(eventually([&] { return kubectl_as(bob, {"get", "pods"}).rc == 0; }));
  EXPECT_EQ(kubectl_as(bob, {"get", "configmaps", "-n", "default"}).rc, 0);
  auto create = kubectl_as(bob, {"create", "configmap", "x", "-n", "default"});
  EXPECT_NE(create.rc, 0);
  EXPECT_TRUE(contains(create.err, "configmaps is forbidden: User \"bob\" cannot create resource \"configmaps\" in API "
                                   "group \"\" in the namespace \"default\"")) << create.err;
  // view does not read Secrets, and grants nothing in other namespaces.
  EXPECT_TRUE(contains(kubectl_as(bob, {"get", "secrets"}).err, "cannot list resource \"secrets\"")) << "secrets";
  EXPECT_TRUE(contains(kubectl_as(bob, {"get", "pods", "-n", "team-a"}).err, "in the namespace \"team-a\""));
  EXPECT_EQ(kubectl_as(bob, {"auth", "can-i", "list", "pods"}).out, "yes\n");
  EXPECT_EQ(kubectl_as(bob, {"auth", "can-i", "create", "pods"}).out, "no\n");
  EXPECT_EQ(kubectl_as(bob, {"auth", "can-i", "create", "pods", "-n", "team-a"}).out, "no\n");
  EXPECT_EQ(kubectl_as(carol, {"create", "deployment", "web", "--image=nginx", "-n", "team-a"}).rc, 0);
  EXPECT_EQ(kubectl_as(carol, {"auth", "can-i", "delete", "deployments", "-n", "team-a"}).out, "yes\n");
  EXPECT_EQ(kubectl_as(carol, {"auth", "can-i", "create", "rolebindings", "-n", "team-a"}).out, "no\n");
  // Every authenticated user may ask about itself, and discover the API.
  auto who = kubectl_as(bob, {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  EXPECT_EQ(who.out, "bob") << who.err;
  auto list = kubectl_as(bob, {"auth", "can-i", "--list", "-n", "default"});
  EXPECT_TRUE(contains(list.out, "pods ")) << list.out;
  EXPECT_TRUE(contains(list.out, "selfsubjectaccessreviews.authorization.k8s.io")) << list.out;
  EXPECT_EQ(kubectl_as(bob, {"api-resources", "-o", "name"}).rc, 0);
  // The admin grants and revokes; a deleted binding stops granting.
  EXPECT_EQ(admin({"auth", "can-i", "create", "pods", "--as=bob"}).out, "no\n");
  ASSERT_EQ(admin({"delete", "rolebinding", "bob-view", "-n", "default"}).rc, 0);
  ASSERT_TRUE(eventually([&] { return kubectl_as(bob, {"get", "pods"}).rc != 0; }));
}

TEST_F(ApiServerAuthTest, BasicAuthIsOffUnlessAFileIsGiven) {
  auto r = curl({"-u", "admin:admin", url("/api/v1/namespaces")});
  EXPECT_EQ(r.code, 401) << r.body;
}

class ApiServerBasicAuthTest : public ApiServerAuthTest {
 protected:
  std::vector<std::string> extra_args() override {
    write(files_ + "/basic.csv", "admin,admin,1,\"system:masters\"\nsecret,viewer,2\n");
    return {"--basic-auth-file=" + files_ + "/basic.csv"};
  }
};

TEST_F(ApiServerBasicAuthTest, TheSeedsCurlWorksWithTheRightPasswordOnly) {
  auto ok = curl({"-k", "-u", "admin:admin", url("/api/v1/namespaces")});
  EXPECT_EQ(ok.code, 200) << ok.body;
  EXPECT_EQ(ok.status()["kind"], "NamespaceList");
  EXPECT_EQ(curl({"-u", "admin:wrong", url("/api/v1/namespaces")}).code, 401);
  EXPECT_EQ(curl({"-u", "nobody:admin", url("/api/v1/namespaces")}).code, 401);
  auto viewer = curl({"-u", "viewer:secret", url("/api/v1/namespaces")});
  EXPECT_EQ(viewer.code, 403) << viewer.body;
  EXPECT_TRUE(contains(viewer.body, "User \\\"viewer\\\" cannot list resource \\\"namespaces\\\"")) << viewer.body;
}

TEST_F(ApiServerAuthTest, ImpersonationNeedsThePermissionToImpersonate) {
  auto as_bob = admin({"get", "pods", "--as=bob"});
  EXPECT_NE(as_bob.rc, 0);
  EXPECT_TRUE(contains(as_bob.err, "User \"bob\" cannot list resource \"pods\"")) << as_bob.err;
  auto as_group = admin({"get", "pods", "--as=bob", "--as-group=system:masters"});
  EXPECT_EQ(as_group.rc, 0) << as_group.err;
  auto who = admin({"auth", "whoami", "--as=system:serviceaccount:default:builder", "-o",
                    "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"});
  EXPECT_EQ(who.out, "system:serviceaccount:default:builder [\"system:serviceaccounts\",\"system:serviceaccounts:default\","
                     "\"system:authenticated\"]") << who.err;
  auto r = curl({"-H", "Authorization: Bearer token-bob", "-H", "Impersonate-User: ops", url("/api/v1/namespaces")});
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_EQ(r.status()["message"],
            "users \"ops\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the "
            "cluster scope");
}

TEST_F(ApiServerAuthTest, AccessReviewsAnswerForTheCallerAndForOthers) {
  EXPECT_EQ(admin({"auth", "can-i", "create", "pods"}).out, "yes\n");
  EXPECT_EQ(admin({"auth", "can-i", "get", "/healthz"}).out, "yes\n");
  json sar = {{"apiVersion", "authorization.k8s.io/v1"},
              {"kind", "SubjectAccessReview"},
              {"spec", {{"user", "bob"}, {"resourceAttributes", {{"verb", "list"}, {"resource", "pods"}, {"namespace", "default"}}}}}};
  // --validate=false: kubectl looks for server-side field validation on a kind's PATCH, which reviews do not have,
  // and then lists CustomResourceDefinitions, which kctl does not serve.
  auto out = admin({"create", "--validate=false", "-f", "-", "-o", "json"}, sar.dump());
  ASSERT_EQ(out.rc, 0) << out.err;
  EXPECT_EQ(json::parse(out.out)["status"]["allowed"], false) << out.out;
  sar["spec"]["groups"] = {"system:masters"};
  out = admin({"create", "--validate=false", "-f", "-", "-o", "json"}, sar.dump());
  EXPECT_EQ(json::parse(out.out)["status"]["allowed"], true) << out.out;
  sar["spec"].erase("resourceAttributes");
  out = admin({"create", "--validate=false", "-f", "-"}, sar.dump());
  EXPECT_NE(out.rc, 0);
  EXPECT_TRUE(contains(out.err, "exactly one of nonResourceAttributes or resourceAttributes must be specified")) << out.err;
  auto list = admin({"auth", "can-i", "--list"});
  EXPECT_TRUE(contains(list.out, "*.*")) << list.out;
  // Reviews are only created: nothing is stored to get or list.
  EXPECT_EQ(server_->client().request("GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status, 405);
}

TEST_F(ApiServerAuthTest, OversizedBodiesGet413) {
  std::string path = files_ + "/big.json";
  write(path, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"big\"},\"data\":{\"a\":\"" +
                  std::string(4 << 20, 'x') + "\"}}");
  auto r = curl({"-H", "Authorization: Bearer token-ops", "-H", "Content-Type: application/json", "--data-binary",
                 "@" + path, url("/api/v1/namespaces/default/configmaps")});
  EXPECT_EQ(r.code, 413) << r.body.substr(0, 300);
  EXPECT_EQ(r.status()["reason"], "RequestEntityTooLarge");
}

class ApiServerLimitsTest : public ApiServerAuthTest {
 protected:
  std::vector<std::string> extra_args() override {
    return {"--max-mutating-requests-inflight=1", "--max-watches-per-user=2"};
  }
};

TEST_F(ApiServerLimitsTest, MutatingRequestsBeyondTheBoundGet429WithRetryAfter) {
  // 48 creates at once against a bound of one: every write is fsync'ed, so they overlap and some are turned away.
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 48; ++i)
    results.push_back(std::async(std::launch::async, [this, i] {
      auto r = run({"curl", "-s", "-i", "--cacert", ca(), "-H", "Authorization: Bearer token-ops", "-H",
                    "Content-Type: application/json", "-d",
                    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-" + std::to_string(i) + "\"}}",
                    url("/api/v1/namespaces/default/configmaps")});
      return r.out;
    }));
  int created = 0, refused = 0;
  for (auto& f : results) {
    std::string head = f.get();
    if (head.rfind("HTTP/1.1 201", 0) == 0) ++created;
    if (head.rfind("HTTP/1.1 429", 0) == 0) {
      ++refused;
      EXPECT_TRUE(contains(head, "Retry-After: 1")) << head;
      EXPECT_TRUE(contains(head, "\"reason\":\"TooManyRequests\"")) << head;
    }
  }
  EXPECT_GT(created, 0);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(created + refused, 48);
  // Reads have their own bound and still pass.
  EXPECT_EQ(curl({"-H", "Authorization: Bearer token-ops", url("/api/v1/namespaces/default/configmaps")}).code, 200);
}

// A watch held open in a thread; `started` once the server answered its head (the watch is counted by then).
struct HeldWatch {
  std::unique_ptr<kctl::http::Client> client;
  std::thread thread;
  std::atomic<bool> started{false};
  ~HeldWatch() {
    client->abort();
    if (thread.joinable()) thread.join();
  }
};

TEST_F(ApiServerLimitsTest, WatchesPerUserAreBounded) {
  auto hold = [&](const std::string& token) {
    auto w = std::make_unique<HeldWatch>();
    kctl::http::ClientOptions o;
    o.bearer_token = token;
    o.tls.ca_file = ca();
    w->client = std::make_unique<kctl::http::Client>(url(), o);
    HeldWatch* raw = w.get();
    w->thread = std::thread([raw] {
      try {
        raw->client->stream(
            "GET", "/api/v1/namespaces/default/configmaps?watch=true", {}, [](std::string_view) { return true; }, 0,
            [raw](const kctl::http::Response& head) { raw->started = head.status == 200; });
      } catch (const std::exception&) {
      }
    });
    return w;
  };
  std::vector<std::unique_ptr<HeldWatch>> watches;
  watches.push_back(hold("token-ops"));
  watches.push_back(hold("token-ops"));
  ASSERT_TRUE(eventually([&] { return watches[0]->started && watches[1]->started; }, std::chrono::seconds(30)));
  auto third = curl({"-H", "Authorization: Bearer token-ops", "--max-time", "5",
                     url("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1")});
  EXPECT_EQ(third.code, 429) << third.body;
  EXPECT_TRUE(contains(third.body, "Too many requests")) << third.body;
  // Another user has its own count.
  auto other = curl({"-H", "Authorization: Bearer token-ops2", "--max-time", "5",
                     url("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1")});
  EXPECT_EQ(other.code, 200) << other.body;
  watches.clear();  // the watches end: the user may watch again
  ASSERT_TRUE(eventually([&] {
    return curl({"-H", "Authorization: Bearer token-ops", "--max-time", "5",
                 url("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1")}).code == 200;
  }, std::chrono::seconds(30)));
}

}  // namespace
