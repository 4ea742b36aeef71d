// ServiceAccount tokens end to end: `kubectl create token` against a real apiserver gives a JWT that the
// authenticator (with the apiserver's own DATA_DIR/pki/sa.pub) and TokenReview accept as the ServiceAccount, that is
// refused once expired, tampered with or when its ServiceAccount is gone; the controllers that make `default` and
// kube-root-ca.crt; and a real pod on a real kubelet that finds its token, ca.crt and namespace at
// /var/run/secrets/kubernetes.io/serviceaccount and the `kubernetes` Service in its environment.
#include <sys/stat.h>

#include <ctime>

#include "api/http.h"
#include "api/jwt.h"
#include "api/pki.h"
#include "controller_manager_process.h"
#include "daemons/apiserver/service_account_token.h"
#include "kubelet_fixture.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kIssuer = apiserver::kDefaultServiceAccountIssuer;

// The authenticator as the apiserver builds it, reading the objects over HTTP.
std::unique_ptr<apiserver::ServiceAccountTokenAuthenticator> authenticator(const std::string& data_dir,
                                                                           api::Client& client) {
  auto keys = jwt::Key::public_from_pem(pki::read_pem(data_dir + "/pki/sa.pub"));
  apiserver::ObjectGetter get = [&client](const std::string& resource, const std::string& ns,
                                          const std::string& name) -> std::optional<json> {
    try {
      return client.resource(resource, ns).get(name);
    } catch (const api::StatusError& e) {
      if (e.status().code == 404) return std::nullopt;
      throw;
    }
  };
  return std::make_unique<apiserver::ServiceAccountTokenAuthenticator>(std::move(keys), std::vector{kIssuer},
                                                                       std::vector<std::string>{}, get);
}

json token_review(const std::string& url, const std::string& token) {
  http::Client c(url);
  json body = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenReview"}, {"spec", {{"token", token}}}};
  auto r = c.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body.dump(),
                     {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 201) << r.body;
  return json::parse(r.body);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class ServiceAccountTokenTest : public ::testing::Test {
 protected:
  ServiceAccountTokenTest() : client_(api::Client::connect(server_.url())), kubectl_(server_.url()) {}
  std::string data_dir() const { return server_.dir() + "/data"; }

  ApiServerProcess server_;
  api::Client client_;
  Kubectl kubectl_;
};

}  // namespace

TEST_F(ServiceAccountTokenTest, TheSigningKeyIsMadeAtFirstStartEvenWithoutHttps) {
  struct stat st {};
  ASSERT_EQ(::stat((data_dir() + "/pki/sa.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((data_dir() + "/pki/sa.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  std::string key = pki::read_pem(data_dir() + "/pki/sa.key");
  // Kept across restarts: tokens issued before stay good.
  server_.stop();
  server_.start();
  EXPECT_EQ(pki::read_pem(data_dir() + "/pki/sa.key"), key);
}

TEST_F(ServiceAccountTokenTest, KubectlCreateTokenAuthenticatesAsTheServiceAccount) {
  client_.resource("serviceaccounts", "default").create({{"metadata", {{"name", "default"}}}});
  auto r = kubectl_({"create", "token", "default"});
  ASSERT_EQ(r.rc, 0) << r.err << server_.log();
  std::string token = trim(r.out);
  auto parsed = jwt::parse(token);
  ASSERT_TRUE(parsed) << token;
  EXPECT_EQ(parsed->header["alg"], "ES256");
  EXPECT_EQ(parsed->claims["iss"], kIssuer);
  EXPECT_EQ(parsed->claims["aud"], json::array({kIssuer}));
  EXPECT_EQ(parsed->claims["exp"].get<int64_t>() - parsed->claims["iat"].get<int64_t>(), 3600);

  auto authn = authenticator(data_dir(), client_);
  auto user = authn->authenticate(token);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "system:serviceaccount:default:default");
  EXPECT_EQ(user->uid, client_.resource("serviceaccounts", "default").get("default")["metadata"]["uid"]);
  EXPECT_TRUE(user->in_group("system:serviceaccounts:default"));

  json review = token_review(server_.url(), token);
  EXPECT_EQ(review["status"]["authenticated"], true) << review;
  EXPECT_EQ(review["status"]["user"]["username"], "system:serviceaccount:default:default");

  // --duration and --audience reach spec.expirationSeconds and spec.audiences.
  auto vault = kubectl_({"create", "token", "default", "--duration=20m", "--audience=vault"});
  ASSERT_EQ(vault.rc, 0) << vault.err;
  json claims = jwt::parse(trim(vault.out))->claims;
  EXPECT_EQ(claims["aud"], json::array({"vault"}));
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 1200);
  // ... which the API does not accept: another audience.
  EXPECT_THROW(authn->authenticate(trim(vault.out)), apiserver::TokenRejected);
  // Too short, and for nobody.
  EXPECT_NE(kubectl_({"create", "token", "default", "--duration=5m"}).rc, 0);
  auto missing = kubectl_({"create", "token", "nobody"});
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("serviceaccounts \"nobody\" not found"), std::string::npos) << missing.err;
}

