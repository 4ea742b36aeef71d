// Builders for Status objects with the reasons, codes and messages kube-apiserver uses.
#include "api/status.h"

namespace kctl::api {

namespace {
std::string qualified(const std::string& resource, const std::string& group) {
  return group.empty() ? resource : resource + "." + group;
}
Status make(int code, std::string reason, std::string message) {
  Status s;
  s.code = code;
  s.reason = std::move(reason);
  s.message = std::move(message);
  return s;
}
}  // namespace

nlohmann::json Status::to_json() const {
  nlohmann::json j = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()}};
  j["status"] = code >= 200 && code < 300 ? "Success" : "Failure";
  if (!message.empty()) j["message"] = message;
  if (!reason.empty()) j["reason"] = reason;
  nlohmann::json details = nlohmann::json::object();
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  if (!kind.empty()) details["kind"] = kind;
  if (!uid.empty()) details["uid"] = uid;
  if (!causes.empty()) {
    auto& arr = details["causes"] = nlohmann::json::array();
    for (const auto& c : causes) {
      nlohmann::json cj = nlohmann::json::object();
      if (!c.reason.empty()) cj["reason"] = c.reason;
      if (!c.message.empty()) cj["message"] = c.message;
      if (!c.field.empty()) cj["field"] = c.field;
      arr.push_back(cj);
    }
  }
  if (retry_after_seconds > 0) details["retryAfterSeconds"] = retry_after_seconds;
  if (!details.empty()) j["details"] = details;
  j["code"] = code;
  return j;
}

Status Status::bad_request(std::string message) { return make(400, "BadRequest", std::move(message)); }

Status Status::not_found(const std::string& resource, const std::string& name, const std::string& group) {
  Status s = make(404, "NotFound", qualified(resource, group) + " \"" + name + "\" not found");
  if (name.empty()) s.message = "the server could not find the requested resource";
  s.name = name;
  s.group = group;
  s.kind = resource;
  return s;
}

Status Status::already_exists(const std::string& resource, const std::string& name, const std::string& group) {
  Status s = make(409, "AlreadyExists", qualified(resource, group) + " \"" + name + "\" already exists");
  s.name = name;
  s.group = group;
  s.kind = resource;
  return s;
}

Status Status::conflict(const std::string& resource, const std::string& name, std::string message,
                        const std::string& group) {
  Status s = make(409, "Conflict",
                  "Operation cannot be fulfilled on " + qualified(resource, group) + " \"" + name + "\": " + message);
  s.name = name;
  s.group = group;
  s.kind = resource;
  return s;
}

Status Status::invalid(const std::string& kind, const std::string& name, std::vector<StatusCause> causes,
                       const std::string& group) {
  std::string msg = (group.empty() ? kind : kind + "." + group) + " \"" + name + "\" is invalid: ";
  if (causes.size() > 1) msg += "[";
  for (size_t i = 0; i < causes.size(); ++i) {
    if (i) msg += ", ";
    msg += causes[i].field.empty() ? causes[i].message : causes[i].field + ": " + causes[i].message;
  }
  if (causes.size() > 1) msg += "]";
  Status s = make(422, "Invalid", msg);
  s.name = name;
  s.group = group;
  s.kind = kind;
  s.causes = std::move(causes);
  return s;
}

Status Status::gone(std::string message) { return make(410, "Expired", std::move(message)); }
Status Status::method_not_allowed(std::string message) { return make(405, "MethodNotAllowed", std::move(message)); }
Status Status::unsupported_media_type(std::string message) {
  return make(415, "UnsupportedMediaType", std::move(message));
}
Status Status::request_entity_too_large(std::string message) {
  return make(413, "RequestEntityTooLarge", std::move(message));
}
Status Status::forbidden(const std::string& resource, const std::string& name, std::string message,
                         const std::string& group) {
  Status s = make(403, "Forbidden",
                  qualified(resource, group) + " \"" + name + "\" is forbidden: " + message);
  s.name = name;
  s.group = group;
  s.kind = resource;
  return s;
}
Status Status::internal(std::string message) { return make(500, "InternalError", std::move(message)); }
Status Status::service_unavailable(std::string message) {
  return make(503, "ServiceUnavailable", std::move(message));
}
Status Status::not_acceptable(std::string message) { return make(406, "NotAcceptable", std::move(message)); }
Status Status::timeout(std::string message) { return make(504, "Timeout", std::move(message)); }
Status Status::unauthorized(std::string message) { return make(401, "Unauthorized", std::move(message)); }
Status Status::too_many_requests(std::string message, int retry_after_seconds) {
  Status s = make(429, "TooManyRequests", std::move(message));
  s.retry_after_seconds = retry_after_seconds;
  return s;
}

}  // namespace kctl::api
