// Role, ClusterRole, RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1): registry entries, the
// defaults of pkg/apis/rbac/v1/defaults.go, the validation of pkg/apis/rbac/validation and the Table rows.
#include "api/registry.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";

std::vector<std::string> strings_of(const json& obj, const char* field) {
  std::vector<std::string> out;
  if (!obj.is_object()) return out;
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& s : *it) out.push_back(s.is_string() ? s.get<std::string>() : s.dump());
  return out;
}

// A []string as Go's %#v prints it in field errors: []string{"/a", "/b"}.
std::string go_string_slice(const std::vector<std::string>& v) {
  std::string out = "[]string{";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + go_quote(v[i]);
  return out + "}";
}

// Roles and bindings need only names usable in a URL (kube's minimalNameRequirements): "system:node" is fine.
std::vector<std::string> minimal_name(std::string_view name, bool prefix) {
  return is_valid_path_segment_name(name, prefix);
}

void validate_policy_rule(const json& rule, bool namespaced, const std::string& path,
                          std::vector<StatusCause>& causes) {
  if (!rule.is_object()) return;  // the schema check reports the type
  auto verbs = strings_of(rule, "verbs"), groups = strings_of(rule, "apiGroups");
  auto resources = strings_of(rule, "resources"), names = strings_of(rule, "resourceNames");
  auto urls = strings_of(rule, "nonResourceURLs");
  if (verbs.empty()) causes.push_back(cause_required(path + ".verbs", "verbs must contain at least one value"));
  if (!urls.empty()) {
    std::string shown = go_string_slice(urls);
    if (namespaced)
      causes.push_back({kCauseInvalid, "Invalid value: " + shown + ": namespaced rules cannot apply to non-resource URLs",
                        path + ".nonResourceURLs"});
    if (!groups.empty() || !resources.empty() || !names.empty())
      causes.push_back({kCauseInvalid,
                        "Invalid value: " + shown + ": rules cannot apply to both regular resources and non-resource URLs",
                        path + ".nonResourceURLs"});
    return;
  }
  if (groups.empty())
    causes.push_back(cause_required(path + ".apiGroups", "resource rules must supply at least one api group"));
  if (resources.empty())
    causes.push_back(cause_required(path + ".resources", "resource rules must supply at least one resource"));
  if (!names.empty() && resources.size() > 1)
    causes.push_back(cause_required(path + ".resourceNames", "resource names cannot apply to multiple resources"));
}

void validate_rules(const json& role, bool namespaced, std::vector<StatusCause>& causes) {
  json rules = role.value("rules", json());
  for (size_t i = 0; rules.is_array() && i < rules.size(); ++i)
    validate_policy_rule(rules[i], namespaced, "rules[" + std::to_string(i) + "]", causes);
}

void validate_aggregation_rule(const json& role, std::vector<StatusCause>& causes) {
  json agg = role.value("aggregationRule", json());
  if (!agg.is_object()) return;
  json selectors = agg.value("clusterRoleSelectors", json());
  if (!selectors.is_array() || selectors.empty()) {
    causes.push_back(cause_required("aggregationRule.clusterRoleSelectors",
                                    "at least one clusterRoleSelector required if aggregationRule is non-nil"));
    return;
  }
  for (size_t i = 0; i < selectors.size(); ++i)
    validate_label_selector(selectors[i], "aggregationRule.clusterRoleSelectors[" + std::to_string(i) + "]", causes);
}

// The roleRef as Go's %#v prints the internal rbac.RoleRef in "cannot change roleRef".
std::string go_role_ref(const json& ref) {
  auto s = [&](const char* f) { return go_quote(ref.is_object() ? ref.value(f, "") : ""); };
  return "rbac.RoleRef{APIGroup:" + s("apiGroup") + ", Kind:" + s("kind") + ", Name:" + s("name") + "}";
}

void validate_subject(const json& subject, bool namespaced, const std::string& path, std::vector<StatusCause>& causes) {
  if (!subject.is_object()) return;  // the schema check reports the type
  std::string name = subject.value("name", ""), kind = subject.value("kind", ""), group = subject.value("apiGroup", "");
  if (name.empty()) causes.push_back(cause_required(path + ".name"));
  if (kind == "ServiceAccount") {
    if (!name.empty())
      for (const auto& m : is_dns1123_subdomain(name)) causes.push_back(cause_invalid(path + ".name", name, m));
    if (!group.empty()) causes.push_back(cause_not_supported(path + ".apiGroup", group, {""}));
    if (!namespaced && subject.value("namespace", "").empty()) causes.push_back(cause_required(path + ".namespace"));
  } else if (kind == "User" || kind == "Group") {
    if (name.empty())
      causes.push_back(cause_invalid(path + ".name", name, kind == "User" ? "user name cannot be empty"
                                                                           : "group name cannot be empty"));
    if (group != kRbacGroup) causes.push_back(cause_not_supported(path + ".apiGroup", group, {kRbacGroup}));
  } else {
    causes.push_back(cause_not_supported(path + ".kind", kind, {"ServiceAccount", "User", "Group"}));
  }
}

