// Bootstrap token authentication: the token's ID names its Secret, the Secret holds the secret half and says what
// the token is good for and until when.
#include "daemons/apiserver/bootstrap_token.h"

#include <openssl/crypto.h>

#include <ctime>

#include "api/bootstrap_token.h"

#include "api/go_json.h"
#include "api/registry.h"
#include "api/status.h"
#include "daemons/apiserver/object_service.h"

namespace kctl::apiserver {

using nlohmann::json;

namespace {

std::vector<std::string> split_groups(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string g = s.substr(start, comma - start);
    while (!g.empty() && g.front() == ' ') g.erase(g.begin());
    while (!g.empty() && g.back() == ' ') g.pop_back();
    if (!g.empty()) out.push_back(g);
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::optional<UserInfo> bootstrap_token_user(const BootstrapToken& token, const json& secret, int64_t now) {
  if (!secret.is_object() || secret.value("type", "") != kBootstrapTokenSecretType) return std::nullopt;
  if (secret.contains("metadata") && secret["metadata"].contains("deletionTimestamp") &&
      !secret["metadata"]["deletionTimestamp"].is_null())
    return std::nullopt;
  auto id = api::secret_data(secret, "token-id");
  auto stored = api::secret_data(secret, "token-secret");
  if (!id || *id != token.id || !stored) return std::nullopt;
  // The secret half is compared in constant time: its length is public (always 16).
  if (stored->size() != token.secret.size() ||
      CRYPTO_memcmp(stored->data(), token.secret.data(), token.secret.size()) != 0)
    return std::nullopt;
  if (api::secret_data(secret, "usage-bootstrap-authentication").value_or("") != "true") return std::nullopt;
  if (auto exp = api::secret_data(secret, "expiration")) {
    auto when = api::parse_rfc3339(*exp);
    if (!when || now >= when->seconds) return std::nullopt;  // an unparsable expiration is treated as expired, as kube does
  }
  UserInfo user;
  user.name = kBootstrapUserPrefix + token.id;
  user.groups = {kBootstrappersGroup};
  if (auto extra = api::secret_data(secret, "auth-extra-groups")) {
    for (const auto& g : split_groups(*extra)) {
      if (g.rfind(std::string(kBootstrappersGroup) + ":", 0) != 0) return std::nullopt;
      user.groups.push_back(g);
    }
  }
  return user;
}

Authenticator::TokenSource bootstrap_token_source(const ObjectService& objects) {
  return [&objects](const std::string& token) -> std::optional<UserInfo> {
    auto parsed = parse_bootstrap_token(token);
    if (!parsed) return std::nullopt;
    const api::KindInfo* secrets = objects.registry().by_kind("", "Secret");
    if (!secrets) return std::nullopt;
    RecordPtr rec;
    try {
      rec = objects.get(*secrets, "kube-system", kBootstrapTokenSecretPrefix + parsed->id);
    } catch (const api::StatusError&) {
      return std::nullopt;
    }
    if (!rec) return std::nullopt;
    json secret = json::parse(rec->value, nullptr, false);
    return bootstrap_token_user(*parsed, secret, static_cast<int64_t>(std::time(nullptr)));
  };
}

}  // namespace kctl::apiserver
