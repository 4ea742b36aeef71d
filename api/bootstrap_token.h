// Bootstrap tokens as both ends see them: the token's form `ID.SECRET` ([a-z0-9]{6}.[a-z0-9]{16}) and the Secret
// kube-system/bootstrap-token-ID of type bootstrap.kubernetes.io/token that holds it (kctl token writes it, the
// apiserver's authenticator reads it).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kctl::api {

inline constexpr const char* kBootstrapTokenSecretType = "bootstrap.kubernetes.io/token";
inline constexpr const char* kBootstrapTokenSecretPrefix = "bootstrap-token-";

struct BootstrapToken {
  std::string id, secret;
};
// The two halves of a token; nullopt for anything not of the form [a-z0-9]{6}.[a-z0-9]{16}.
std::optional<BootstrapToken> parse_bootstrap_token(const std::string& token);
// Whether `id` is a token's ID ([a-z0-9]{6}).
bool is_bootstrap_token_id(const std::string& id);

// A Secret's data[key], base64-decoded; nullopt when it is absent or not base64.
std::optional<std::string> secret_data(const nlohmann::json& secret, const char* key);

}  // namespace kctl::api
