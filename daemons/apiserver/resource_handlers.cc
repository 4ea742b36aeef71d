// The REST verbs on /api/v1/... and /apis/G/V/...: which verb a method and URL mean, the query parameters
// Kubernetes defines for each, and the JSON or Table answers. The object logic is ObjectService's.
#include <ctime>

#include "api/codec.h"
#include "daemons/apiserver/apiserver.h"
#include "daemons/apiserver/table.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

bool wants_table(const http::Request& req) {
  return http::header(req.headers, "Accept").find("as=Table") != std::string::npos;
}

IncludeObject include_object(const http::Request& req) {
  std::string v = req.param("includeObject");
  if (v == "None") return IncludeObject::None;
  if (v == "Object") return IncludeObject::Object;
  return IncludeObject::Metadata;
}

WriteOptions write_options(const http::Request& req, std::vector<std::string>* warnings) {
  WriteOptions o;
  o.dry_run = req.has_param("dryRun") && !req.param("dryRun").empty();
  if (o.dry_run && req.param("dryRun") != "All")
    throw StatusError(Status::bad_request("dryRun: Unsupported value: \"" + req.param("dryRun") +
                                          "\": supported values: \"All\""));
  o.field_manager = req.param("fieldManager");
  o.field_validation = req.param("fieldValidation");
  if (o.field_validation.empty()) o.field_validation = "Warn";
  if (o.field_validation != "Strict" && o.field_validation != "Warn" && o.field_validation != "Ignore")
    throw StatusError(Status::bad_request("fieldValidation: Unsupported value: \"" + o.field_validation +
                                          "\": supported values: \"Ignore\", \"Strict\", \"Warn\""));
  o.warnings = warnings;
  return o;
}

void add_warnings(ResponseWriter& w, const std::vector<std::string>& warnings) {
  for (const auto& m : warnings) {
    std::string quoted;
    append_json_string(quoted, m);
    w.headers().emplace("Warning", "299 - " + quoted);
  }
}

void respond_object(http::Request& req, ResponseWriter& w, const api::KindInfo& kind, const Record& rec, int code) {
  if (wants_table(req)) {
    std::string out = "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"" +
                      std::to_string(rec.revision) + "\"},\"columnDefinitions\":" + table_columns_json(kind) +
                      ",\"rows\":[";
    append_table_row(out, rec, include_object(req), std::time(nullptr));
    out += "]}";
    return w.respond(code, "application/json", out);
  }
  w.respond(code, "application/json", rec.value);
}

Status method_not_allowed() {
  return Status::method_not_allowed("the server does not allow this method on the requested resource");
}

}  // namespace

void ApiServer::handle_resource(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  const std::string& m = req.method;
  bool watch = ri.legacy_watch || http::parse_bool(req.param("watch")).value_or(false);
  if (req.has_param("watch") && !http::parse_bool(req.param("watch")))
    throw StatusError(Status::bad_request("watch: invalid boolean value \"" + req.param("watch") + "\""));
  bool pod_stream = ri.subresource == "log" || ri.subresource == "exec" || ri.subresource == "portforward";
  if (ri.name.empty()) {
    if (m == "GET") return watch ? serve_watch(req, w, ri) : serve_list(req, w, ri);
    if (m == "POST" && (!ri.kind->namespaced || !ri.ns.empty())) return serve_create(req, w, ri);
    if (m == "DELETE" && (!ri.kind->namespaced || !ri.ns.empty())) return serve_delete_collection(req, w, ri);
    return send_status(w, method_not_allowed());
  }
  if (ri.kind->namespaced && ri.ns.empty()) return send_status(w, Status::not_found("", ""));
  if (watch && m == "GET" && ri.subresource.empty()) {
    // A watch of one object by name (legacy): same as the collection watch with a name field selector.
    req.query.emplace("fieldSelector", "metadata.name=" + ri.name);
    RequestInfo coll = ri;
    coll.name.clear();
    return serve_watch(req, w, coll);
  }
  if (ri.subresource == "log" && m == "GET") return serve_pod_log(req, w, ri);
  if (pod_stream) {
    if (m == "GET" || m == "POST") return serve_pod_upgrade(req, w, ri);
    return send_status(w, method_not_allowed());
  }
  if (m == "GET") return serve_get(req, w, ri);
  if (m == "PUT") return serve_update(req, w, ri);
  if (m == "PATCH") return serve_patch(req, w, ri);
  if (m == "DELETE" && ri.subresource.empty()) return serve_delete(req, w, ri);
  if (m == "POST" && ri.subresource == "token")
    return w.respond(201, "application/json", objects_->request_token(ri.ns, ri.name, decode_body(req)).dump());
  if (m == "POST" && ri.subresource == "binding") {
    std::vector<std::string> warnings;
    objects_->bind(ri.ns, ri.name, decode_body(req), write_options(req, &warnings));
    json ok = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"}, {"code", 201}};
    return w.respond(201, "application/json", ok.dump());
  }
  send_status(w, method_not_allowed());
}

