// The escalation check of RBAC writes: kube's EscalationAllowed, RoleEscalationAuthorized, BindingAuthorized,
// ConfirmNoEscalation with CompactRules and CompactString, and IsOnlyMutatingGCFields.
#include "daemons/apiserver/rbac_escalation.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "api/status.h"
#include "api/validation.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

// How long a check waits for the RBAC index to reach the store's revision. It is normally there already; when the
// watch is stuck the check goes on with what the index has (a refusal then is one an earlier request would have got).
constexpr auto kIndexCatchUp = std::chrono::seconds(5);

// Go's %q of a []string: ["a" "b"].
std::string go_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + api::go_quote(v[i]);
  return out + "]";
}

// validation.CompactRules: the pieces that differ only by verb (one group, one resource, at most one name, no
// URLs) become one rule with all their verbs, in the order met; the others are kept as they are.
std::vector<PolicyRule> compact_rules(const std::vector<PolicyRule>& rules) {
  std::vector<PolicyRule> out, simple;
  for (const auto& r : rules) {
    bool is_simple = r.api_groups.size() == 1 && r.resources.size() == 1 && r.resource_names.size() <= 1 &&
                     r.non_resource_urls.empty();
    if (!is_simple) {
      out.push_back(r);
      continue;
    }
    auto same = std::find_if(simple.begin(), simple.end(), [&](const PolicyRule& s) {
      return s.api_groups == r.api_groups && s.resources == r.resources && s.resource_names == r.resource_names;
    });
    if (same == simple.end()) simple.push_back(r);
    else same->verbs.insert(same->verbs.end(), r.verbs.begin(), r.verbs.end());
  }
  out.insert(out.end(), simple.begin(), simple.end());
  return out;
}

// Everything, as kube's clusterrole storage asks of whoever sets an aggregationRule.
const std::vector<PolicyRule>& full_authority() {
  static const std::vector<PolicyRule> rules = {{{"*"}, {"*"}, {"*"}, {}, {}}, {{"*"}, {}, {}, {}, {"*"}}};
  return rules;
}

std::string str_at(const json& obj, const char* pointer) {
  json::json_pointer p(pointer);
  return obj.contains(p) && obj[p].is_string() ? obj[p].get<std::string>() : "";
}

std::vector<PolicyRule> rules_of(const json& role) {
  std::vector<PolicyRule> out;
  json rules = role.value("rules", json::array());
  if (rules.is_array())
    for (const auto& r : rules) out.push_back(PolicyRule::from_json(r));
  return out;
}

bool has_aggregation_rule(const json& role) {
  json selectors = role.value("/aggregationRule/clusterRoleSelectors"_json_pointer, json());
  return selectors.is_array() && !selectors.empty();
}

// IsOnlyMutatingGCFields: what the garbage collector writes (ownerReferences, finalizers) needs no check.
bool only_gc_fields_change(const json& obj, const json& old) {
  json a = obj, b = old;
  for (json* o : {&a, &b}) {
    if (!o->contains("metadata") || !(*o)["metadata"].is_object()) continue;
    for (const char* f : {"ownerReferences", "finalizers", "selfLink", "resourceVersion", "managedFields"})
      (*o)["metadata"].erase(f);
  }
  return a == b;
}

}  // namespace

std::string compact_string(const PolicyRule& r) {
  std::vector<std::string> parts;
  if (!r.api_groups.empty()) parts.push_back("APIGroups:" + go_list(r.api_groups));
  if (!r.resources.empty()) parts.push_back("Resources:" + go_list(r.resources));
  if (!r.non_resource_urls.empty()) parts.push_back("NonResourceURLs:" + go_list(r.non_resource_urls));
  if (!r.resource_names.empty()) parts.push_back("ResourceNames:" + go_list(r.resource_names));
  if (!r.verbs.empty()) parts.push_back("Verbs:" + go_list(r.verbs));
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + "}";
}

