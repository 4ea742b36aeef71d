// check_against_schema: the recursive walk, with paths and messages in the form kube-apiserver's strict decoder
// prints them.
#include "api/schema_check.h"

namespace kctl::api {

using nlohmann::json;

namespace {

// Bounds the walk on hostile input: Kubernetes objects are nowhere near this deep.
constexpr int kMaxDepth = 64;

std::string go_type(const TypeRef& t) {
  switch (t.kind) {
    case TypeRef::Kind::String: return "string";
    case TypeRef::Kind::Boolean: return "bool";
    case TypeRef::Kind::Int32: return "int32";
    case TypeRef::Kind::Int64: return "int64";
    case TypeRef::Kind::Number: return "float64";
    case TypeRef::Kind::Bytes: return "[]uint8";
    case TypeRef::Kind::Time: return "v1.Time";
    case TypeRef::Kind::Quantity: return "resource.Quantity";
    case TypeRef::Kind::IntOrString: return "intstr.IntOrString";
    case TypeRef::Kind::Object: return "map[string]interface {}";
    case TypeRef::Kind::Named: return "v1." + (t.named ? t.named->name : std::string("?"));
    case TypeRef::Kind::List: return "[]" + (t.elem ? go_type(*t.elem) : std::string("?"));
    case TypeRef::Kind::Map: return "map[string]" + (t.elem ? go_type(*t.elem) : std::string("?"));
  }
  return "?";
}

const char* json_kind(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number()) return "number";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

bool type_fits(const TypeRef& t, const json& v) {
  if (v.is_null()) return true;  // Go decodes null into anything as the zero value
  switch (t.kind) {
    case TypeRef::Kind::String:
    case TypeRef::Kind::Bytes:
    case TypeRef::Kind::Time: return v.is_string();
    case TypeRef::Kind::Boolean: return v.is_boolean();
    case TypeRef::Kind::Int32:
    case TypeRef::Kind::Int64:
      return v.is_number_integer() || (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>())));
    case TypeRef::Kind::Number: return v.is_number();
    case TypeRef::Kind::Quantity:
    case TypeRef::Kind::IntOrString: return v.is_string() || v.is_number();
    case TypeRef::Kind::Object: return true;
    case TypeRef::Kind::Named: return v.is_object();
    case TypeRef::Kind::List: return v.is_array();
    case TypeRef::Kind::Map: return v.is_object();
  }
  return true;
}

void walk_value(const json& v, const TypeRef& t, const std::string& path, const std::string& owner,
                SchemaProblems& out, int depth);

void walk_struct(const json& obj, const TypeDef& type, const std::string& path, SchemaProblems& out, int depth) {
  if (depth > kMaxDepth) return;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string p = path.empty() ? it.key() : path + "." + it.key();
    const FieldDef* f = type.field(it.key());
    if (!f) {
      out.unknown_fields.push_back(p);
      continue;
    }
    walk_value(*it, f->type, p, type.name, out, depth + 1);
  }
}

void walk_value(const json& v, const TypeRef& t, const std::string& path, const std::string& owner,
                SchemaProblems& out, int depth) {
  if (!type_fits(t, v)) {
    out.type_errors.push_back("json: cannot unmarshal " + std::string(json_kind(v)) + " into Go struct field " + owner +
                              "." + path + " of type " + go_type(t));
    return;
  }
  if (v.is_null()) return;
  if (t.kind == TypeRef::Kind::Named && t.named) {
    walk_struct(v, *t.named, path, out, depth);
  } else if (t.kind == TypeRef::Kind::List && t.elem) {
    for (size_t i = 0; i < v.size(); ++i)
      walk_value(v[i], *t.elem, path + "[" + std::to_string(i) + "]", owner, out, depth + 1);
  } else if (t.kind == TypeRef::Kind::Map && t.elem) {
    for (auto it = v.begin(); it != v.end(); ++it)
      walk_value(*it, *t.elem, path + "[" + it.key() + "]", owner, out, depth + 1);
  }
}

}  // namespace

SchemaProblems check_against_schema(const json& obj, const TypeDef& type) {
  SchemaProblems out;
  if (obj.is_object()) walk_struct(obj, type, "", out, 0);
  return out;
}

}  // namespace kctl::api
