// Bootstrap token authentication: the token's ID names its Secret, the Secret holds the secret half and says what
// the token is good for and until when.
#include "daemons/apiserver/bootstrap_token.h"

#include <openssl/crypto.h>

#include <ctime>

#include "api/go_json.h"
#include "api/registry.h"
#include "api/status.h"
#include "daemons/apiserver/object_service.h"

namespace kctl::apiserver {

using nlohmann::json;

namespace {

bool is_token_chars(const std::string& s) {
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

std::optional<std::string> data_field(const json& secret, const char* key) {
  const json* data = secret.contains("data") && secret["data"].is_object() ? &secret["data"] : nullptr;
  if (!data || !data->contains(key) || !(*data)[key].is_string()) return std::nullopt;
  return api::base64_decode((*data)[key].get<std::string>());
}

// RFC 3339 ("2026-12-06T11:43:07Z", with an optional fraction and a numeric offset); nullopt when unparsable.
std::optional<int64_t> parse_expiration(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.')
    for (++rest; *rest >= '0' && *rest <= '9';) ++rest;
  int64_t offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = (*rest == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

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

std::optional<BootstrapToken> parse_bootstrap_token(const std::string& token) {
  if (token.size() != 23 || token[6] != '.') return std::nullopt;
  BootstrapToken t{token.substr(0, 6), token.substr(7)};
  if (!is_token_chars(t.id) || !is_token_chars(t.secret)) return std::nullopt;
  return t;
}

std::optional<UserInfo> bootstrap_token_user(const BootstrapToken& token, const json& secret, int64_t now) {
  if (!secret.is_object() || secret.value("type", "") != kBootstrapTokenSecretType) return std::nullopt;
  if (secret.contains("metadata") && secret["metadata"].contains("deletionTimestamp") &&
      !secret["metadata"]["deletionTimestamp"].is_null())
    return std::nullopt;
  auto id = data_field(secret, "token-id");
  auto stored = data_field(secret, "token-secret");
  if (!id || *id != token.id || !stored) return std::nullopt;
  // The secret half is compared in constant time: its length is public (always 16).
  if (stored->size() != token.secret.size() ||
      CRYPTO_memcmp(stored->data(), token.secret.data(), token.secret.size()) != 0)
    return std::nullopt;
  if (data_field(secret, "usage-bootstrap-authentication").value_or("") != "true") return std::nullopt;
  if (auto exp = data_field(secret, "expiration")) {
    auto when = parse_expiration(*exp);
    if (!when || now >= *when) return std::nullopt;  // an unparsable expiration is treated as expired, as kube does
  }
  UserInfo user;
  user.name = kBootstrapUserPrefix + token.id;
  user.groups = {kBootstrappersGroup};
  if (auto extra = data_field(secret, "auth-extra-groups")) {
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
