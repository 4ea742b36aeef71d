// OpenAPI v3, generated from the registry and the schema: the /openapi/v3 index and one document per
// group-version with the paths kubectl looks for (a patch operation with x-kubernetes-group-version-kind and a
// fieldValidation parameter, so it validates on the server) and the schemas `kubectl explain` prints.
// /openapi/v2 is served from openapi_v2.cc for the kubectls (1.27-1.31) that still validate with it.
#include <map>
#include <mutex>

#include <openssl/sha.h>

#include "daemons/apiserver/apiserver.h"

namespace kctl::apiserver {

using api::KindInfo;
using api::Status;
using api::TypeDef;
using api::TypeRef;
using nlohmann::json;

namespace {

std::string package_of(const TypeDef& t) {
  if (t.file == "meta.schema") return "io.k8s.apimachinery.pkg.apis.meta.v1.";
  std::string base = t.file.substr(0, t.file.find_first_of("_."));
  return "io.k8s.api." + base + ".v1.";
}

std::string schema_ref(const std::string& name) { return "#/components/schemas/" + name; }

json type_schema(const TypeRef& t) {
  switch (t.kind) {
    case TypeRef::Kind::String: return {{"type", "string"}};
    case TypeRef::Kind::Boolean: return {{"type", "boolean"}};
    case TypeRef::Kind::Int32: return {{"type", "integer"}, {"format", "int32"}};
    case TypeRef::Kind::Int64: return {{"type", "integer"}, {"format", "int64"}};
    case TypeRef::Kind::Number: return {{"type", "number"}, {"format", "double"}};
    case TypeRef::Kind::Bytes: return {{"type", "string"}, {"format", "byte"}};
    case TypeRef::Kind::Time: return {{"$ref", schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Time")}};
    case TypeRef::Kind::Quantity: return {{"$ref", schema_ref("io.k8s.apimachinery.pkg.api.resource.Quantity")}};
    case TypeRef::Kind::IntOrString: return {{"$ref", schema_ref("io.k8s.apimachinery.pkg.util.intstr.IntOrString")}};
    case TypeRef::Kind::Object: return {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    case TypeRef::Kind::Named: return {{"$ref", schema_ref(package_of(*t.named) + t.named->name)}};
    case TypeRef::Kind::List: return {{"type", "array"}, {"items", type_schema(*t.elem)}};
    case TypeRef::Kind::Map: return {{"type", "object"}, {"additionalProperties", type_schema(*t.elem)}};
  }
  return json::object();
}

json struct_schema(const TypeDef& t, const api::Registry& reg) {
  json props = json::object();
  json required = json::array();
  for (const auto& f : t.fields) {
    json p = type_schema(f.type);
    if (p.contains("$ref") && !f.description.empty()) p = {{"allOf", json::array({p})}};
    if (!f.description.empty()) p["description"] = f.description;
    if (!f.merge_key.empty()) p["x-kubernetes-patch-merge-key"] = f.merge_key;
    if (!f.patch_strategy.empty()) p["x-kubernetes-patch-strategy"] = f.patch_strategy;
    if (!f.list_type.empty()) p["x-kubernetes-list-type"] = f.list_type;
    if (!f.list_map_keys.empty()) p["x-kubernetes-list-map-keys"] = f.list_map_keys;
    props[f.name] = p;
    if (f.required) required.push_back(f.name);
  }
  json s = {{"type", "object"}, {"properties", props}};
  if (!t.description.empty()) s["description"] = t.description;
  if (!required.empty()) s["required"] = required;
  json gvks = json::array();
  for (const auto& k : reg.kinds())
    if ((k.schema_type.empty() ? k.kind : k.schema_type) == t.name)
      gvks.push_back({{"group", k.group}, {"version", k.version}, {"kind", k.kind}});
  if (t.name == "Scale") gvks.push_back({{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}});
  if (!gvks.empty()) s["x-kubernetes-group-version-kind"] = gvks;
  return s;
}

json all_schemas(const api::Registry& reg) {
  json schemas = json::object();
  for (const auto& [name, def] : api::Schema::builtin().types()) schemas[package_of(*def) + name] = struct_schema(*def, reg);
  schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] = {
      {"type", "string"}, {"format", "date-time"},
      {"description", "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON."}};
  schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
      {"type", "string"}, {"description", "Quantity is a fixed-point representation of a number (e.g. 100m, 64Mi)."}};
  schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
      {"type", "string"}, {"format", "int-or-string"}, {"x-kubernetes-int-or-string", true},
      {"description", "IntOrString is a type that can hold an int32 or a string."}};
  return schemas;
}

json operation(const KindInfo& k, const std::string& action, const std::string& verb) {
  json op = {{"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind", {{"group", k.group}, {"version", k.version}, {"kind", k.kind}}},
             {"operationId", verb + k.kind},
             {"responses", {{"200", {{"description", "OK"}}}}}};
  json params = json::array({{{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                             {{"name", "fieldManager"}, {"in", "query"}, {"schema", {{"type", "string"}}}}});
  if (action == "patch" || action == "put" || action == "post")
    params.push_back({{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}});
  if (action == "patch") params.push_back({{"name", "force"}, {"in", "query"}, {"schema", {{"type", "boolean"}}}});
  op["parameters"] = params;
  if (action == "patch") {
    json body = {{"schema", {{"type", "object"}}}};
    op["requestBody"] = {{"content",
                          {{"application/json-patch+json", body},
                           {"application/merge-patch+json", body},
                           {"application/strategic-merge-patch+json", body},
                           {"application/apply-patch+yaml", body}}}};
  }
  return op;
}

json group_version_doc(const api::Registry& reg, const std::string& gv, const json& schemas) {
  json paths = json::object();
  for (const auto& k : reg.kinds()) {
    if (k.group_version() != gv) continue;
    std::string base = (k.group.empty() ? "/api/" : "/apis/") + gv + "/";
    std::string coll = base + (k.namespaced ? "namespaces/{namespace}/" : "") + k.plural;
    std::string item = coll + "/{name}";
    json collection = json::object(), one = json::object();
    if (k.can("list")) collection["get"] = operation(k, "list", "list");
    if (k.can("create")) collection["post"] = operation(k, "post", "create");
    if (k.can("get")) one["get"] = operation(k, "get", "read");
    if (k.can("update")) one["put"] = operation(k, "put", "replace");
    if (k.can("patch")) one["patch"] = operation(k, "patch", "patch");
    if (k.can("delete")) one["delete"] = operation(k, "delete", "delete");
    paths[coll] = collection;
    if (!one.empty()) paths[item] = one;
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.33.0"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

struct OpenApiDocs {
  std::string index;
  std::map<std::string, std::string> docs;  // "api/v1" -> document
};

const OpenApiDocs& docs_for(const api::Registry& reg) {
  static OpenApiDocs built = [&] {
    OpenApiDocs d;
    json schemas = all_schemas(reg);
    json paths = json::object();
    std::vector<std::string> gvs;
    for (const auto& k : reg.kinds())
      if (std::find(gvs.begin(), gvs.end(), k.group_version()) == gvs.end()) gvs.push_back(k.group_version());
    for (const auto& gv : gvs) {
      std::string key = (gv.find('/') == std::string::npos ? "api/" : "apis/") + gv;
      std::string doc = group_version_doc(reg, gv, schemas).dump();
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(doc.data()), doc.size(), digest);
      char hex[17];
      for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02X", digest[i]);
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hex}};
      d.docs[key] = std::move(doc);
    }
    d.index = json{{"paths", paths}}.dump();
    return d;
  }();
  return built;
}

}  // namespace

void ApiServer::serve_openapi(http::Request& req, ResponseWriter& w, const std::string& path) {
  if (req.method != "GET") return send_status(w, Status::method_not_allowed("the server does not allow this method on the requested resource"));
  const OpenApiDocs& d = docs_for(registry_);
  if (path == "/openapi/v3" || path == "/openapi/v3/") return w.respond(200, "application/json", d.index);
  if (path == "/openapi/v2" || path == "/openapi/v2/") {
    // client-go asks for protobuf; anyone else (curl, a browser) gets the same document as JSON. The answer's type
    // says "v2.v1.0", as kube-apiserver's does: Go's mime parser, which client-go runs on it, rejects the "@" of
    // the requested "v2@v1.0" and kubectl would fail with "mime: unexpected content after media subtype".
    if (http::header(req.headers, "Accept").find("protobuf") != std::string::npos)
      return w.respond(200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi_v2_protobuf(registry_));
    return w.respond(200, "application/json", openapi_v2_json(registry_));
  }
  if (path.rfind("/openapi/v3/", 0) == 0) {
    auto it = d.docs.find(path.substr(12));
    if (it != d.docs.end()) {
      w.headers().emplace("Cache-Control", "public, immutable");
      return w.respond(200, "application/json", it->second);
    }
  }
  send_status(w, Status::not_found("", ""));
}

}  // namespace kctl::apiserver