TEST_F(ServiceAccountTokenTest, ExpiredTamperedAndOrphanedTokensAreRefusedWith401) {
  client_.resource("serviceaccounts", "default").create({{"metadata", {{"name", "robot"}}}});
  std::string token = trim(kubectl_({"create", "token", "robot"}).out);
  auto authn = authenticator(data_dir(), client_);
  ASSERT_TRUE(authn->authenticate(token));
  auto status_of = [&](const std::string& t, int64_t now) -> std::pair<int, std::string> {
    try {
      authn->authenticate(t, now);
    } catch (const apiserver::TokenRejected& e) {
      return {e.status().code, e.reason()};
    }
    return {200, ""};
  };
  int64_t now = std::time(nullptr);
  auto expired = status_of(token, now + 3600 + 120);
  EXPECT_EQ(expired.first, 401);
  EXPECT_EQ(expired.second, "invalid bearer token, validation failed, token is expired (exp)");
  // The namespace claim changed under the signature.
  size_t a = token.find('.'), b = token.rfind('.');
  json claims = jwt::parse(token)->claims;
  claims["sub"] = "system:serviceaccount:kube-system:robot";
  claims["kubernetes.io"]["namespace"] = "kube-system";
  std::string tampered = token.substr(0, a + 1) + jwt::base64url_encode(claims.dump()) + token.substr(b);
  EXPECT_EQ(status_of(tampered, now).first, 401);
  json review = token_review(server_.url(), tampered);
  EXPECT_FALSE(review["status"].contains("authenticated"));
  EXPECT_NE(review["status"].value("error", "").find("signature"), std::string::npos) << review;
  // A 401 is written as kube-apiserver writes it.
  try {
    authn->authenticate(tampered);
  } catch (const apiserver::TokenRejected& e) {
    EXPECT_EQ(e.status().to_json()["reason"], "Unauthorized");
    EXPECT_EQ(e.status().to_json()["message"], "Unauthorized");
  }
  // Deleting the ServiceAccount invalidates its tokens; one made again with the same name does not revive them.
  client_.resource("serviceaccounts", "default").remove("robot");
  EXPECT_EQ(status_of(token, now), (std::pair<int, std::string>{401, "serviceaccounts \"robot\" not found"}));
  EXPECT_EQ(token_review(server_.url(), token)["status"]["error"], "serviceaccounts \"robot\" not found");
  client_.resource("serviceaccounts", "default").create({{"metadata", {{"name", "robot"}}}});
  EXPECT_EQ(status_of(token, now).first, 401);
}

TEST_F(ServiceAccountTokenTest, TheKubernetesServiceHasAnEndpointSlice) {
  json slice = client_.resource("endpointslices.discovery.k8s.io", "default").get("kubernetes");
  json ep = client_.resource("endpoints", "default").get("kubernetes");
  EXPECT_EQ(slice["metadata"]["labels"]["kubernetes.io/service-name"], "kubernetes");
  EXPECT_EQ(slice["addressType"], "IPv4");
  EXPECT_EQ(slice["endpoints"][0]["addresses"][0], ep["subsets"][0]["addresses"][0]["ip"]);
  EXPECT_EQ(slice["endpoints"][0]["conditions"]["ready"], true);
  EXPECT_EQ(slice["ports"][0]["port"], ep["subsets"][0]["ports"][0]["port"]);
}

