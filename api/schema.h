// The Kubernetes API types kctl serves, as parsed from api/schema/*.schema (see api/schema/FORMAT.md).
// One description drives strict field validation, OpenAPI, explain and strategic merge patch.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kctl::api {

struct TypeDef;

// The type of one field (or of a list element / map value).
struct TypeRef {
  enum class Kind { String, Boolean, Int32, Int64, Number, Bytes, Time, Quantity, IntOrString, Object, Named, List, Map };
  Kind kind = Kind::Object;
  const TypeDef* named = nullptr;       // Kind::Named
  std::shared_ptr<const TypeRef> elem;  // Kind::List and Kind::Map: the element / value type

  bool is_list() const { return kind == Kind::List; }
  bool is_map() const { return kind == Kind::Map; }
  // The struct type of this field, of its list elements or of its map values, if any.
  const TypeDef* struct_type() const;
  std::string to_string() const;  // as written in the schema files: "[]Container", "map[string]"
};

struct FieldDef {
  std::string name;
  TypeRef type;
  bool required = false;
  std::string merge_key;       // patchMergeKey
  std::string patch_strategy;  // "merge", "replace", "retainKeys", "merge,retainKeys" or ""
  std::string list_type;       // "atomic", "set", "map" or ""
  std::vector<std::string> list_map_keys;
  std::string description;
  int proto = 0;  // the field number in k8s.io/api's generated.proto (0: unknown)
  // For a field of an embedded Go struct written inline (VolumeSource in Volume): the field numbers of the
  // embedding messages, outermost first ("protoEmbed=2" -> {2}). Empty for a field of the type itself.
  std::vector<int> proto_embed;

  bool merges_by_key() const { return patch_strategy.find("merge") != std::string::npos && !merge_key.empty(); }
  bool retains_keys() const { return patch_strategy.find("retainKeys") != std::string::npos; }
};

struct TypeDef {
  std::string name;
  std::string file;  // the schema file that defines it ("core.schema"): tells its API package
  std::string description;
  std::vector<FieldDef> fields;  // in Go struct order

  const FieldDef* field(std::string_view name) const;
};

class Schema {
 public:
  // Parses schema text; throws std::runtime_error naming the file and line on a syntax error or an unknown type.
  static std::unique_ptr<Schema> parse(const std::vector<std::pair<std::string, std::string>>& files);
  // The schema compiled into the library from api/schema/*.schema.
  static const Schema& builtin();

  const TypeDef* type(std::string_view name) const;
  const std::map<std::string, std::unique_ptr<TypeDef>, std::less<>>& types() const { return types_; }

 private:
  std::map<std::string, std::unique_ptr<TypeDef>, std::less<>> types_;
};

}  // namespace kctl::api