std::string escalation_problem(const UserInfo& user, const std::vector<PolicyRule>& owner,
                               const std::string& resolution_errors, const std::vector<PolicyRule>& requested) {
  std::vector<PolicyRule> missing;
  if (rules_cover(owner, requested, &missing)) return "";
  std::set<std::string> lines;  // sets.NewString(...).List(): sorted, each once
  for (const auto& r : compact_rules(missing)) lines.insert(compact_string(r));
  std::string msg = "user " + api::go_quote(user.name) + " (groups=" + go_list(user.groups) +
                    ") is attempting to grant RBAC permissions not currently held:";
  for (const auto& l : lines) msg += "\n" + l;
  // fmt's %v of the []error holding RulesFor's one aggregate error.
  if (!resolution_errors.empty()) msg += "; resolution errors: [" + resolution_errors + "]";
  return msg;
}

bool RbacEscalationCheck::allowed(const UserInfo& user, const std::string& verb, const std::string& group,
                                  const std::string& resource, const std::string& ns, const std::string& name) const {
  RequestAttributes a;
  a.user = user;
  a.verb = verb;
  a.resource_request = true;
  a.api_group = group;
  a.api_version = "*";
  a.resource = resource;
  a.ns = ns;
  a.name = name;
  return authorizer_.authorize(a).allowed();
}

std::string RbacEscalationCheck::problem(const UserInfo& user, const std::string& ns,
                                         const std::vector<PolicyRule>& requested) const {
  std::string errors;
  auto owner = rules_.rules_for(user, ns, &errors);
  return escalation_problem(user, owner, errors, requested);
}

void RbacEscalationCheck::admit(const api::KindInfo& kind, const json& obj, const json* old,
                                const UserInfo* user) const {
  if (!user || kind.group != kRbacGroup) return;
  // EscalationAllowed: system:masters is the apiserver's own privileged group.
  if (user->in_group(kSystemMasters)) return;
  if (old && only_gc_fields_change(obj, *old)) return;
  rules_.wait_for_revision(store_.current_revision(), kIndexCatchUp);
  if (kind.kind == "Role" || kind.kind == "ClusterRole") admit_role(kind, obj, old, *user);
  if (kind.kind == "RoleBinding" || kind.kind == "ClusterRoleBinding") admit_binding(kind, obj, *user);
}

void RbacEscalationCheck::admit_role(const api::KindInfo& kind, const json& obj, const json* old,
                                     const UserInfo& user) const {
  std::string name = str_at(obj, "/metadata/name"), ns = str_at(obj, "/metadata/namespace");
  // RoleEscalationAuthorized asks about the request: a create names no object, an update names the one it writes.
  if (allowed(user, "escalate", kRbacGroup, kind.plural, ns, old ? name : "")) return;
  if (auto p = problem(user, ns, rules_of(obj)); !p.empty())
    throw StatusError(Status::forbidden(kind.plural, name, p, kRbacGroup));
  // An aggregationRule gathers whatever is labelled to match, now or later: setting or changing one takes every
  // right.
  if (kind.kind == "ClusterRole" && (has_aggregation_rule(obj) || (old && has_aggregation_rule(*old))) &&
      !problem(user, "", full_authority()).empty())
    throw StatusError(Status::forbidden(kind.plural, name, "must have cluster-admin privileges to use the aggregationRule",
                                        kRbacGroup));
}

void RbacEscalationCheck::admit_binding(const api::KindInfo& kind, const json& obj, const UserInfo& user) const {
  std::string name = str_at(obj, "/metadata/name"), ns = str_at(obj, "/metadata/namespace");
  std::string role_kind = str_at(obj, "/roleRef/kind"), role_name = str_at(obj, "/roleRef/name");
  // BindingAuthorized: `bind` on that role by name, in the binding's namespace (all namespaces for a
  // ClusterRoleBinding), so a ClusterRole may be delegated for binding in some namespaces only.
  std::string role_resource = role_kind == "ClusterRole" ? "clusterroles" : role_kind == "Role" ? "roles" : "";
  if (!role_resource.empty() &&
      allowed(user, "bind", str_at(obj, "/roleRef/apiGroup"), role_resource, ns, role_name))
    return;
  auto rules = rules_.role_reference_rules(role_kind, role_name, ns);
  if (!rules) throw StatusError(Status::not_found(role_resource, role_name, kRbacGroup));
  if (auto p = problem(user, ns, *rules); !p.empty())
    throw StatusError(Status::forbidden(kind.plural, name, p, kRbacGroup));
}

}  // namespace kctl::apiserver
