// kctl explain: a kind's or a field's documentation from the server's OpenAPI v3 document (falling back to the
// schema compiled into kctl when the server has none), in kubectl's plaintext layout, with --recursive.
#include <set>
#include <sstream>

#include "api/schema.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/resource_args.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

// kubectl wraps descriptions at 80 columns.
constexpr size_t kExplainWidth = 80;
// Schemas refer to themselves (JSONSchemaProps); --recursive stops descending here.
constexpr int kMaxRecursionDepth = 15;

struct SchemaView {
  const json* schemas;  // components.schemas

  // Follows $ref and a single-element allOf, as Kubernetes' v3 documents wrap references.
  const json& resolve(const json& s) const {
    static const json empty = json::object();
    if (s.contains("$ref")) {
      std::string ref = s["$ref"].get<std::string>();
      std::string name = ref.substr(ref.rfind('/') + 1);
      return schemas->contains(name) ? (*schemas)[name] : empty;
    }
    if (s.contains("allOf") && s["allOf"].is_array() && s["allOf"].size() == 1) return resolve(s["allOf"][0]);
    return s;
  }
  static std::string ref_name(const json& s) {
    if (s.contains("$ref")) {
      std::string ref = s["$ref"].get<std::string>();
      std::string name = ref.substr(ref.rfind('/') + 1);
      return name.substr(name.rfind('.') + 1);
    }
    if (s.contains("allOf") && s["allOf"].is_array() && s["allOf"].size() == 1) return ref_name(s["allOf"][0]);
    return "";
  }
  std::string type_of(const json& s) const {
    if (std::string r = ref_name(s); !r.empty()) {
      // a reference to a primitive (Time, IntOrString, Quantity) shows the primitive
      const json& target = resolve(s);
      std::string t = target.value("type", "");
      return t.empty() || t == "object" ? r : type_of(target);
    }
    std::string t = s.value("type", "");
    if (t == "array") return "[]" + type_of(s.value("items", json::object()));
    if (t == "object" && s.contains("additionalProperties") && s["additionalProperties"].is_object())
      return "map[string]" + type_of(s["additionalProperties"]);
    if (t == "object" || t.empty()) return "Object";
    return t;
  }
  // The schema whose fields a path element is looked up in: through arrays and maps to their elements.
  const json& element(const json& s) const {
    const json& r = resolve(s);
    if (r.value("type", "") == "array" && r.contains("items")) return element(r["items"]);
    if (r.contains("additionalProperties") && r["additionalProperties"].is_object() && !r.contains("properties"))
      return element(r["additionalProperties"]);
    return r;
  }
};

std::string wrap(const std::string& text, size_t indent) {
  std::string out, line;
  std::string pad(indent, ' ');
  std::istringstream paragraphs(text);
  std::string para;
  while (std::getline(paragraphs, para)) {
    std::istringstream words(para);
    std::string word;
    line = pad;
    bool empty = true;
    while (words >> word) {
      if (!empty && line.size() + 1 + word.size() > kExplainWidth) {
        out += line + "\n";
        line = pad;
        empty = true;
      }
      line += (empty ? "" : " ") + word;
      empty = false;
    }
    out += line + "\n";
  }
  return out;
}

void print_fields(std::ostream& out, const SchemaView& v, const json& schema, bool recursive, int depth) {
  const json& r = v.element(schema);
  if (!r.contains("properties")) return;
  std::set<std::string> required;
  for (const auto& q : r.value("required", json::array())) required.insert(q.get<std::string>());
  std::string pad(size_t(2 + 2 * depth), ' ');
  for (auto it = r["properties"].begin(); it != r["properties"].end(); ++it) {
    out << pad << it.key() << "\t<" << v.type_of(*it) << ">" << (required.count(it.key()) ? " -required-" : "") << "\n";
    if (recursive) {
      if (depth < kMaxRecursionDepth) print_fields(out, v, *it, true, depth + 1);
      continue;
    }
    std::string desc = it->value("description", "");
    if (!desc.empty()) out << wrap(desc, 4);
    out << "\n";
  }
}

// The OpenAPI v3 document of the kind's group-version from the server, or null when it serves none.
json server_schemas(RestClient& rest, const api::KindInfo& kind) {
  try {
    json index = rest.call("GET", "/openapi/v3");
    std::string key = kind.group.empty() ? "api/" + kind.version : "apis/" + kind.group + "/" + kind.version;
    std::string url = index.value("/paths"_json_pointer, json::object()).value(key, json::object()).value("serverRelativeURL", "");
    if (url.empty()) return nullptr;
    return rest.call("GET", url).value("/components/schemas"_json_pointer, json::object());
  } catch (const api::StatusError& e) {
    if (e.status().code == 404) return nullptr;
    throw;
  }
}

