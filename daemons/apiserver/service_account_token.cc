// TokenRequest, the ServiceAccount token authenticator and TokenReview: the claims kube-apiserver writes
// (pkg/serviceaccount/claims.go), their checks (the JWT authenticator in jwt.go and the bound-object validator),
// and the validation of a TokenRequest (pkg/registry/core/serviceaccount/storage/token.go).
#include "daemons/apiserver/service_account_token.h"

#include <algorithm>
#include <ctime>

#include "api/registry.h"
#include "api/validation.h"
#include "daemons/apiserver/object_service.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

std::string str(const json& obj, const char* pointer) {
  json v = obj.value(json::json_pointer(pointer), json());
  return v.is_string() ? v.get<std::string>() : std::string();
}

// Whether `obj` was deleted more than the grace ago (deletionTimestamp set and in the past beyond the grace).
bool deleted_before_grace(const json& obj, int64_t now) {
  std::string ts = str(obj, "/metadata/deletionTimestamp");
  if (ts.empty()) return false;
  int64_t t = api::kinds::parse_time(ts);
  return t != 0 && t < now - kDeletedObjectGraceSeconds;
}

std::string quoted_list(const std::vector<std::string>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? " " : "") + json(list[i]).dump();
  return out + "]";
}

std::vector<std::string> audiences_of(const json& claims) {
  std::vector<std::string> out;
  auto it = claims.find("aud");
  if (it == claims.end()) return out;
  if (it->is_string()) out.push_back(it->get<std::string>());
  if (it->is_array())
    for (const auto& a : *it)
      if (a.is_string()) out.push_back(a.get<std::string>());
  return out;
}

// The bound object a TokenRequest names, read and checked; its {name, uid}.
json bound_object(const ObjectGetter& get, const std::string& ns, const std::string& sa_name, const json& ref) {
  std::string kind = ref.value("kind", ""), api_version = ref.value("apiVersion", "v1"), name = ref.value("name", "");
  std::string resource = kind == "Pod" ? "pods" : kind == "Secret" ? "secrets" : "";
  if (resource.empty() || (api_version != "v1" && !api_version.empty()))
    throw StatusError(Status::bad_request("cannot bind token to object of type " + api_version + ", Kind=" + kind));
  if (name.empty())
    throw StatusError(Status::invalid("TokenRequest", sa_name, {api::cause_required("spec.boundObjectRef.name", "")},
                                      "authentication.k8s.io"));
  auto obj = get(resource, ns, name);
  if (!obj) throw StatusError(Status::not_found(resource, name));
  std::string uid = str(*obj, "/metadata/uid"), want = ref.value("uid", "");
  if (!want.empty() && want != uid)
    throw StatusError(Status::conflict(kind, name,
                                       "the UID in the bound object reference (" + want +
                                           ") does not match the UID in record. The object might have been deleted "
                                           "and then recreated"));
  if (kind == "Pod" && str(*obj, "/spec/serviceAccountName") != sa_name)
    throw StatusError(Status::bad_request("cannot bind token for serviceaccount \"" + sa_name +
                                          "\" to pod running with different serviceaccount name."));
  return {{"name", name}, {"uid", uid}};
}

}  // namespace