void ApiServer::serve_get(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  if (ri.subresource == "scale") return w.respond(200, "application/json", objects_->get_scale(*ri.kind, ri.ns, ri.name).dump());
  if (!ri.subresource.empty() && ri.subresource != "status" && ri.subresource != "approval")
    return send_status(w, method_not_allowed());
  auto rec = objects_->get(*ri.kind, ri.ns, ri.name);
  respond_object(req, w, *ri.kind, *rec, 200);
}

void ApiServer::serve_list(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  Selectors sel{req.param("labelSelector"), req.param("fieldSelector")};
  std::string rv = req.param("resourceVersion");
  int64_t revision = 0;
  auto records = objects_->list(*ri.kind, ri.ns, sel, &revision);
  if (!rv.empty() && rv != "0") {
    // The state is kept at the newest revision only: an exact older revision cannot be served; a newer one than
    // the store has is "too large" as kube-apiserver says.
    char* end = nullptr;
    long long want = std::strtoll(rv.c_str(), &end, 10);
    if (*end != '\0' || want < 0)
      throw StatusError(Status::bad_request("resourceVersion: Invalid value: \"" + rv + "\": must be a non-negative integer"));
    if (want > revision) {
      Status s = Status::timeout("Too large resource version: " + rv + ", current: " + std::to_string(revision));
      s.retry_after_seconds = 1;
      throw StatusError(s);
    }
    if (req.param("resourceVersionMatch") == "Exact" && want != revision)
      throw StatusError(Status::gone("resourceVersion " + rv + " is not the current revision " +
                                     std::to_string(revision) + "; only the current state can be listed"));
  }
  if (wants_table(req)) return w.respond(200, "application/json", table_json(*ri.kind, records, revision, include_object(req)));
  w.respond(200, "application/json", list_json(*ri.kind, records, revision));
}

void ApiServer::serve_create(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  std::vector<std::string> warnings;
  auto opts = write_options(req, &warnings);
  auto rec = objects_->create(*ri.kind, ri.ns, decode_body(req), opts);
  add_warnings(w, warnings);
  respond_object(req, w, *ri.kind, *rec, 201);
}

void ApiServer::serve_update(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  std::vector<std::string> warnings;
  auto opts = write_options(req, &warnings);
  json body = decode_body(req);
  if (ri.subresource == "scale") {
    json scale = objects_->update_scale(*ri.kind, ri.ns, ri.name, body, opts);
    return w.respond(200, "application/json", scale.dump());
  }
  if (!ri.subresource.empty() && ri.subresource != "status" && ri.subresource != "finalize" &&
      ri.subresource != "approval")
    return send_status(w, method_not_allowed());
  if (body.is_object() && body.contains("metadata") && body["metadata"].is_object() &&
      body["metadata"].value("name", "") != ri.name && body["metadata"].value("name", "") != "")
    throw StatusError(Status::bad_request("the name of the object (" + body["metadata"].value("name", "") +
                                          ") does not match the name on the URL (" + ri.name + ")"));
  auto rec = objects_->update(*ri.kind, ri.ns, ri.name, ri.subresource, body, opts);
  add_warnings(w, warnings);
  respond_object(req, w, *ri.kind, *rec, 200);
}