json type_ref_schema(const api::TypeRef& t) {
  using K = api::TypeRef::Kind;
  switch (t.kind) {
    case K::String: case K::Bytes: case K::Time: case K::Quantity: case K::IntOrString: return {{"type", "string"}};
    case K::Boolean: return {{"type", "boolean"}};
    case K::Int32: case K::Int64: return {{"type", "integer"}};
    case K::Number: return {{"type", "number"}};
    case K::Named: return {{"$ref", "#/components/schemas/" + t.named->name}};
    case K::List: return {{"type", "array"}, {"items", type_ref_schema(*t.elem)}};
    case K::Map: return {{"type", "object"}, {"additionalProperties", type_ref_schema(*t.elem)}};
    default: return {{"type", "object"}};
  }
}

// The compiled-in schema in the shape of components.schemas, for servers without OpenAPI.
json builtin_schemas() {
  json out = json::object();
  for (const auto& [name, def] : api::Schema::builtin().types()) {
    json s = {{"type", "object"}, {"description", def->description}, {"properties", json::object()}};
    json required = json::array();
    for (const auto& f : def->fields) {
      json p = type_ref_schema(f.type);
      if (!f.description.empty()) p["description"] = f.description;
      s["properties"][f.name] = p;
      if (f.required) required.push_back(f.name);
    }
    if (!required.empty()) s["required"] = required;
    out[name] = s;
  }
  return out;
}

int run_explain(Invocation& inv) {
  bool recursive = false;
  std::string api_version, output = "plaintext";
  inv.flags().add_bool("recursive", 0, &recursive, "When true, print the name of all the fields recursively. Otherwise, print the available fields with their description.");
  inv.flags().add_string("api-version", 0, &api_version, "Use given api-version (group/version) of the resource.");
  inv.flags().add_string("output", 0, &output, "Format in which to render the schema. Valid values are: (plaintext, plaintext-openapiv2).");
  if (!inv.parse()) return 0;
  if (inv.args().size() != 1) throw CliError("You must specify the type of resource to explain. Use \"kctl api-resources\" for a complete list of supported resources.");
  std::string arg = inv.args()[0];
  std::vector<std::string> path;
  std::stringstream ss(arg);
  for (std::string part; std::getline(ss, part, '.');) path.push_back(part);
  const api::KindInfo& kind = resolve_kind(path[0]);
  path.erase(path.begin());
  json schemas = server_schemas(inv.session().rest(), kind);
  const json* root = nullptr;
  if (schemas.is_object())
    for (auto it = schemas.begin(); it != schemas.end(); ++it)
      for (const auto& gvk : it->value("x-kubernetes-group-version-kind", json::array()))
        if (gvk.value("group", "") == kind.group && gvk.value("version", "") == kind.version && gvk.value("kind", "") == kind.kind)
          root = &*it;
  if (!root) {
    schemas = builtin_schemas();
    std::string type = kind.schema_type.empty() ? kind.kind : kind.schema_type;
    if (!schemas.contains(type)) throw CliError("couldn't find resource for \"" + kind.qualified_plural() + "\"");
    root = &schemas[type];
  }
  SchemaView v{&schemas};
  const json* field = nullptr;  // the property schema of the last path element
  const json* current = root;
  for (const auto& name : path) {
    const json& el = v.element(*current);
    if (!el.contains("properties") || !el["properties"].contains(name)) throw CliError("field \"" + name + "\" does not exist");
    field = &el["properties"][name];
    current = field;
  }
  std::ostream& out = inv.out();
  if (!kind.group.empty()) out << "GROUP:      " << kind.group << "\n";
  out << "KIND:       " << kind.kind << "\nVERSION:    " << kind.version << "\n\n";
  if (field) out << "FIELD: " << path.back() << " <" << v.type_of(*field) << ">\n\n\n";
  out << "DESCRIPTION:\n";
  std::string field_desc = field ? field->value("description", "") : "";
  const json& resolved = field ? v.resolve(*field) : *root;
  bool container = resolved.value("type", "") == "array" ||
                   (resolved.contains("additionalProperties") && !resolved.contains("properties"));
  const json& type = container ? v.element(*current) : v.resolve(*current);
  std::string type_desc = type.value("description", "");
  if (!field_desc.empty()) out << wrap(field_desc, 4);
  if (!type_desc.empty() && (!field || type != *field)) out << wrap(type_desc, 4);
  out << "    \n";
  if (v.element(*current).contains("properties")) {
    out << "FIELDS:\n";
    print_fields(out, v, *current, recursive, 0);
  }
  out << "\n";
  return 0;
}

}  // namespace

CommandInfo explain_command() {
  return {"explain", "Basic Commands (Intermediate)", "Get documentation for a resource",
          "Describe fields and structure of various resources.\n\n"
          " This command describes the fields associated with each supported API resource. Fields are identified via "
          "a simple JSONPath identifier:\n\n        <type>.<fieldName>[.<fieldName>]\n\n"
          " Information about each field is retrieved from the server in OpenAPI format.\n\n"
          "Use \"kctl api-resources\" for a complete list of supported resources.",
          "explain TYPE [--recursive=FALSE|TRUE] [--api-version=api-version-group] [options]",
          "  # Get the documentation of the resource and its fields\n  kctl explain pods\n\n"
          "  # Get all the fields in the resource\n  kctl explain pods --recursive\n\n"
          "  # Get the documentation of a specific field of a resource\n  kctl explain pods.spec.containers",
          run_explain};
}

}  // namespace kctl::cli
