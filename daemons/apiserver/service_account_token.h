// ServiceAccount tokens as kube-apiserver makes and checks them: the issuer behind TokenRequest
// (serviceaccounts/NAME/token) and the bearer-token authenticator (pkg/serviceaccount's JWT authenticator and its
// bound-object validator), with kube's claims: iss, sub, aud, exp, iat, nbf, jti and "kubernetes.io".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/jwt.h"
#include "api/status.h"
#include "daemons/apiserver/auth.h"

namespace kctl::apiserver {

class ObjectService;

// kube-apiserver's usual --service-account-issuer (and so the default audience).
inline constexpr const char* kDefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local";
inline constexpr const char* kServiceAccountUserPrefix = "system:serviceaccount:";
inline constexpr const char* kServiceAccountsGroup = "system:serviceaccounts";
// The user's extra keys when a token is bound to a pod (and the node it runs on), and the token's jti.
inline constexpr const char* kExtraPodName = "authentication.kubernetes.io/pod-name";
inline constexpr const char* kExtraPodUid = "authentication.kubernetes.io/pod-uid";
inline constexpr const char* kExtraNodeName = "authentication.kubernetes.io/node-name";
inline constexpr const char* kExtraNodeUid = "authentication.kubernetes.io/node-uid";
inline constexpr const char* kExtraCredentialId = "authentication.kubernetes.io/credential-id";

// TokenRequest's limits (ValidateTokenRequest): at least 10 minutes, at most 2^32 seconds; one hour by default.
inline constexpr int64_t kMinTokenExpirationSeconds = 600;
inline constexpr int64_t kMaxTokenExpirationSeconds = int64_t(1) << 32;
inline constexpr int64_t kDefaultTokenExpirationSeconds = 3600;
// Clock skew allowed on exp/nbf/iat (go-jose's jwt.DefaultLeeway), and how long a deleted ServiceAccount, Pod or
// Secret still backs its tokens (the validator's grace for objects being deleted gracefully).
inline constexpr int64_t kTokenLeewaySeconds = 60;
inline constexpr int64_t kDeletedObjectGraceSeconds = 60;
// Audiences a request may name, and their length: a TokenRequest is a small object.
inline constexpr size_t kMaxTokenAudiences = 32;
inline constexpr size_t kMaxAudienceLength = 1024;

// Reads an object: "serviceaccounts", "pods", "secrets" or "nodes" (then ns is ""), nullopt when it does not exist.
using ObjectGetter =
    std::function<std::optional<nlohmann::json>(const std::string& resource, const std::string& ns,
                                                 const std::string& name)>;
// An ObjectGetter reading the apiserver's store directly.
ObjectGetter object_getter(const ObjectService& objects);

// Signs ServiceAccount tokens (TokenRequest) with --service-account-signing-key-file's key as --service-account-issuer.
class ServiceAccountTokenIssuer {
 public:
  ServiceAccountTokenIssuer(jwt::Key signing_key, std::string issuer, std::vector<std::string> api_audiences,
                            ObjectGetter getter);

  // POST serviceaccounts/NAME/token: `request` is an authentication.k8s.io/v1 TokenRequest; returns it with the
  // defaults filled in and status.token and status.expirationTimestamp. Throws StatusError: 404 (the ServiceAccount
  // or the bound object does not exist), 400/422 (bad spec), 409 (bound object uid differs).
  nlohmann::json request_token(const std::string& ns, const std::string& sa_name, const nlohmann::json& request,
                               int64_t now) const;
  const std::string& issuer() const { return issuer_; }

 private:
  jwt::Key key_;
  std::string issuer_;
  std::vector<std::string> api_audiences_;
  ObjectGetter get_;
};
using ServiceAccountTokenIssuerPtr = std::unique_ptr<ServiceAccountTokenIssuer>;

// A bearer token that is a ServiceAccount token of ours but is not good (expired, bad signature, other audience,
// its ServiceAccount or bound object gone). status() is what kube-apiserver answers: 401 "Unauthorized", with no
// detail for the client; reason() is the detail, for logs and TokenReview's status.error.
class TokenRejected : public api::StatusError {
 public:
  explicit TokenRejected(std::string reason);
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// The authenticator of ServiceAccount tokens (bearer tokens: "Authorization: Bearer TOKEN").
class ServiceAccountTokenAuthenticator {
 public:
  // keys: --service-account-key-file's (and the signing key's public half); issuers: --service-account-issuer (every
  // one given is accepted); api_audiences: --api-audiences (default: the issuers).
  ServiceAccountTokenAuthenticator(std::vector<jwt::Key> keys, std::vector<std::string> issuers,
                                   std::vector<std::string> api_audiences, ObjectGetter getter);

  // nullopt: not a JWT, or one whose "iss" is not ours (another authenticator may know it). The user
  // system:serviceaccount:NS:NAME when it is good. Throws TokenRejected when it is ours but not good.
  std::optional<UserInfo> authenticate(const std::string& token, int64_t now) const;
  std::optional<UserInfo> authenticate(const std::string& token) const;
  // As above with the audiences the caller accepts (TokenReview's spec.audiences; empty: the API audiences);
  // `matched` receives the accepted audiences the token carries.
  std::optional<UserInfo> authenticate(const std::string& token, const std::vector<std::string>& audiences,
                                       int64_t now, std::vector<std::string>* matched) const;

 private:
  std::vector<jwt::Key> keys_;
  std::vector<std::string> issuers_, api_audiences_;
  ObjectGetter get_;
};
using ServiceAccountTokenAuthenticatorPtr = std::unique_ptr<ServiceAccountTokenAuthenticator>;

// POST /apis/authentication.k8s.io/v1/tokenreviews: the TokenReview `review` answered with status.authenticated,
// status.user, status.audiences or status.error, as kube-apiserver does. Throws StatusError(400) for a review
// without spec.token.
nlohmann::json review_token(const ServiceAccountTokenAuthenticator& authn, const nlohmann::json& review, int64_t now);

}  // namespace kctl::apiserver
