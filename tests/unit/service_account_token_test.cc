// ServiceAccount tokens without a server: TokenRequest's defaults and checks, the authenticator's user and its
// refusals (expired, tampered, other audience, ServiceAccount or Pod gone or replaced), TokenReview, and the
// ServiceAccount admission plugin's volume and mounts.
#include "daemons/apiserver/service_account_token.h"

#include <map>

#include <gtest/gtest.h>

#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/service_account_admission.h"

using namespace kctl;
using namespace kctl::apiserver;
using nlohmann::json;

namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kIssuer = kDefaultServiceAccountIssuer;

// Objects by "resource/ns/name".
struct FakeObjects {
  std::map<std::string, json> objects;
  void put(const std::string& resource, const std::string& ns, const std::string& name, json obj) {
    obj["metadata"]["name"] = name;
    if (!ns.empty()) obj["metadata"]["namespace"] = ns;
    if (!obj["metadata"].contains("uid")) obj["metadata"]["uid"] = resource + "-" + name + "-uid";
    objects[resource + "/" + ns + "/" + name] = obj;
  }
  ObjectGetter getter() {
    return [this](const std::string& r, const std::string& ns, const std::string& n) -> std::optional<json> {
      auto it = objects.find(r + "/" + ns + "/" + n);
      if (it == objects.end()) return std::nullopt;
      return it->second;
    };
  }
};

class ServiceAccountTokenTest : public ::testing::Test {
 protected:
  ServiceAccountTokenTest()
      : key(jwt::Key::generate_es256()),
        issuer(key, kIssuer, {}, objects.getter()),
        authn(jwt::Key::public_from_pem(key.public_pem()), {kIssuer}, {}, objects.getter()) {
    objects.put("serviceaccounts", "default", "default", json::object());
    objects.put("nodes", "", "node-1", json::object());
    objects.put("pods", "default", "web", {{"spec", {{"serviceAccountName", "default"}, {"nodeName", "node-1"}}}});
  }
  std::string token(json spec = json::object(), int64_t now = kNow) {
    return issuer.request_token("default", "default", {{"spec", spec}}, now)["status"]["token"];
  }
  std::string reject_reason(const std::string& t, int64_t now = kNow) {
    try {
      authn.authenticate(t, now);
    } catch (const TokenRejected& e) {
      EXPECT_EQ(e.status().code, 401);
      EXPECT_EQ(e.status().message, "Unauthorized");
      return e.reason();
    }
    return "accepted";
  }

  FakeObjects objects;
  jwt::Key key;
  ServiceAccountTokenIssuer issuer;
  ServiceAccountTokenAuthenticator authn;
};

}  // namespace

TEST_F(ServiceAccountTokenTest, TokenRequestDefaultsAndClaims) {
  json tr = issuer.request_token("default", "default", {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}},
                                 kNow);
  EXPECT_EQ(tr["kind"], "TokenRequest");
  EXPECT_EQ(tr["spec"]["audiences"], json::array({kIssuer}));
  EXPECT_EQ(tr["spec"]["expirationSeconds"], 3600);
  EXPECT_EQ(tr["status"]["expirationTimestamp"], format_rfc3339(kNow + 3600));
  auto parsed = jwt::parse(tr["status"]["token"].get<std::string>());
  ASSERT_TRUE(parsed);
  const json& c = parsed->claims;
  EXPECT_EQ(c["iss"], kIssuer);
  EXPECT_EQ(c["sub"], "system:serviceaccount:default:default");
  EXPECT_EQ(c["aud"], json::array({kIssuer}));
  EXPECT_EQ(c["iat"], kNow);
  EXPECT_EQ(c["nbf"], kNow);
  EXPECT_EQ(c["exp"], kNow + 3600);
  EXPECT_EQ(c["jti"].get<std::string>().size(), 36u);
  EXPECT_EQ(c["kubernetes.io"],
            json({{"namespace", "default"},
                  {"serviceaccount", {{"name", "default"}, {"uid", "serviceaccounts-default-uid"}}}}));
}

