// Privilege-escalation prevention for RBAC writes, as kube-apiserver's "policybased" storages of Roles, ClusterRoles,
// RoleBindings and ClusterRoleBindings do it (pkg/registry/rbac): nobody grants, or binds, what they do not hold.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "daemons/apiserver/auth.h"
#include "daemons/apiserver/rbac.h"
#include "daemons/apiserver/store.h"

namespace kctl::apiserver {

// rbacv1helpers.CompactString, for the messages: `{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}`
// (the non-empty lists only, each as Go's %q prints a []string).
std::string compact_string(const PolicyRule& rule);

// validation.ConfirmNoEscalation's verdict on a `user` whose own rules are `owner` (with `resolution_errors` from
// resolving them, "" for none) granting `requested`: "" when `owner` covers it, otherwise kube's message:
//   user "U" (groups=["g" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:
//   {APIGroups:[""], Resources:["secrets"], Verbs:["*"]}
// one line per missing group/resource(/name) with its verbs (CompactRules), sorted and without duplicates, then
// "; resolution errors: [...]" when there were any.
std::string escalation_problem(const UserInfo& user, const std::vector<PolicyRule>& owner,
                               const std::string& resolution_errors, const std::vector<PolicyRule>& requested);

class RbacEscalationCheck {
 public:
  // `rules` resolves what a user holds and the roles bindings refer to; `authorizer` answers the `escalate` and
  // `bind` checks (the apiserver's whole chain, as kube asks its authorizer); `store` says how far the index must
  // have caught up before it is asked, so a check sees every RBAC write made before it (kube reads those from
  // storage directly).
  RbacEscalationCheck(const RbacAuthorizer& rules, const Authorizer& authorizer, const Store& store)
      : rules_(rules), authorizer_(authorizer), store_(store) {}

  // Throws api::StatusError when `user` may not make this write of a Role, ClusterRole, RoleBinding or
  // ClusterRoleBinding (`obj` as it would be stored, `old` the stored object or null on create):
  //  - a role's rules must be held by the user in the role's namespace (cluster-wide for a ClusterRole), unless it
  //    may `escalate` roles/clusterroles; an aggregationRule (set, or on the stored ClusterRole) needs every right;
  //  - a binding's role must be one the user may `bind` (by name, in the binding's namespace) or whose rules it
  //    holds there; a role that does not exist then answers 404.
  // Refusals are 403 with kube's messages. Writes without a user (D-Bus, the apiserver's own), by system:masters
  // (and so the plain HTTP port's user), of other kinds, or of ownerReferences and finalizers only, pass.
  void admit(const api::KindInfo& kind, const nlohmann::json& obj, const nlohmann::json* old,
             const UserInfo* user) const;

 private:
  bool allowed(const UserInfo& user, const std::string& verb, const std::string& group, const std::string& resource,
               const std::string& ns, const std::string& name) const;
  // ConfirmNoEscalation against the user's rules in `ns`: "" or the refusal's message.
  std::string problem(const UserInfo& user, const std::string& ns, const std::vector<PolicyRule>& requested) const;
  void admit_role(const api::KindInfo& kind, const nlohmann::json& obj, const nlohmann::json* old,
                  const UserInfo& user) const;
  void admit_binding(const api::KindInfo& kind, const nlohmann::json& obj, const UserInfo& user) const;

  const RbacAuthorizer& rules_;
  const Authorizer& authorizer_;
  const Store& store_;
};

}  // namespace kctl::apiserver
