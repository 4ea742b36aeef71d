// The registry: one entry per kind kctl serves (group, version, names, scope, subresources, Table columns,
// selectable fields, defaulting and validation). Handlers, discovery, OpenAPI and the CLI are all driven by it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/schema.h"
#include "api/status.h"
#include "api/validation.h"

namespace kctl::api {

struct TableColumn {
  std::string name;  // as Kubernetes names it ("Cluster-IP", "Nominated Node"); kubectl upper-cases it
  std::string type = "string";
  std::string format;  // "name" for the Name column
  std::string description;
  int priority = 0;  // 1: shown with -o wide only
};

// One Table cell. Ages are kept as a point in time and rendered ("5m") when the Table is written.
struct TableCell {
  // TextWithAge: text with "{age}" standing for the age of `number` ("3 ({age} ago)" for restarts).
  enum class Kind { Null, String, Integer, Age, TextWithAge };
  Kind kind = Kind::Null;
  std::string text;
  int64_t number = 0;  // Integer: the value; Age and TextWithAge: seconds since the epoch (0 = unknown)

  static TableCell str(std::string s) { return {Kind::String, std::move(s), 0}; }
  static TableCell integer(int64_t n) { return {Kind::Integer, "", n}; }
  static TableCell age(int64_t epoch) { return {Kind::Age, "", epoch}; }
  static TableCell text_with_age(std::string text, int64_t epoch) { return {Kind::TextWithAge, std::move(text), epoch}; }
};

struct ValidationContext {
  const nlohmann::json* old = nullptr;  // the stored object on update, null on create
  std::string subresource;              // the subresource an update goes through ("" for the object itself)
};

struct KindInfo {
  std::string group;  // "" for core
  std::string version;
  std::string kind;
  std::string plural;
  std::string singular;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;  // "all"
  bool namespaced = true;
  std::vector<std::string> subresources;  // status, scale, binding, log, exec, portforward, finalize
  std::vector<std::string> verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
  std::vector<TableColumn> columns;            // defaults to Name, Age
  std::vector<std::string> selectable_fields;  // beyond metadata.name and metadata.namespace
  std::string schema_type;                     // the type in the schema files ("Pod")

  // Checks metadata.name (or generateName); defaults to a DNS-1123 subdomain.
  NameValidator validate_name;
  // Fills in Kubernetes' v1 defaults (in place).
  std::function<void(nlohmann::json&)> apply_defaults;
  // Adds a cause per invalid field; metadata is checked generically.
  std::function<void(const nlohmann::json&, const ValidationContext&, std::vector<StatusCause>&)> validate;
  // The Table cells of one object, one per column.
  std::function<std::vector<TableCell>(const nlohmann::json&)> table_cells;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string group_version() const { return api_version(); }
  std::string list_kind() const { return kind + "List"; }
  // "pods" or "deployments.apps": unique across groups, used in messages and storage keys.
  std::string qualified_plural() const { return group.empty() ? plural : plural + "." + group; }
  bool has_subresource(std::string_view s) const;
  bool can(std::string_view verb) const;  // the verb is served (in `verbs`)
  const TypeDef* schema() const;
};

class Registry {
 public:
  static const Registry& builtin();

  const std::vector<KindInfo>& kinds() const { return kinds_; }
  const KindInfo* by_resource(std::string_view group, std::string_view plural) const;
  const KindInfo* by_kind(std::string_view group, std::string_view kind) const;
  const KindInfo* by_api_version_kind(std::string_view api_version, std::string_view kind) const;
  // Resolves what a user typed: plural, singular, short name or kind, optionally "name.group"; case-insensitive.
  const KindInfo* resolve(std::string_view name) const;
  std::vector<std::string> groups() const;  // non-core groups in registration order

  explicit Registry(std::vector<KindInfo> kinds);

 private:
  std::vector<KindInfo> kinds_;
};

// Helpers for the per-kind entries (api/kinds/*.cc).
namespace kinds {
KindInfo namespace_kind();
KindInfo pod_kind();
KindInfo node_kind();
KindInfo service_kind();
KindInfo endpoints_kind();
KindInfo replication_controller_kind();
KindInfo event_kind();
KindInfo config_map_kind();
KindInfo secret_kind();
KindInfo service_account_kind();
KindInfo replica_set_kind();
KindInfo deployment_kind();
KindInfo daemon_set_kind();
KindInfo lease_kind();
KindInfo endpoint_slice_kind();
KindInfo role_kind();
KindInfo cluster_role_kind();
KindInfo role_binding_kind();
KindInfo cluster_role_binding_kind();
KindInfo certificate_signing_request_kind();
// authorization.k8s.io access reviews and authentication.k8s.io SelfSubjectReview: create-only, never stored.
std::vector<KindInfo> review_kinds();
KindInfo token_review_kind();

// A kind's names: the singular is the lower-cased kind, as in Kubernetes.
KindInfo make_kind(std::string group, std::string version, std::string kind, std::string plural,
                   std::vector<std::string> short_names = {});

// The Name and Age columns and cells every kind starts with.
TableColumn name_column();
TableColumn age_column();
TableCell name_cell(const nlohmann::json& obj);
TableCell age_cell(const nlohmann::json& obj);
int64_t parse_time(const std::string& rfc3339);  // seconds since the epoch, 0 if unparsable
std::string join(const std::vector<std::string>& parts, const std::string& sep);
// "app=web,tier=db" from a map of labels (sorted like kubectl), "<none>" when empty.
std::string format_labels(const nlohmann::json& labels, const std::string& empty = "<none>");
// A metav1.LabelSelector as kubectl prints it ("app=web,tier in (a,b)").
std::string format_label_selector(const nlohmann::json& selector);
// The CONTAINERS and IMAGES cells of a pod template.
std::pair<std::string, std::string> containers_and_images(const nlohmann::json& pod_spec);
}  // namespace kinds

}  // namespace kctl::api
