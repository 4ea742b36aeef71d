// The bootstrap token's form and its Secret's fields.
#include "api/bootstrap_token.h"

#include "api/go_json.h"

namespace kctl::api {

namespace {
bool is_token_chars(const std::string& s) {
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}
}  // namespace

std::optional<BootstrapToken> parse_bootstrap_token(const std::string& token) {
  if (token.size() != 23 || token[6] != '.') return std::nullopt;
  BootstrapToken t{token.substr(0, 6), token.substr(7)};
  if (!is_token_chars(t.id) || !is_token_chars(t.secret)) return std::nullopt;
  return t;
}

bool is_bootstrap_token_id(const std::string& id) { return id.size() == 6 && is_token_chars(id); }

std::optional<std::string> secret_data(const nlohmann::json& secret, const char* key) {
  const nlohmann::json* data = secret.contains("data") && secret["data"].is_object() ? &secret["data"] : nullptr;
  if (!data || !data->contains(key) || !(*data)[key].is_string()) return std::nullopt;
  return base64_decode((*data)[key].get<std::string>());
}

}  // namespace kctl::api