TEST_F(ServiceAccountTokenTest, TokenRequestRefusesBadSpecs) {
  auto code = [&](const std::string& sa, const json& spec) {
    try {
      issuer.request_token("default", sa, {{"spec", spec}}, kNow);
    } catch (const api::StatusError& e) {
      return e.status().code;
    }
    return 201;
  };
  EXPECT_EQ(code("default", {{"expirationSeconds", 599}}), 422);
  EXPECT_EQ(code("default", {{"expirationSeconds", (int64_t(1) << 32) + 1}}), 422);
  EXPECT_EQ(code("default", {{"expirationSeconds", 600}}), 201);
  EXPECT_EQ(code("nobody", json::object()), 404);
  EXPECT_EQ(code("default", {{"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "gone"}}}}), 404);
  EXPECT_EQ(code("default", {{"boundObjectRef", {{"kind", "Pod"}, {"name", "web"}, {"uid", "other"}}}}), 409);
  EXPECT_EQ(code("default", {{"boundObjectRef", {{"kind", "Deployment"}, {"name", "web"}}}}), 400);
  objects.put("serviceaccounts", "default", "builder", json::object());
  EXPECT_EQ(code("builder", {{"boundObjectRef", {{"kind", "Pod"}, {"name", "web"}}}}), 400);  // the pod runs as default
}

TEST_F(ServiceAccountTokenTest, AuthenticatesAsTheServiceAccount) {
  auto user = authn.authenticate(token(), kNow + 10);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "system:serviceaccount:default:default");
  EXPECT_EQ(user->uid, "serviceaccounts-default-uid");
  EXPECT_EQ(user->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}));
  EXPECT_FALSE(user->extra.count(kExtraPodName));
  EXPECT_EQ(user->extra.at(kExtraCredentialId).at(0).rfind("JTI=", 0), 0u);
}

TEST_F(ServiceAccountTokenTest, PodBoundTokenNamesPodAndNode) {
  std::string t = token({{"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "web"}}}});
  auto c = jwt::parse(t)->claims["kubernetes.io"];
  EXPECT_EQ(c["pod"], json({{"name", "web"}, {"uid", "pods-web-uid"}}));
  EXPECT_EQ(c["node"], json({{"name", "node-1"}, {"uid", "nodes-node-1-uid"}}));
  auto user = authn.authenticate(t, kNow);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->extra.at(kExtraPodName), std::vector<std::string>{"web"});
  EXPECT_EQ(user->extra.at(kExtraPodUid), std::vector<std::string>{"pods-web-uid"});
  EXPECT_EQ(user->extra.at(kExtraNodeName), std::vector<std::string>{"node-1"});
  // The pod replaced by another of the same name, then deleted.
  objects.put("pods", "default", "web", {{"metadata", {{"uid", "new"}}}, {"spec", {{"serviceAccountName", "default"}}}});
  EXPECT_EQ(reject_reason(t), "pod UID (new) does not match claim (pods-web-uid)");
  objects.objects.erase("pods/default/web");
  EXPECT_EQ(reject_reason(t), "pods \"web\" not found");
}

TEST_F(ServiceAccountTokenTest, RefusesExpiredTamperedAndForeignTokens) {
  std::string t = token();
  EXPECT_EQ(reject_reason(t, kNow + 3600 + 61), "invalid bearer token, validation failed, token is expired (exp)");
  EXPECT_EQ(reject_reason(t, kNow + 3600 + 59), "accepted");  // the leeway
  // Another key with our issuer: a bad signature.
  ServiceAccountTokenIssuer forger(jwt::Key::generate_es256(), kIssuer, {}, objects.getter());
  std::string forged = forger.request_token("default", "default", json::object(), kNow)["status"]["token"];
  EXPECT_NE(reject_reason(forged).find("signature"), std::string::npos);
  // The payload changed under the signature.
  size_t a = t.find('.'), b = t.rfind('.');
  json claims = jwt::parse(t)->claims;
  claims["kubernetes.io"]["namespace"] = "kube-system";
  std::string tampered = t.substr(0, a + 1) + jwt::base64url_encode(claims.dump()) + t.substr(b);
  EXPECT_NE(reject_reason(tampered).find("signature"), std::string::npos);
  // Another audience.
  std::string other = token({{"audiences", {"vault"}}});
  EXPECT_EQ(reject_reason(other),
            "invalid bearer token, token audiences [\"vault\"] is invalid for the target audiences [\"" + kIssuer + "\"]");
  // Not ours: another issuer, or not a JWT at all: another authenticator may know it.
  ServiceAccountTokenIssuer elsewhere(key, "https://elsewhere", {}, objects.getter());
  EXPECT_FALSE(authn.authenticate(elsewhere.request_token("default", "default", json::object(), kNow)["status"]["token"], kNow));
  EXPECT_FALSE(authn.authenticate("0123456789abcdef", kNow));
}

TEST_F(ServiceAccountTokenTest, DeletedOrReplacedServiceAccountInvalidatesItsTokens) {
  std::string t = token();
  objects.objects["serviceaccounts/default/default"]["metadata"]["deletionTimestamp"] = format_rfc3339(kNow - 61);
  EXPECT_EQ(reject_reason(t), "service account has been deleted");
  objects.put("serviceaccounts", "default", "default", {{"metadata", {{"uid", "recreated"}}}});
  EXPECT_EQ(reject_reason(t), "service account UID (recreated) does not match claim (serviceaccounts-default-uid)");
  objects.objects.erase("serviceaccounts/default/default");
  EXPECT_EQ(reject_reason(t), "serviceaccounts \"default\" not found");
}

TEST_F(ServiceAccountTokenTest, TokenReview) {
  json ok = review_token(authn, {{"spec", {{"token", token()}}}}, kNow);
  EXPECT_EQ(ok["kind"], "TokenReview");
  EXPECT_EQ(ok["status"]["authenticated"], true);
  EXPECT_EQ(ok["status"]["user"]["username"], "system:serviceaccount:default:default");
  EXPECT_EQ(ok["status"]["audiences"], json::array({kIssuer}));
  json vault = review_token(authn, {{"spec", {{"token", token({{"audiences", {"vault"}}})}, {"audiences", {"vault"}}}}}, kNow);
  EXPECT_EQ(vault["status"]["authenticated"], true);
  EXPECT_EQ(vault["status"]["audiences"], json::array({"vault"}));
  json expired = review_token(authn, {{"spec", {{"token", token()}}}}, kNow + 7200);
  EXPECT_FALSE(expired["status"].contains("authenticated"));
  EXPECT_EQ(expired["status"]["error"], "invalid bearer token, validation failed, token is expired (exp)");
  EXPECT_THROW(review_token(authn, {{"spec", json::object()}}, kNow), api::StatusError);
}

TEST(ServiceAccountAdmission, AddsTheProjectedVolumeAndMounts) {
  FakeObjects objects;
  objects.put("serviceaccounts", "default", "default", json::object());
  json pod = {{"metadata", {{"name", "p"}, {"namespace", "default"}}},
              {"spec",
               {{"serviceAccountName", "default"},
                {"initContainers", {{{"name", "init"}}}},
                {"containers",
                 {{{"name", "a"}},
                  {{"name", "b"},
                   {"volumeMounts", {{{"name", "mine"}, {"mountPath", kServiceAccountTokenMountPath}}}}}}},
                {"volumes", {{{"name", "mine"}, {"emptyDir", json::object()}}}}}}};
  admit_service_account(pod, objects.getter(), [] { return std::string("x7b2q"); });
  const json& spec = pod["spec"];
  ASSERT_EQ(spec["volumes"].size(), 2u);
  EXPECT_EQ(spec["volumes"][1]["name"], "kube-api-access-x7b2q");
  EXPECT_EQ(spec["volumes"][1]["projected"], service_account_token_volume_source());
  EXPECT_EQ(spec["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3607);
  json mount = {{"name", "kube-api-access-x7b2q"}, {"readOnly", true}, {"mountPath", kServiceAccountTokenMountPath}};
  EXPECT_EQ(spec["initContainers"][0]["volumeMounts"], json::array({mount}));
  EXPECT_EQ(spec["containers"][0]["volumeMounts"], json::array({mount}));
  EXPECT_EQ(spec["containers"][1]["volumeMounts"].size(), 1u);  // its own mount at the path stays
}

TEST(ServiceAccountAdmission, AutomountFalseOrNoServiceAccountAddsNothing) {
  FakeObjects objects;
  objects.put("serviceaccounts", "default", "default", json::object());
  objects.put("serviceaccounts", "default", "quiet", {{"automountServiceAccountToken", false}});
  auto admit = [&](json spec) {
    json pod = {{"metadata", {{"namespace", "default"}}}, {"spec", spec}};
    pod["spec"]["containers"] = {{{"name", "a"}}};
    admit_service_account(pod, objects.getter(), [] { return std::string("abcde"); });
    return pod["spec"].contains("volumes");
  };
  EXPECT_TRUE(admit({{"serviceAccountName", "default"}}));
  EXPECT_FALSE(admit({{"serviceAccountName", "default"}, {"automountServiceAccountToken", false}}));
  EXPECT_FALSE(admit({{"serviceAccountName", "quiet"}}));
  EXPECT_TRUE(admit({{"serviceAccountName", "quiet"}, {"automountServiceAccountToken", true}}));  // the pod wins
  EXPECT_FALSE(admit({{"serviceAccountName", "missing"}}));
}
