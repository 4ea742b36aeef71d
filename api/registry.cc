// The registry of kinds and the helpers the per-kind entries (api/kinds/*.cc) share: Name/Age columns, label and
// selector formatting as kubectl prints them, and RFC 3339 parsing.
#include "api/registry.h"

#include <algorithm>
#include <ctime>

namespace kctl::api {

bool KindInfo::has_subresource(std::string_view s) const {
  return std::find(subresources.begin(), subresources.end(), s) != subresources.end();
}

bool KindInfo::can(std::string_view verb) const { return std::find(verbs.begin(), verbs.end(), verb) != verbs.end(); }

const TypeDef* KindInfo::schema() const { return Schema::builtin().type(schema_type.empty() ? kind : schema_type); }

Registry::Registry(std::vector<KindInfo> kinds) : kinds_(std::move(kinds)) {
  for (auto& k : kinds_) {
    if (k.columns.empty()) {
      k.columns = {kinds::name_column(), kinds::age_column()};
      k.table_cells = [](const nlohmann::json& o) {
        return std::vector<TableCell>{kinds::name_cell(o), kinds::age_cell(o)};
      };
    }
    if (!k.validate_name) k.validate_name = name_is_dns_subdomain;
    if (!k.apply_defaults) k.apply_defaults = [](nlohmann::json&) {};
    if (!k.validate) k.validate = [](const nlohmann::json&, const ValidationContext&, std::vector<StatusCause>&) {};
  }
}

const Registry& Registry::builtin() {
  // Groups in alphabetical order (the core group first), as kubectl lists them.
  static const Registry registry([] {
    std::vector<KindInfo> k = {
        kinds::namespace_kind(), kinds::pod_kind(), kinds::node_kind(), kinds::service_kind(),
        kinds::endpoints_kind(), kinds::replication_controller_kind(), kinds::event_kind(), kinds::config_map_kind(),
        kinds::secret_kind(), kinds::service_account_kind(), kinds::replica_set_kind(), kinds::deployment_kind(),
        kinds::daemon_set_kind(), kinds::token_review_kind(),
    };
    for (auto& review : kinds::review_kinds()) k.push_back(std::move(review));  // authentication, authorization
    for (auto more : {kinds::certificate_signing_request_kind(), kinds::lease_kind(), kinds::endpoint_slice_kind(),
                      kinds::cluster_role_binding_kind(), kinds::cluster_role_kind(), kinds::role_binding_kind(),
                      kinds::role_kind()})
      k.push_back(std::move(more));
    return k;
  }());
  return registry;
}

const KindInfo* Registry::by_resource(std::string_view group, std::string_view plural) const {
  for (const auto& k : kinds_)
    if (k.group == group && k.plural == plural) return &k;
  return nullptr;
}

const KindInfo* Registry::by_kind(std::string_view group, std::string_view kind) const {
  for (const auto& k : kinds_)
    if (k.group == group && k.kind == kind) return &k;
  return nullptr;
}

const KindInfo* Registry::by_api_version_kind(std::string_view api_version, std::string_view kind) const {
  for (const auto& k : kinds_)
    if (k.api_version() == api_version && k.kind == kind) return &k;
  return nullptr;
}

const KindInfo* Registry::resolve(std::string_view typed) const {
  std::string name(typed), group;
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  if (auto dot = name.find('.'); dot != std::string::npos) {
    group = name.substr(dot + 1);
    name = name.substr(0, dot);
    // "deployments.v1.apps": drop the version
    if (auto d2 = group.find('.'); d2 != std::string::npos && group.rfind('v', 0) == 0) group = group.substr(d2 + 1);
  }
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
  };
  for (const auto& k : kinds_) {
    if (!group.empty() && k.group != group) continue;
    if (k.plural == name || k.singular == name || lower(k.kind) == name) return &k;
    for (const auto& s : k.short_names)
      if (s == name) return &k;
  }
  return nullptr;
}

std::vector<std::string> Registry::groups() const {
  std::vector<std::string> out;
  for (const auto& k : kinds_)
    if (!k.group.empty() && std::find(out.begin(), out.end(), k.group) == out.end()) out.push_back(k.group);
  return out;
}

namespace kinds {

KindInfo make_kind(std::string group, std::string version, std::string kind, std::string plural,
                   std::vector<std::string> short_names) {
  KindInfo k;
  k.group = std::move(group);
  k.version = std::move(version);
  k.singular = kind;
  std::transform(k.singular.begin(), k.singular.end(), k.singular.begin(), ::tolower);
  k.kind = std::move(kind);
  k.plural = std::move(plural);
  k.short_names = std::move(short_names);
  return k;
}

TableColumn name_column() {
  return {"Name", "string", "name",
          "Name must be unique within a namespace. Is required when creating resources, although some resources may "
          "allow a client to request the generation of an appropriate name automatically.",
          0};
}

TableColumn age_column() {
  return {"Age", "string", "",
          "CreationTimestamp is a timestamp representing the server time when this object was created.", 0};
}

TableCell name_cell(const nlohmann::json& obj) {
  return TableCell::str(obj.value("/metadata/name"_json_pointer, std::string()));
}

TableCell age_cell(const nlohmann::json& obj) {
  return TableCell::age(parse_time(obj.value("/metadata/creationTimestamp"_json_pointer, std::string())));
}

int64_t parse_time(const std::string& s) {
  std::tm tm{};
  if (s.size() < 19 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return int64_t(timegm(&tm));
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string format_labels(const nlohmann::json& labels, const std::string& empty) {
  if (!labels.is_object() || labels.empty()) return empty;
  std::vector<std::string> parts;
  for (auto it = labels.begin(); it != labels.end(); ++it)
    parts.push_back(it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  return join(parts, ",");
}

std::string format_label_selector(const nlohmann::json& sel) {
  if (!sel.is_object()) return "<none>";
  std::vector<std::string> parts;
  if (auto ml = sel.find("matchLabels"); ml != sel.end() && ml->is_object())
    for (auto it = ml->begin(); it != ml->end(); ++it)
      parts.push_back(it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  if (auto me = sel.find("matchExpressions"); me != sel.end() && me->is_array()) {
    for (const auto& r : *me) {
      std::string key = r.value("key", ""), op = r.value("operator", "");
      std::vector<std::string> values;
      if (r.contains("values") && r["values"].is_array())
        for (const auto& v : r["values"]) values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      if (op == "In") parts.push_back(key + " in (" + join(values, ",") + ")");
      else if (op == "NotIn") parts.push_back(key + " notin (" + join(values, ",") + ")");
      else if (op == "Exists") parts.push_back(key);
      else if (op == "DoesNotExist") parts.push_back("!" + key);
    }
  }
  return parts.empty() ? "<none>" : join(parts, ",");
}

std::pair<std::string, std::string> containers_and_images(const nlohmann::json& spec) {
  std::vector<std::string> names, images;
  if (spec.is_object() && spec.contains("containers") && spec["containers"].is_array())
    for (const auto& c : spec["containers"]) {
      names.push_back(c.value("name", ""));
      images.push_back(c.value("image", ""));
    }
  return {join(names, ","), join(images, ",")};
}

}  // namespace kinds
}  // namespace kctl::api