ObjectGetter object_getter(const ObjectService& objects) {
  return [&objects](const std::string& resource, const std::string& ns,
                    const std::string& name) -> std::optional<json> {
    const api::KindInfo* kind = objects.registry().by_resource("", resource);
    if (!kind) return std::nullopt;
    try {
      return json::parse(objects.get(*kind, ns, name)->value);
    } catch (const StatusError& e) {
      if (e.status().code == 404) return std::nullopt;
      throw;
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// TokenRequest

ServiceAccountTokenIssuer::ServiceAccountTokenIssuer(jwt::Key signing_key, std::string issuer,
                                                     std::vector<std::string> api_audiences, ObjectGetter getter)
    : key_(std::move(signing_key)), issuer_(std::move(issuer)), api_audiences_(std::move(api_audiences)),
      get_(std::move(getter)) {
  if (api_audiences_.empty()) api_audiences_ = {issuer_};
}

json ServiceAccountTokenIssuer::request_token(const std::string& ns, const std::string& sa_name, const json& request,
                                              int64_t now) const {
  if (!request.is_object()) throw StatusError(Status::bad_request("the body of the request must be a TokenRequest"));
  std::string kind = request.value("kind", ""), api_version = request.value("apiVersion", "");
  if (!kind.empty() && kind != "TokenRequest")
    throw StatusError(Status::bad_request("the kind in the data (" + kind + ") does not match the kind of the "
                                          "resource (TokenRequest)"));
  if (!api_version.empty() && api_version != "authentication.k8s.io/v1")
    throw StatusError(Status::bad_request("the API version in the data (" + api_version +
                                          ") does not match the expected API version (authentication.k8s.io/v1)"));
  std::string body_name = str(request, "/metadata/name");
  if (!body_name.empty() && body_name != sa_name)
    throw StatusError(Status::bad_request("the name of the object (" + body_name +
                                          ") does not match the name on the URL (" + sa_name + ")"));
  json spec = request.value("spec", json::object());
  if (!spec.is_object()) spec = json::object();

  std::vector<api::StatusCause> causes;
  std::vector<std::string> audiences;
  json aud = spec.value("audiences", json());
  if (aud.is_array()) {
    for (const auto& a : aud)
      if (a.is_string() && !a.get<std::string>().empty() && a.get<std::string>().size() <= kMaxAudienceLength)
        audiences.push_back(a);
      else
        causes.push_back(api::cause_invalid("spec.audiences", a, "must be a non-empty string"));
    if (audiences.size() > kMaxTokenAudiences)
      causes.push_back(api::cause_too_many("spec.audiences", audiences.size(), kMaxTokenAudiences));
  }
  if (audiences.empty()) audiences = api_audiences_;
  json exp_field = spec.value("expirationSeconds", json(kDefaultTokenExpirationSeconds));
  int64_t expiration = exp_field.is_number_integer() ? exp_field.get<int64_t>() : 0;
  if (!exp_field.is_number_integer())
    causes.push_back(api::cause_invalid("spec.expirationSeconds", exp_field, "must be an integer"));
  else if (expiration < kMinTokenExpirationSeconds)
    causes.push_back(api::cause_invalid("spec.expirationSeconds", exp_field,
                                        "may not specify a duration less than 10 minutes"));
  else if (expiration > kMaxTokenExpirationSeconds)
    causes.push_back(api::cause_invalid("spec.expirationSeconds", exp_field,
                                        "may not specify a duration larger than 2^32 seconds"));
  if (!causes.empty()) throw StatusError(Status::invalid("TokenRequest", sa_name, causes, "authentication.k8s.io"));

  auto sa = get_("serviceaccounts", ns, sa_name);
  if (!sa) throw StatusError(Status::not_found("serviceaccounts", sa_name));
  json priv = {{"namespace", ns},
               {"serviceaccount", {{"name", sa_name}, {"uid", str(*sa, "/metadata/uid")}}}};
  json ref = spec.value("boundObjectRef", json());
  if (ref.is_object()) {
    json bound = bound_object(get_, ns, sa_name, ref);
    std::string kind_name = ref.value("kind", "");
    priv[kind_name == "Pod" ? "pod" : "secret"] = bound;
    spec["boundObjectRef"]["uid"] = bound["uid"];
    spec["boundObjectRef"]["apiVersion"] = "v1";
    if (kind_name == "Pod") {
      // Tokens of a pod name its node too (ServiceAccountTokenPodNodeInfo), when it is scheduled.
      std::string node_name = str(*get_("pods", ns, bound["name"]), "/spec/nodeName");
      if (auto node = node_name.empty() ? std::nullopt : get_("nodes", "", node_name))
        priv["node"] = {{"name", node_name}, {"uid", str(*node, "/metadata/uid")}};
    }
  }
  std::string jti = new_uid();
  json claims = {{"iss", issuer_},
                 {"sub", std::string(kServiceAccountUserPrefix) + ns + ":" + sa_name},
                 {"aud", audiences},
                 {"exp", now + expiration},
                 {"iat", now},
                 {"nbf", now},
                 {"jti", jti},
                 {"kubernetes.io", priv}};
  spec["audiences"] = audiences;
  spec["expirationSeconds"] = expiration;
  if (!spec.contains("boundObjectRef")) spec["boundObjectRef"] = nullptr;
  json out = {{"kind", "TokenRequest"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"name", sa_name}, {"namespace", ns}, {"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"token", jwt::sign(claims, key_)}, {"expirationTimestamp", format_rfc3339(now + expiration)}}}};
  return out;
}

json ObjectService::request_token(const std::string& ns, const std::string& sa_name, const json& request) const {
  if (!token_issuer_) throw StatusError(Status::service_unavailable("the ServiceAccount token issuer is not ready"));
  return token_issuer_->request_token(ns, sa_name, request, std::time(nullptr));
}

// ---------------------------------------------------------------------------------------------------------------
// The authenticator

TokenRejected::TokenRejected(std::string reason)
    : api::StatusError(Status::unauthorized("Unauthorized")), reason_(std::move(reason)) {}

ServiceAccountTokenAuthenticator::ServiceAccountTokenAuthenticator(std::vector<jwt::Key> keys,
                                                                   std::vector<std::string> issuers,
                                                                   std::vector<std::string> api_audiences,
                                                                   ObjectGetter getter)
    : keys_(std::move(keys)), issuers_(std::move(issuers)), api_audiences_(std::move(api_audiences)),
      get_(std::move(getter)) {
  if (api_audiences_.empty()) api_audiences_ = issuers_;
}

std::optional<UserInfo> ServiceAccountTokenAuthenticator::authenticate(const std::string& token) const {
  return authenticate(token, std::time(nullptr));
}

std::optional<UserInfo> ServiceAccountTokenAuthenticator::authenticate(const std::string& token, int64_t now) const {
  return authenticate(token, {}, now, nullptr);
}

std::optional<UserInfo> ServiceAccountTokenAuthenticator::authenticate(const std::string& token,
                                                                       const std::vector<std::string>& audiences,
                                                                       int64_t now,
                                                                       std::vector<std::string>* matched) const {
  auto parsed = jwt::parse(token);
  if (!parsed) return std::nullopt;
  json iss = parsed->claims.value("iss", json());
  if (!iss.is_string() || std::find(issuers_.begin(), issuers_.end(), iss.get<std::string>()) == issuers_.end())
    return std::nullopt;
  // Ours from here on: every failure is a 401.
  bool verified = std::any_of(keys_.begin(), keys_.end(), [&](const jwt::Key& k) { return jwt::verify_signature(token, k); });
  if (!verified) throw TokenRejected("invalid bearer token, the signature does not verify with any ServiceAccount key");
  const json& c = parsed->claims;
  if (std::string why = jwt::time_problem(c, now, kTokenLeewaySeconds); !why.empty())
    throw TokenRejected("invalid bearer token, validation failed, " + why);
  const std::vector<std::string>& accepted = audiences.empty() ? api_audiences_ : audiences;
  std::vector<std::string> token_auds = audiences_of(c), hits;
  for (const auto& a : accepted)
    if (std::find(token_auds.begin(), token_auds.end(), a) != token_auds.end()) hits.push_back(a);
  if (hits.empty())
    throw TokenRejected("invalid bearer token, token audiences " + quoted_list(token_auds) +
                        " is invalid for the target audiences " + quoted_list(accepted));
  json priv = c.value("kubernetes.io", json());
  std::string ns = str(priv, "/namespace"), sa_name = str(priv, "/serviceaccount/name"),
              sa_uid = str(priv, "/serviceaccount/uid");
  if (!priv.is_object() || ns.empty() || sa_name.empty() ||
      c.value("sub", json()) != std::string(kServiceAccountUserPrefix) + ns + ":" + sa_name)
    throw TokenRejected("invalid bearer token, the kubernetes.io claim does not name a ServiceAccount");

  auto sa = get_("serviceaccounts", ns, sa_name);
  if (!sa) throw TokenRejected("serviceaccounts \"" + sa_name + "\" not found");
  std::string uid = str(*sa, "/metadata/uid");
  if (uid != sa_uid) throw TokenRejected("service account UID (" + uid + ") does not match claim (" + sa_uid + ")");
  if (deleted_before_grace(*sa, now)) throw TokenRejected("service account has been deleted");
  UserInfo user;
  user.name = std::string(kServiceAccountUserPrefix) + ns + ":" + sa_name;
  user.uid = uid;
  user.groups = {kServiceAccountsGroup, std::string(kServiceAccountsGroup) + ":" + ns, kSystemAuthenticated};
  for (const char* bound : {"pod", "secret"}) {
    if (!priv.contains(bound)) continue;
    std::string name = str(priv[bound], "/name"), claim_uid = str(priv[bound], "/uid");
    std::string what = bound == std::string("pod") ? "pod" : "secret";
    auto obj = get_(what + "s", ns, name);
    if (!obj) throw TokenRejected(what + "s \"" + name + "\" not found");
    std::string obj_uid = str(*obj, "/metadata/uid");
    if (obj_uid != claim_uid)
      throw TokenRejected(what + " UID (" + obj_uid + ") does not match claim (" + claim_uid + ")");
    if (deleted_before_grace(*obj, now)) throw TokenRejected(what + " has been deleted");
    if (what == "pod") {
      user.extra[kExtraPodName] = {name};
      user.extra[kExtraPodUid] = {claim_uid};
    }
  }
  if (std::string node = str(priv, "/node/name"); !node.empty()) {
    user.extra[kExtraNodeName] = {node};
    if (std::string node_uid = str(priv, "/node/uid"); !node_uid.empty()) user.extra[kExtraNodeUid] = {node_uid};
  }
  if (std::string jti = str(c, "/jti"); !jti.empty()) user.extra[kExtraCredentialId] = {"JTI=" + jti};
  if (matched) *matched = hits;
  return user;
}

// ---------------------------------------------------------------------------------------------------------------
// TokenReview

json review_token(const ServiceAccountTokenAuthenticator& authn, const json& review, int64_t now) {
  if (!review.is_object()) throw StatusError(Status::bad_request("the body of the request must be a TokenReview"));
  json spec = review.value("spec", json::object());
  json token = spec.is_object() ? spec.value("token", json()) : json();
  if (!token.is_string() || token.get<std::string>().empty())
    throw StatusError(Status::invalid("TokenReview", "", {api::cause_required("spec.token", "")},
                                      "authentication.k8s.io"));
  std::vector<std::string> audiences;
  for (const auto& a : spec.value("audiences", json::array()))
    if (a.is_string()) audiences.push_back(a);
  json out = {{"kind", "TokenReview"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"user", json::object()}}}};
  if (review.contains("metadata") && review["metadata"].is_object())
    for (const char* f : {"name", "generateName"})
      if (review["metadata"].contains(f)) out["metadata"][f] = review["metadata"][f];
  try {
    std::vector<std::string> matched;
    auto user = authn.authenticate(token.get<std::string>(), audiences, now, &matched);
    if (user) {
      out["status"]["authenticated"] = true;
      out["status"]["user"] = user->to_json();
      out["status"]["audiences"] = matched;
    }
  } catch (const TokenRejected& e) {
    out["status"]["error"] = e.reason();
  }
  return out;
}

}  // namespace kctl::apiserver
