// OpenAPI v2 (swagger 2.0) at /openapi/v2, generated from the schema and the registry, for kubectl 1.27-1.31: they
// validate create/apply/edit, run explain and compute client-side apply patches from it, in gnostic's protobuf form.
//
// One model, the swagger 2.0 JSON kube-apiserver would serve, is built from api::Schema and api::Registry; the
// protobuf (openapi.v2.Document from github.com/google/gnostic-models openapiv2/OpenAPIv2.proto) is encoded from
// that JSON, and a JSON key the encoder has no protobuf field for fails the build of the document (a 500, and a
// failing test), so the two forms cannot drift apart.
// The shape follows what k8s.io/kube-openapi pkg/util/proto accepts: every "$ref" is "#/definitions/NAME" and
// resolves (one dangling ref makes kubectl reject the whole document), a ref carries no "type", an object with
// fields has "properties" (even when empty), and vendor extensions are NamedAny values holding YAML text.
#include <cctype>
#include <cstdint>
#include <map>
#include <stdexcept>

#include "api/codec.h"
#include "daemons/apiserver/apiserver.h"

namespace kctl::apiserver {

using api::KindInfo;
using api::TypeDef;
using api::TypeRef;
using nlohmann::json;

namespace {

// ---- The model: swagger 2.0 as JSON -------------------------------------------------------------------------

constexpr const char* kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr const char* kTime = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
constexpr const char* kQuantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
constexpr const char* kIntOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
constexpr const char* kPatch = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

// The same names as the v3 documents use, so `explain` and error messages name types alike in both.
std::string definition_name(const TypeDef& t) {
  if (t.file == "meta.schema") return kMeta + t.name;
  return "io.k8s.api." + t.file.substr(0, t.file.find_first_of("_.")) + ".v1." + t.name;
}

std::string definition_name(const KindInfo& k) {
  const TypeDef* t = k.schema();
  return t ? definition_name(*t) : std::string();
}

json definition_ref(const std::string& name) { return {{"$ref", "#/definitions/" + name}}; }

json type_schema(const TypeRef& t) {
  switch (t.kind) {
    case TypeRef::Kind::String: return {{"type", "string"}};
    case TypeRef::Kind::Boolean: return {{"type", "boolean"}};
    case TypeRef::Kind::Int32: return {{"type", "integer"}, {"format", "int32"}};
    case TypeRef::Kind::Int64: return {{"type", "integer"}, {"format", "int64"}};
    case TypeRef::Kind::Number: return {{"type", "number"}, {"format", "double"}};
    case TypeRef::Kind::Bytes: return {{"type", "string"}, {"format", "byte"}};
    case TypeRef::Kind::Time: return definition_ref(kTime);
    case TypeRef::Kind::Quantity: return definition_ref(kQuantity);
    case TypeRef::Kind::IntOrString: return definition_ref(kIntOrString);
    // RawExtension and FieldsV1, as kube-apiserver describes them: kubectl reads a bare object as a map of anything.
    case TypeRef::Kind::Object: return {{"type", "object"}};
    case TypeRef::Kind::Named: return definition_ref(definition_name(*t.named));
    case TypeRef::Kind::List: return {{"type", "array"}, {"items", type_schema(*t.elem)}};
    case TypeRef::Kind::Map: return {{"type", "object"}, {"additionalProperties", type_schema(*t.elem)}};
  }
  return json::object();
}

json gvk(const std::string& group, const std::string& version, const std::string& kind) {
  return {{"group", group}, {"version", version}, {"kind", kind}};
}

// Unlike v3 (allOf), v2 puts a ref field's description and patch extensions next to the "$ref", as kube-openapi does.
json struct_definition(const TypeDef& t, const json& gvks) {
  json props = json::object();
  json required = json::array();
  for (const auto& f : t.fields) {
    json p = type_schema(f.type);
    if (!f.description.empty()) p["description"] = f.description;
    if (!f.merge_key.empty()) p["x-kubernetes-patch-merge-key"] = f.merge_key;
    if (!f.patch_strategy.empty()) p["x-kubernetes-patch-strategy"] = f.patch_strategy;
    if (!f.list_type.empty()) p["x-kubernetes-list-type"] = f.list_type;
    if (!f.list_map_keys.empty()) p["x-kubernetes-list-map-keys"] = f.list_map_keys;
    props[f.name] = std::move(p);
    if (f.required) required.push_back(f.name);
  }
  json s = {{"type", "object"}, {"properties", std::move(props)}};
  if (!t.description.empty()) s["description"] = t.description;
  if (!required.empty()) s["required"] = std::move(required);
  if (!gvks.empty()) s["x-kubernetes-group-version-kind"] = gvks;
  return s;
}

// PodList and friends: the list operations' responses, and what a `kind: PodList` manifest is validated against.
json list_definition(const KindInfo& k) {
  json metadata = definition_ref(std::string(kMeta) + "ListMeta");
  metadata["description"] = "Standard list metadata.";
  json items = {{"type", "array"},
                {"items", definition_ref(definition_name(k))},
                {"description", "List of " + k.plural + "."}};
  return {{"type", "object"},
          {"description", k.list_kind() + " is a list of " + k.kind + " objects."},
          {"required", {"items"}},
          {"properties",
           {{"apiVersion", {{"type", "string"}, {"description", "APIVersion is the versioned schema of this object."}}},
            {"kind", {{"type", "string"}, {"description", "Kind is the REST resource this object represents."}}},
            {"metadata", std::move(metadata)},
            {"items", std::move(items)}}},
          {"x-kubernetes-group-version-kind", {gvk(k.group, k.version, k.list_kind())}}};
}

json definitions(const api::Registry& reg) {
  std::map<std::string, json> gvks;  // type name -> the kinds served with it
  for (const auto& k : reg.kinds())
    gvks[k.schema_type.empty() ? k.kind : k.schema_type].push_back(gvk(k.group, k.version, k.kind));
  gvks["Scale"].push_back(gvk("autoscaling", "v1", "Scale"));  // the scale subresource's kind, as in v3
  json defs = json::object();
  for (const auto& [name, def] : api::Schema::builtin().types()) {
    auto it = gvks.find(name);
    defs[definition_name(*def)] = struct_definition(*def, it == gvks.end() ? json::array() : it->second);
  }
  for (const auto& k : reg.kinds())
    if (k.schema()) defs[definition_name(k) + "List"] = list_definition(k);
  defs[kTime] = {{"type", "string"},
                 {"format", "date-time"},
                 {"description", "Time is an RFC 3339 date and time."}};
  defs[kQuantity] = {{"type", "string"},
                     {"description", "Quantity is a fixed-point representation of a number (e.g. 100m, 64Mi)."}};
  defs[kIntOrString] = {{"type", "string"}, {"format", "int-or-string"},
                        {"description", "IntOrString is a type that can hold an int32 or a string."}};
  defs[kPatch] = {{"type", "object"}, {"description", "Patch is the body of a Kubernetes PATCH request."}};
  return defs;
}

json param(const std::string& name, const std::string& in, const std::string& type, const std::string& description) {
  json p = {{"name", name}, {"in", in}, {"type", type}, {"uniqueItems", true}, {"description", description}};
  if (in == "path") p["required"] = true;
  return p;
}

json query(const std::string& name, const std::string& type, const std::string& description) {
  return param(name, "query", type, description);
}

json body_param(const std::string& definition) {
  return {{"name", "body"}, {"in", "body"}, {"required", true}, {"schema", definition_ref(definition)}};
}

// "patchCoreV1NamespacedPod", as kube-apiserver names its operations.
std::string operation_id(const std::string& verb, const KindInfo& k) {
  auto title = [](std::string s) {
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
  };
  std::string group = k.group.empty() ? "Core" : title(k.group.substr(0, k.group.find('.')));
  return verb + group + title(k.version) + (k.namespaced ? "Namespaced" : "") + k.kind;
}

// kubectl's query-parameter verifier reads x-kubernetes-group-version-kind and the fieldValidation parameter of the
// patch operation: as with v3, kubectl then leaves unknown-field checks to the server (fieldValidation=Strict).
json operation(const KindInfo& k, const std::string& verb, const std::string& action) {
  const std::string def = definition_name(k);
  json params = json::array();
  json responses;
  if (action == "post" || action == "put" || action == "patch") {
    params.push_back(body_param(action == "patch" ? kPatch : def));
    params.push_back(query("dryRun", "string", "When present, modifications are not persisted."));
    params.push_back(query("fieldManager", "string", "The name of the actor making these changes."));
    params.push_back(query("fieldValidation", "string", "Unknown or duplicate fields: Ignore, Warn or Strict."));
    if (action == "patch") params.push_back(query("force", "boolean", "Force is going to \"force\" Apply requests."));
    responses = {{"200", {{"description", "OK"}, {"schema", definition_ref(def)}}},
                 {"201", {{"description", "Created"}, {"schema", definition_ref(def)}}}};
  } else if (action == "delete") {
    params.push_back(body_param(std::string(kMeta) + "DeleteOptions"));
    params.push_back(query("dryRun", "string", "When present, modifications are not persisted."));
    params.push_back(query("gracePeriodSeconds", "integer", "The duration in seconds before the object is deleted."));
    params.push_back(query("propagationPolicy", "string", "Whether and how garbage collection is performed."));
    responses = {{"200", {{"description", "OK"}, {"schema", definition_ref(std::string(kMeta) + "Status")}}}};
  } else if (action == "list") {
    for (const char* p : {"labelSelector", "fieldSelector", "resourceVersion", "continue"})
      params.push_back(query(p, "string", std::string("The list's ") + p + "."));
    params.push_back(query("limit", "integer", "The maximum number of objects to return."));
    params.push_back(query("watch", "boolean", "Watch for changes to the described resources."));
    responses = {{"200", {{"description", "OK"}, {"schema", definition_ref(def + "List")}}}};
  } else {
    responses = {{"200", {{"description", "OK"}, {"schema", definition_ref(def)}}}};
  }
  json op = {{"operationId", operation_id(verb, k)},
             {"tags", {(k.group.empty() ? "core" : k.group.substr(0, k.group.find('.'))) + "_" + k.version}},
             {"schemes", {"https"}},
             {"produces", {"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}},
             {"consumes", {"*/*"}},
             {"parameters", std::move(params)},
             {"responses", std::move(responses)},
             {"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind", gvk(k.group, k.version, k.kind)}};
  if (action == "patch")
    op["consumes"] = {"application/json-patch+json", "application/merge-patch+json",
                      "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
  return op;
}

json paths(const api::Registry& reg) {
  json out = json::object();
  for (const auto& k : reg.kinds()) {
    if (!k.schema()) continue;  // nothing to describe, and its refs would dangle
    std::string coll = (k.group.empty() ? "/api/" : "/apis/") + k.group_version() + "/" +
                       (k.namespaced ? "namespaces/{namespace}/" : "") + k.plural;
    json common = json::array({query("pretty", "string", "If 'true', then the output is pretty printed.")});
    if (k.namespaced) common.push_back(param("namespace", "path", "string", "object name and auth scope"));
    json item_common = common;
    item_common.push_back(param("name", "path", "string", "name of the " + k.kind));
    json collection = {{"parameters", common}}, item = {{"parameters", item_common}};
    if (k.can("list")) collection["get"] = operation(k, "list", "list");
    if (k.can("create")) collection["post"] = operation(k, "create", "post");
    if (k.can("get")) item["get"] = operation(k, "read", "get");
    if (k.can("update")) item["put"] = operation(k, "replace", "put");
    if (k.can("patch")) item["patch"] = operation(k, "patch", "patch");
    if (k.can("delete")) item["delete"] = operation(k, "delete", "delete");
    out[coll] = collection;
    if (item.size() > 1) out[coll + "/{name}"] = item;
  }
  return out;
}

// Every "$ref" must name a definition: kube-openapi refuses the whole document otherwise, which kubectl reports as
// a failure to download OpenAPI. Checked once when the document is built.
void check_refs(const json& node, const json& defs) {
  if (node.is_object()) {
    auto r = node.find("$ref");
    if (r != node.end() && !defs.contains(r->get<std::string>().substr(std::string("#/definitions/").size())))
      throw std::logic_error("openapi v2: dangling reference " + r->get<std::string>());
  }
  if (node.is_structured())
    for (const auto& child : node) check_refs(child, defs);
}

json swagger_document(const api::Registry& reg) {
  json defs = definitions(reg);
  json doc = {{"swagger", "2.0"},
              {"info", {{"title", "Kubernetes"}, {"version", "v1.33.0"}}},
              {"paths", paths(reg)},
              {"definitions", defs}};
  check_refs(doc, defs);
  return doc;
}

// ---- The protobuf encoding (proto3 wire format) -------------------------------------------------------------

// A message being written. Fields are written even when they hold the default value: proto3 decoders accept that,
// and presence matters for messages (an empty Properties still makes an object a kind with no fields).
class ProtoMessage {
 public:
  ProtoMessage& string(int field, std::string_view v) {
    key(field, 2);
    varint(v.size());
    out_.append(v);
    return *this;
  }
  ProtoMessage& boolean(int field, bool v) {
    key(field, 0);
    varint(v ? 1 : 0);
    return *this;
  }
  ProtoMessage& message(int field, const ProtoMessage& m) { return string(field, m.out_); }
  const std::string& bytes() const { return out_; }

 private:
  void key(int field, int wire_type) { varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type)); }
  void varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

[[noreturn]] void unknown_key(const char* message, const std::string& key) {
  throw std::logic_error(std::string("openapi v2: no protobuf field for ") + message + " key \"" + key + "\"");
}

bool is_extension(const std::string& key) { return key.rfind("x-", 0) == 0; }

// NamedAny{name, Any{yaml}}: kube-openapi decodes the YAML text with go-yaml v2.
ProtoMessage extension(const std::string& name, const json& value) {
  return ProtoMessage().string(1, name).message(2, ProtoMessage().string(2, api::encode_yaml(value)));
}

ProtoMessage named(const std::string& name, const ProtoMessage& value) {
  return ProtoMessage().string(1, name).message(2, value);
}

void strings(ProtoMessage& m, int field, const json& list) {
  for (const auto& s : list) m.string(field, s.get<std::string>());
}

ProtoMessage schema_message(const json& s) {
  ProtoMessage m;
  for (const auto& [k, v] : s.items()) {
    if (k == "$ref") m.string(1, v.get<std::string>());
    else if (k == "format") m.string(2, v.get<std::string>());
    else if (k == "title") m.string(3, v.get<std::string>());
    else if (k == "description") m.string(4, v.get<std::string>());
    else if (k == "required") strings(m, 19, v);
    else if (k == "additionalProperties")  // AdditionalPropertiesItem: oneof {Schema schema = 1; bool boolean = 2;}
      m.message(21, v.is_boolean() ? ProtoMessage().boolean(2, v.get<bool>())
                                   : ProtoMessage().message(1, schema_message(v)));
    else if (k == "type") m.message(22, ProtoMessage().string(1, v.get<std::string>()));  // TypeItem
    else if (k == "items") m.message(23, ProtoMessage().message(1, schema_message(v)));   // ItemsItem
    else if (k == "allOf") for (const auto& e : v) m.message(24, schema_message(e));
    else if (k == "properties") {
      ProtoMessage props;  // Properties{repeated NamedSchema}
      for (const auto& [name, p] : v.items()) props.message(1, named(name, schema_message(p)));
      m.message(25, props);
    } else if (is_extension(k)) m.message(31, extension(k, v));
    else unknown_key("Schema", k);
  }
  return m;
}

// ParametersItem{Parameter{BodyParameter = 1 | NonBodyParameter = 2 {Query... = 3 | Path... = 4}}}.
ProtoMessage parameter_message(const json& p) {
  const std::string in = p.at("in").get<std::string>();
  const bool body = in == "body", path = in == "path";
  if (!body && !path && in != "query") unknown_key("Parameter \"in\"", in);
  ProtoMessage m;
  for (const auto& [k, v] : p.items()) {
    if (k == "name") m.string(body ? 2 : 4, v.get<std::string>());
    else if (k == "in") m.string(body ? 3 : 2, v.get<std::string>());
    else if (k == "description") m.string(body ? 1 : 3, v.get<std::string>());
    else if (k == "required") m.boolean(body ? 4 : 1, v.get<bool>());
    else if (k == "schema" && body) m.message(5, schema_message(v));
    else if (k == "type" && !body) m.string(path ? 5 : 6, v.get<std::string>());
    else if (k == "uniqueItems" && !body) m.boolean(path ? 19 : 20, v.get<bool>());
    else if (is_extension(k)) m.message(body ? 6 : (path ? 22 : 23), extension(k, v));
    else unknown_key("Parameter", k);
  }
  ProtoMessage parameter =
      body ? ProtoMessage().message(1, m) : ProtoMessage().message(2, ProtoMessage().message(path ? 4 : 3, m));
  return ProtoMessage().message(1, parameter);
}

// Responses{repeated NamedResponseValue{name, ResponseValue{Response = 1}}}.
ProtoMessage responses_message(const json& rs) {
  ProtoMessage m;
  for (const auto& [code, r] : rs.items()) {
    ProtoMessage response;
    for (const auto& [k, v] : r.items()) {
      if (k == "description") response.string(1, v.get<std::string>());
      else if (k == "schema") response.message(2, ProtoMessage().message(1, schema_message(v)));  // SchemaItem
      else unknown_key("Response", k);
    }
    m.message(1, named(code, ProtoMessage().message(1, response)));
  }
  return m;
}

ProtoMessage operation_message(const json& op) {
  ProtoMessage m;
  for (const auto& [k, v] : op.items()) {
    if (k == "tags") strings(m, 1, v);
    else if (k == "description") m.string(3, v.get<std::string>());
    else if (k == "operationId") m.string(5, v.get<std::string>());
    else if (k == "produces") strings(m, 6, v);
    else if (k == "consumes") strings(m, 7, v);
    else if (k == "parameters") for (const auto& p : v) m.message(8, parameter_message(p));
    else if (k == "responses") m.message(9, responses_message(v));
    else if (k == "schemes") strings(m, 10, v);
    else if (is_extension(k)) m.message(13, extension(k, v));
    else unknown_key("Operation", k);
  }
  return m;
}

ProtoMessage path_item_message(const json& item) {
  static const std::map<std::string, int> kVerbs = {{"get", 2}, {"put", 3}, {"post", 4}, {"delete", 5}, {"patch", 8}};
  ProtoMessage m;
  for (const auto& [k, v] : item.items()) {
    if (auto verb = kVerbs.find(k); verb != kVerbs.end()) m.message(verb->second, operation_message(v));
    else if (k == "parameters") for (const auto& p : v) m.message(9, parameter_message(p));
    else if (is_extension(k)) m.message(10, extension(k, v));
    else unknown_key("PathItem", k);
  }
  return m;
}

std::string document_protobuf(const json& doc) {
  ProtoMessage m;
  for (const auto& [k, v] : doc.items()) {
    if (k == "swagger") m.string(1, v.get<std::string>());
    else if (k == "info")  // Info{title = 1, version = 2}
      m.message(2, ProtoMessage()
                       .string(1, v.at("title").get<std::string>())
                       .string(2, v.at("version").get<std::string>()));
    else if (k == "paths") {
      ProtoMessage paths;  // Paths{repeated NamedPathItem path = 2}
      for (const auto& [name, item] : v.items()) paths.message(2, named(name, path_item_message(item)));
      m.message(8, paths);
    } else if (k == "definitions") {
      ProtoMessage defs;  // Definitions{repeated NamedSchema}
      for (const auto& [name, s] : v.items()) defs.message(1, named(name, schema_message(s)));
      m.message(9, defs);
    } else unknown_key("Document", k);
  }
  return m.bytes();
}

struct OpenApiV2 {
  std::string json;
  std::string protobuf;
};

const OpenApiV2& openapi_v2(const api::Registry& reg) {
  // The registry and the schema are fixed for the life of the process, like the v3 documents.
  static const OpenApiV2 built = [&] {
    nlohmann::json doc = swagger_document(reg);
    return OpenApiV2{doc.dump(), document_protobuf(doc)};
  }();
  return built;
}

}  // namespace

const std::string& openapi_v2_protobuf(const api::Registry& reg) { return openapi_v2(reg).protobuf; }
const std::string& openapi_v2_json(const api::Registry& reg) { return openapi_v2(reg).json; }

}  // namespace kctl::apiserver
