// Who a request comes from and what it asks to do: the vocabulary that authentication (authn.h), authorization
// (RBAC: rbac.h; the node authorizer) and the access reviews share, named as Kubernetes names it
// (k8s.io/apiserver's user.Info and authorizer.Attributes).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::apiserver {

// The authenticated caller. Every authenticated user is also in group system:authenticated; anonymous requests (where
// allowed) are user system:anonymous in group system:unauthenticated.
struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;

  bool in_group(const std::string& group) const;
  // authentication.k8s.io/v1 UserInfo: {"username", "uid", "groups", "extra"}, empty fields left out.
  nlohmann::json to_json() const;
};

inline constexpr const char* kSystemMasters = "system:masters";
inline constexpr const char* kSystemAuthenticated = "system:authenticated";
inline constexpr const char* kSystemUnauthenticated = "system:unauthenticated";
inline constexpr const char* kAnonymousUser = "system:anonymous";

// What one request asks to do (authorizer.Attributes). Resource requests name a verb (get, list, watch, create,
// update, patch, delete, deletecollection, and the special verbs: bind, escalate, impersonate, use, approve, ...)
// on group/resource[/subresource] in a namespace, optionally of one named object; non-resource requests name a path
// (/healthz, /version, /api, /openapi/v2, ...) and a verb that is the lowercased HTTP method.
struct RequestAttributes {
  UserInfo user;
  std::string verb;
  bool resource_request = false;
  std::string api_group, api_version, resource, subresource, ns, name;
  std::string path;  // non-resource requests

  // authorization.k8s.io/v1 ResourceAttributes or NonResourceAttributes, as a SubjectAccessReview's spec names them.
  nlohmann::json to_review_json() const;
};

struct Decision {
  enum class Kind { NoOpinion, Allow, Deny };
  Kind kind = Kind::NoOpinion;
  std::string reason;  // why, for the review's status.reason and the logs ("RBAC: allowed by ClusterRoleBinding ...")
  bool allowed() const { return kind == Kind::Allow; }
  static Decision allow(std::string why) { return {Kind::Allow, std::move(why)}; }
  static Decision no_opinion(std::string why = "") { return {Kind::NoOpinion, std::move(why)}; }
  static Decision deny(std::string why) { return {Kind::Deny, std::move(why)}; }
};

// One link of the authorization chain. The chain asks each in turn; the first Allow or Deny decides, and a request
// nobody allows is forbidden.
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Decision authorize(const RequestAttributes& a) const = 0;
};

// The 403 message kube-apiserver writes: `pods "web" is forbidden: User "bob" cannot create resource "pods" in API
// group "" in the namespace "default"` (resource requests) or `forbidden: User "bob" cannot get path "/metrics"`.
std::string forbidden_message(const RequestAttributes& a);

}  // namespace kctl::apiserver