void validate_binding(const json& b, const ValidationContext& ctx, bool namespaced, std::vector<StatusCause>& causes) {
  json ref = b.value("roleRef", json::object());
  if (!ref.is_object()) ref = json::object();
  std::string group = ref.value("apiGroup", ""), kind = ref.value("kind", ""), name = ref.value("name", "");
  if (group != kRbacGroup) causes.push_back(cause_not_supported("roleRef.apiGroup", group, {kRbacGroup}));
  std::vector<std::string> kinds = namespaced ? std::vector<std::string>{"Role", "ClusterRole"}
                                              : std::vector<std::string>{"ClusterRole"};
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
    causes.push_back(cause_not_supported("roleRef.kind", kind, kinds));
  if (name.empty())
    causes.push_back(cause_required("roleRef.name"));
  else
    for (const auto& m : minimal_name(name, false)) causes.push_back(cause_invalid("roleRef.name", name, m));
  json subjects = b.value("subjects", json());
  for (size_t i = 0; subjects.is_array() && i < subjects.size(); ++i)
    validate_subject(subjects[i], namespaced, "subjects[" + std::to_string(i) + "]", causes);
  if (ctx.old && ctx.subresource.empty()) {
    json old_ref = ctx.old->value("roleRef", json::object());
    if (old_ref != ref)
      causes.push_back({kCauseInvalid, "Invalid value: " + go_role_ref(ref) + ": cannot change roleRef", "roleRef"});
  }
}

// SetDefaults_RoleBinding / _ClusterRoleBinding / _Subject.
void default_binding(json& b) {
  if (!b.is_object()) return;
  // roleRef is a struct in Go: an absent one decodes as empty and then gets the group too.
  if (!b.contains("roleRef") || b["roleRef"].is_null()) b["roleRef"] = json::object();
  if (b["roleRef"].is_object() && b["roleRef"].value("apiGroup", "").empty()) b["roleRef"]["apiGroup"] = kRbacGroup;
  if (b.contains("subjects") && b["subjects"].is_array())
    for (auto& s : b["subjects"]) {
      if (!s.is_object() || !s.value("apiGroup", "").empty()) continue;
      std::string kind = s.value("kind", "");
      if (kind == "User" || kind == "Group") s["apiGroup"] = kRbacGroup;
    }
}

// Roles have no printer in kube-apiserver: its default Table has the name and the creation time as RFC 3339.
TableColumn created_at_column() {
  return {"Created At", "date", "",
          "CreationTimestamp is a timestamp representing the server time when this object was created.", 0};
}

std::vector<TableCell> role_cells(const json& r) {
  return {name_cell(r), TableCell::str(r.value("/metadata/creationTimestamp"_json_pointer, std::string()))};
}

std::vector<TableColumn> binding_columns(const std::string& kind) {
  return {name_column(),
          {"Role", "string", "", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.", 0},
          age_column(),
          {"Users", "string", "", "Users in the " + kind, 1},
          {"Groups", "string", "", "Groups in the " + kind, 1},
          {"ServiceAccounts", "string", "", "ServiceAccounts in the " + kind, 1}};
}

// kubectl's rbac.SubjectsStrings: service accounts as NAMESPACE/NAME, joined with ", ".
std::vector<TableCell> binding_cells(const json& b) {
  std::vector<std::string> users, groups, sas;
  for (const auto& s : b.value("subjects", json::array())) {
    if (!s.is_object()) continue;
    std::string kind = s.value("kind", ""), name = s.value("name", "");
    if (kind == "User") users.push_back(name);
    else if (kind == "Group") groups.push_back(name);
    else if (kind == "ServiceAccount") sas.push_back(s.value("namespace", "") + "/" + name);
  }
  json ref = b.value("roleRef", json::object());
  std::string role = ref.is_object() ? ref.value("kind", "") + "/" + ref.value("name", "") : "/";
  return {name_cell(b), TableCell::str(role), age_cell(b), TableCell::str(join(users, ", ")),
          TableCell::str(join(groups, ", ")), TableCell::str(join(sas, ", "))};
}

KindInfo rbac_kind(const char* kind, const char* plural, bool namespaced) {
  KindInfo k = make_kind(kRbacGroup, "v1", kind, plural, {});
  k.namespaced = namespaced;
  k.validate_name = minimal_name;
  return k;
}

}  // namespace

KindInfo role_kind() {
  KindInfo k = rbac_kind("Role", "roles", true);
  k.columns = {name_column(), created_at_column()};
  k.table_cells = role_cells;
  k.validate = [](const json& r, const ValidationContext&, std::vector<StatusCause>& causes) {
    validate_rules(r, true, causes);
  };
  return k;
}

KindInfo cluster_role_kind() {
  KindInfo k = rbac_kind("ClusterRole", "clusterroles", false);
  k.columns = {name_column(), created_at_column()};
  k.table_cells = role_cells;
  k.validate = [](const json& r, const ValidationContext&, std::vector<StatusCause>& causes) {
    validate_rules(r, false, causes);
    validate_aggregation_rule(r, causes);
  };
  return k;
}

KindInfo role_binding_kind() {
  KindInfo k = rbac_kind("RoleBinding", "rolebindings", true);
  k.columns = binding_columns("roleBinding");
  k.table_cells = binding_cells;
  k.apply_defaults = default_binding;
  k.validate = [](const json& b, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
    validate_binding(b, ctx, true, causes);
  };
  return k;
}

KindInfo cluster_role_binding_kind() {
  KindInfo k = rbac_kind("ClusterRoleBinding", "clusterrolebindings", false);
  k.columns = binding_columns("clusterRoleBinding");
  k.table_cells = binding_cells;
  k.apply_defaults = default_binding;
  k.validate = [](const json& b, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
    validate_binding(b, ctx, false, causes);
  };
  return k;
}

}  // namespace kctl::api::kinds
