// RBAC (rbac.authorization.k8s.io/v1), kube-apiserver's --authorization-mode=RBAC: the rule matching of
// plugin/pkg/auth/authorizer/rbac and the rule resolution of pkg/registry/rbac/validation, answered from an in-memory
// index of Roles, ClusterRoles, RoleBindings and ClusterRoleBindings that one store watch keeps current.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "daemons/apiserver/auth.h"
#include "daemons/apiserver/store.h"

namespace kctl::apiserver {

inline constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";

// rbacv1.PolicyRule.
struct PolicyRule {
  std::vector<std::string> verbs, api_groups, resources, resource_names, non_resource_urls;

  static PolicyRule from_json(const nlohmann::json& rule);  // tolerant: wrong types read as empty
  nlohmann::json to_json() const;                          // empty lists left out, as Go's omitempty does
  bool operator==(const PolicyRule&) const = default;
};

// RuleAllows: whether one rule grants the request (verb, group, resource or "*/sub" subresource, resourceNames only
// for requests that name an object; or verb and non-resource URL with a trailing "*" prefix match).
bool rule_allows(const RequestAttributes& a, const PolicyRule& rule);

// validation.Covers: whether `owner` grants everything `requested` does; `missing` gets the uncovered pieces of
// `requested` broken down to one verb, group, resource (and name) or one URL each.
bool rules_cover(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& requested,
                 std::vector<PolicyRule>* missing = nullptr);

// "system:serviceaccount:NS:NAME", the user name a service account authenticates as.
std::string service_account_user(const std::string& ns, const std::string& name);

class RbacAuthorizer : public Authorizer {
 public:
  // Lists the four kinds from `store` (so the index is complete when this returns), then follows the store's
  // changes on a background thread. `registry` names the kinds' storage keys. Throws StoreError if the first list
  // fails.
  RbacAuthorizer(Store& store, const api::Registry& registry);
  ~RbacAuthorizer() override;  // stops the watch thread
  RbacAuthorizer(const RbacAuthorizer&) = delete;
  RbacAuthorizer& operator=(const RbacAuthorizer&) = delete;

  // Allow with kube's reason (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`), or
  // NoOpinion; bindings whose role is missing are skipped and named in the NoOpinion's reason. No store I/O.
  Decision authorize(const RequestAttributes& a) const override;

  // Every rule that applies to `user` in `ns` ("" for cluster-wide bindings only), in kube's order, and the
  // resolution errors (missing roles) as kube's aggregate error text in `errors`.
  std::vector<PolicyRule> rules_for(const UserInfo& user, const std::string& ns, std::string* errors = nullptr) const;
  // The same as an authorization.k8s.io/v1 SubjectRulesReviewStatus: {"resourceRules": [...], "nonResourceRules":
  // [...], "incomplete": false, "evaluationError"?: "..."}, for SelfSubjectRulesReview and `kubectl auth can-i --list`.
  nlohmann::json rules_review_status(const UserInfo& user, const std::string& ns) const;
  // GetRoleReferenceRules: the rules of the Role (in `ns`) or ClusterRole (`kind`) a binding refers to; nullopt when
  // there is no such role (or the kind is neither).
  std::optional<std::vector<PolicyRule>> role_reference_rules(const std::string& kind, const std::string& name,
                                                              const std::string& ns) const;

  // The store revision the index reflects; waits until it is at least `revision` (tests, and callers that must see
  // their own write).
  int64_t revision() const;
  bool wait_for_revision(int64_t revision, std::chrono::milliseconds timeout) const;

 private:
  struct Subject {
    std::string kind, name, ns;
  };
  struct Binding {
    std::string name, ns, role_kind, role_name;
    std::vector<Subject> subjects;
  };
  enum class Kind { Role, ClusterRole, RoleBinding, ClusterRoleBinding };
  struct Source;

  // Walks the rules that apply (VisitRulesFor); `visit` returns false to stop.
  template <class Visit>
  void visit_rules(const UserInfo& user, const std::string& ns, std::vector<std::string>& errors, Visit&& visit) const;
  const std::vector<PolicyRule>* role_rules(const Binding& b, std::vector<std::string>& errors) const;

  void relist();  // replaces the index from four lists; sets revision_. Throws what the store throws.
  bool try_relist();
  void apply_record(Kind kind, EventType type, const Record& rec);
  void apply(Kind kind, EventType type, const nlohmann::json& obj);
  void run();     // the watch thread

  Store& store_;
  std::string prefixes_[4];  // storage prefix per Kind

  mutable std::shared_mutex index_mutex_;
  // Guarded by index_mutex_. Keyed by name (namespace, name); std::map keeps kube's lister order deterministic.
  std::map<std::string, std::vector<PolicyRule>> cluster_roles_;
  std::map<std::string, std::map<std::string, std::vector<PolicyRule>>> roles_;
  std::map<std::string, Binding> cluster_role_bindings_;
  std::map<std::string, std::map<std::string, Binding>> role_bindings_;
  int64_t listed_[4] = {0, 0, 0, 0};  // the revision each kind was listed at: events up to it are already in

  mutable std::mutex progress_mutex_;
  mutable std::condition_variable progress_cv_;
  int64_t revision_ = 0;  // guarded by progress_mutex_
  bool stopping_ = false;  // guarded by progress_mutex_
  WatchPtr watch_;         // set and reset by the watch thread under progress_mutex_; cancelled on stop
  std::thread thread_;
};

}  // namespace kctl::apiserver