TEST_F(ServiceAccountTokenTest, ControllersMakeDefaultAndKubeRootCa) {
  std::string ca_dir = make_temp_dir("sa-ca");
  std::string ca = pki::make_ca("test-ca").cert_pem;
  std::string ca_file = write_file(ca_dir, "ca.crt", ca);
  ControllerManagerProcess cm(server_.url(), {"--controllers=serviceaccount,root-ca-cert-publisher",
                                              "--root-ca-file=" + ca_file});
  client_.resource("namespaces").create({{"metadata", {{"name", "team"}}}});
  auto sas = client_.resource("serviceaccounts", "team");
  auto cms = client_.resource("configmaps", "team");
  auto wait_for = [](const std::function<bool()>& cond) {
    for (int i = 0; i < 400; ++i) {
      try {
        if (cond()) return true;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_for([&] { return sas.get("default")["metadata"]["name"] == "default"; })) << cm.log();
  ASSERT_TRUE(wait_for([&] { return cms.get("kube-root-ca.crt")["data"]["ca.crt"] == ca; })) << cm.log();
  EXPECT_TRUE(wait_for([&] { return client_.resource("serviceaccounts", "kube-system").get("default").is_object(); }));
  // Deleted or changed, they come back as they were.
  std::string uid = sas.get("default")["metadata"]["uid"];
  sas.remove("default");
  EXPECT_TRUE(wait_for([&] { return sas.get("default")["metadata"]["uid"] != uid; })) << cm.log();
  json changed = cms.get("kube-root-ca.crt");
  changed["data"]["ca.crt"] = "not a CA";
  cms.update(changed);
  EXPECT_TRUE(wait_for([&] { return cms.get("kube-root-ca.crt")["data"]["ca.crt"] == ca; })) << cm.log();
  std::filesystem::remove_all(ca_dir);
}

// ---------------------------------------------------------------------------------------------------------------
// A pod on a real kubelet

namespace {

class ServiceAccountPodTest : public KubeletNodeTest {
 protected:
  static void SetUpTestSuite() { enter_node_namespace(); }
  void SetUp() override {
    start_node();
    // What the serviceaccount controller and the root CA publisher keep in every namespace.
    client_->resource("serviceaccounts", "default").create({{"metadata", {{"name", "default"}}}});
    client_->resource("configmaps", "default")
        .create({{"metadata", {{"name", "kube-root-ca.crt"}}}, {"data", {{"ca.crt", kCa}}}});
  }
  CmdResult exec(const std::string& pod, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"exec", pod, "--"};
    args.insert(args.end(), command.begin(), command.end());
    return Kubectl(server_->url())(args);
  }
  static constexpr const char* kCa = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
};

}  // namespace

TEST_F(ServiceAccountPodTest, APodFindsItsTokenCaNamespaceAndTheApiserver) {
  json pod = create_pod(R"({"metadata":{"name":"client"},"spec":{"nodeName":"node-1",
      "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"]}]}})");
  // Admission added the volume and the mount.
  json volumes = pod["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 1u) << pod;
  std::string volume = volumes[0]["name"];
  EXPECT_EQ(volume.rfind("kube-api-access-", 0), 0u);
  EXPECT_EQ(volume.size(), std::string("kube-api-access-").size() + 5);
  EXPECT_EQ(pod["spec"]["containers"][0]["volumeMounts"][0],
            json({{"name", volume}, {"readOnly", true}, {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"}}));
  ASSERT_TRUE(wait_phase("client", "Running", 60s)) << pod_status("client") << kubelet_->log();

  const std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount/";
  auto token = exec("client", {"cat", dir + "token"});
  ASSERT_EQ(token.rc, 0) << token.err;
  EXPECT_EQ(exec("client", {"cat", dir + "ca.crt"}).out, kCa);
  EXPECT_EQ(exec("client", {"cat", dir + "namespace"}).out, "default");
  // Read-only, and the files 0644.
  EXPECT_NE(exec("client", {"sh", "-c", "echo x > " + dir + "token"}).rc, 0);
  EXPECT_EQ(exec("client", {"stat", "-c", "%a", dir + "token"}).out, "644\n");
  // On the host, only root can reach the token.
  std::string host_dir = root_ + "/pods/" + pod["metadata"]["uid"].get<std::string>() + "/volumes/projected";
  struct stat st {};
  ASSERT_EQ(::stat(host_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // The token is bound to the pod and authenticates as the ServiceAccount with the pod's name and uid.
  json claims = jwt::parse(token.out)->claims;
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 3607);
  EXPECT_EQ(claims["kubernetes.io"]["pod"]["uid"], pod["metadata"]["uid"]);
  auto authn = authenticator(server_->dir() + "/data", *client_);
  auto user = authn->authenticate(token.out);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "system:serviceaccount:default:default");
  EXPECT_EQ(user->extra.at(apiserver::kExtraPodName), std::vector<std::string>{"client"});
  EXPECT_EQ(user->extra.at(apiserver::kExtraNodeName), std::vector<std::string>{"node-1"});

  // The kubernetes Service, docker-link style.
  json svc = client_->resource("services", "default").get("kubernetes");
  std::string ip = svc["spec"]["clusterIP"];
  auto env = exec("client", {"env"});
  for (const std::string& line :
       {"KUBERNETES_SERVICE_HOST=" + ip, std::string("KUBERNETES_SERVICE_PORT=443"),
        std::string("KUBERNETES_SERVICE_PORT_HTTPS=443"), "KUBERNETES_PORT=tcp://" + ip + ":443",
        "KUBERNETES_PORT_443_TCP=tcp://" + ip + ":443", std::string("KUBERNETES_PORT_443_TCP_PROTO=tcp"),
        std::string("KUBERNETES_PORT_443_TCP_PORT=443"), "KUBERNETES_PORT_443_TCP_ADDR=" + ip})
    EXPECT_NE(env.out.find(line + "\n"), std::string::npos) << line << "\n" << env.out;

  // Deleting the pod ends its token.
  pods().remove("client", {{"gracePeriodSeconds", 0}});
  ASSERT_TRUE(wait_for([&] { return gone("client"); }, 30s));
  EXPECT_THROW(authn->authenticate(token.out), apiserver::TokenRejected);
}

TEST_F(ServiceAccountPodTest, AutomountFalseMeansNoToken) {
  json pod = create_pod(R"({"metadata":{"name":"quiet"},"spec":{"nodeName":"node-1","automountServiceAccountToken":false,
      "containers":[{"name":"c","image":"kctl/busybox","command":["sleep","3600"]}]}})");
  EXPECT_FALSE(pod["spec"].contains("volumes")) << pod;
  ASSERT_TRUE(wait_phase("quiet", "Running", 60s)) << pod_status("quiet") << kubelet_->log();
  EXPECT_NE(exec("quiet", {"ls", "/var/run/secrets/kubernetes.io/serviceaccount"}).rc, 0);
}
