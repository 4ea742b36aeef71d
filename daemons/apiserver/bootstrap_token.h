// Bootstrap tokens (kube's plugin/pkg/auth/authenticator/token/bootstrap): `ID.SECRET` bearer tokens kept as Secrets
// kube-system/bootstrap-token-ID of type bootstrap.kubernetes.io/token, with which a joining node asks for its cert.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/bootstrap_token.h"
#include "daemons/apiserver/authn.h"

namespace kctl::apiserver {

class ObjectService;

// The token's form and its Secret (api/bootstrap_token.h), shared with `kctl token`.
using api::BootstrapToken;
using api::kBootstrapTokenSecretPrefix;
using api::kBootstrapTokenSecretType;
using api::parse_bootstrap_token;
inline constexpr const char* kBootstrapUserPrefix = "system:bootstrap:";
inline constexpr const char* kBootstrappersGroup = "system:bootstrappers";

// Who `token` is when `secret` (a v1 Secret as JSON, data base64) is its Secret and good at `now` (seconds since the
// epoch): user system:bootstrap:ID in system:bootstrappers and the Secret's auth-extra-groups. nullopt when the Secret
// is of another type, is being deleted, names another token, has another secret (compared in constant time), is not
// for authentication, has expired, or lists an extra group outside system:bootstrappers:*.
std::optional<UserInfo> bootstrap_token_user(const BootstrapToken& token, const nlohmann::json& secret, int64_t now);

// The token source that looks tokens up in the store (one get of the Secret per request).
Authenticator::TokenSource bootstrap_token_source(const ObjectService& objects);

}  // namespace kctl::apiserver
