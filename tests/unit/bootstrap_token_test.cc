// Bootstrap tokens: the token's form, and which Secrets make it authenticate as whom.
#include "daemons/apiserver/bootstrap_token.h"

#include <gtest/gtest.h>

#include "api/go_json.h"

using namespace kctl::apiserver;
using kctl::api::base64_encode;
using nlohmann::json;

namespace {

constexpr int64_t kNow = 1800000000;  // 2027-01-15T08:00:00Z

json token_secret(std::map<std::string, std::string> data, std::string type = kBootstrapTokenSecretType) {
  json d = json::object();
  for (const auto& [k, v] : data) d[k] = base64_encode(v);
  return {{"apiVersion", "v1"}, {"kind", "Secret"},
          {"metadata", {{"name", "bootstrap-token-abcdef"}, {"namespace", "kube-system"}}},
          {"type", type}, {"data", d}};
}

std::map<std::string, std::string> good_data() {
  return {{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}, {"usage-bootstrap-authentication", "true"}};
}

BootstrapToken tok(std::string secret = "0123456789abcdef") { return {"abcdef", std::move(secret)}; }

}  // namespace

TEST(BootstrapToken, ParsesOnlyTheTokenForm) {
  auto t = parse_bootstrap_token("abcdef.0123456789abcdef");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, "abcdef");
  EXPECT_EQ(t->secret, "0123456789abcdef");
  for (const char* bad : {"", "abcdef0123456789abcdef", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdefg",
                          "abcdef.0123456789abcde", "abcdef.0123456789abcdef0", "abc-ef.0123456789abcdef",
                          "abcdef:0123456789abcdef"})
    EXPECT_FALSE(parse_bootstrap_token(bad)) << bad;
}

TEST(BootstrapToken, AGoodSecretMakesTheBootstrapUser) {
  auto data = good_data();
  data["auth-extra-groups"] = "system:bootstrappers:kubeadm:default-node-token";
  auto u = bootstrap_token_user(tok(), token_secret(data), kNow);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->name, "system:bootstrap:abcdef");
  EXPECT_EQ(u->groups, (std::vector<std::string>{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"}));
}

TEST(BootstrapToken, RefusesWhatIsNotGood) {
  EXPECT_FALSE(bootstrap_token_user(tok("0123456789abcdee"), token_secret(good_data()), kNow));
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(good_data(), "Opaque"), kNow));
  auto d = good_data();
  d["usage-bootstrap-authentication"] = "false";
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(d), kNow));
  d = good_data();
  d.erase("usage-bootstrap-authentication");
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(d), kNow));
  d = good_data();
  d["token-id"] = "zzzzzz";
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(d), kNow));
  d = good_data();
  d["auth-extra-groups"] = "system:masters";
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(d), kNow));
  json deleting = token_secret(good_data());
  deleting["metadata"]["deletionTimestamp"] = "2027-01-01T00:00:00Z";
  EXPECT_FALSE(bootstrap_token_user(tok(), deleting, kNow));
}

TEST(BootstrapToken, ExpirationIsRfc3339) {
  auto d = good_data();
  d["expiration"] = "2027-01-15T08:00:01Z";
  EXPECT_TRUE(bootstrap_token_user(tok(), token_secret(d), kNow));
  d["expiration"] = "2027-01-15T08:00:00Z";
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(d), kNow));
  d["expiration"] = "2027-01-15T09:00:01+01:00";
  EXPECT_TRUE(bootstrap_token_user(tok(), token_secret(d), kNow));
  d["expiration"] = "tomorrow";
  EXPECT_FALSE(bootstrap_token_user(tok(), token_secret(d), kNow));
}