void ApiServer::serve_patch(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  PatchType type;
  if (!api::parse_patch_content_type(http::header(req.headers, "Content-Type"), type))
    throw StatusError(Status::unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
        "application/strategic-merge-patch+json"));
  if (req.body.empty()) throw StatusError(Status::bad_request("the patch is empty"));
  json patch;
  try {
    patch = type == PatchType::Apply ? api::decode_yaml(req.body) : json::parse(req.body);
  } catch (const json::exception& e) {
    throw StatusError(Status::bad_request(std::string("error decoding patch: ") + e.what()));
  }
  if (type == PatchType::Json && patch.is_array() && patch.size() > 10000)
    throw StatusError(Status::request_entity_too_large("The allowed maximum operations in a JSON patch is 10000, got " +
                                                       std::to_string(patch.size())));
  std::vector<std::string> warnings;
  auto opts = write_options(req, &warnings);
  if (ri.subresource == "scale") {
    json scale = objects_->patch_scale(*ri.kind, ri.ns, ri.name, type, patch, opts);
    return w.respond(200, "application/json", scale.dump());
  }
  if (!ri.subresource.empty() && ri.subresource != "status" && ri.subresource != "approval")
    return send_status(w, method_not_allowed());
  bool created = false;
  auto rec = objects_->patch(*ri.kind, ri.ns, ri.name, ri.subresource, type, patch, opts, &created);
  add_warnings(w, warnings);
  respond_object(req, w, *ri.kind, *rec, created ? 201 : 200);
}

namespace {
DeleteOptions delete_options(const http::Request& req) {
  json body;
  if (!req.body.empty()) body = decode_body(req);
  DeleteOptions o = DeleteOptions::from_json(body);
  if (req.has_param("gracePeriodSeconds")) {
    char* end = nullptr;
    long long g = std::strtoll(req.param("gracePeriodSeconds").c_str(), &end, 10);
    if (*end != '\0') throw StatusError(Status::bad_request("gracePeriodSeconds must be an integer"));
    o.grace_period_seconds = g;
  }
  if (req.has_param("propagationPolicy")) {
    json p = {{"propagationPolicy", req.param("propagationPolicy")}};
    o.propagation_policy = DeleteOptions::from_json(p).propagation_policy;
  }
  if (req.param("dryRun") == "All") o.dry_run = true;
  return o;
}
}  // namespace

void ApiServer::serve_delete(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  auto result = objects_->remove(*ri.kind, ri.ns, ri.name, delete_options(req));
  w.respond(200, "application/json", result.object->value);
}

void ApiServer::serve_delete_collection(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  DeleteOptions opts = delete_options(req);
  Selectors sel{req.param("labelSelector"), req.param("fieldSelector")};
  int64_t revision = 0;
  auto records = objects_->list(*ri.kind, ri.ns, sel, &revision);
  std::vector<RecordPtr> deleted;
  for (const auto& rec : records) {
    json obj = json::parse(rec->value);
    try {
      deleted.push_back(objects_->remove(*ri.kind, obj["metadata"].value("namespace", ""),
                                         obj["metadata"].value("name", ""), opts)
                            .object);
    } catch (const StatusError& e) {
      if (e.status().code != 404) throw;  // deleted meanwhile
    }
  }
  w.respond(200, "application/json", list_json(*ri.kind, deleted, objects_->store().current_revision()));
}

}  // namespace kctl::apiserver
