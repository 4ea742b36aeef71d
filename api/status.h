// The Kubernetes Status error object (metav1.Status): what every failure becomes on the wire.
// Library code reports failures by throwing StatusError (or returning a Status); daemons decide what to log.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::api {

struct StatusCause {
  std::string reason;  // FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, ...
  std::string message;
  std::string field;   // JSON path of the field, e.g. "spec.containers[0].name"
};

struct Status {
  int code = 500;
  std::string reason;  // NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Gone/Expired, ...
  std::string message;
  // details
  std::string name;
  std::string group;
  std::string kind;
  std::string uid;
  std::vector<StatusCause> causes;
  int retry_after_seconds = 0;

  nlohmann::json to_json() const;

  static Status bad_request(std::string message);
  static Status not_found(const std::string& resource, const std::string& name, const std::string& group = "");
  static Status already_exists(const std::string& resource, const std::string& name, const std::string& group = "");
  static Status conflict(const std::string& resource, const std::string& name, std::string message,
                         const std::string& group = "");
  // 422: kind is the Kind ("Pod"), name the object's name; the message lists every cause as kube-apiserver does.
  static Status invalid(const std::string& kind, const std::string& name, std::vector<StatusCause> causes,
                        const std::string& group = "");
  static Status gone(std::string message);  // 410 Expired
  static Status method_not_allowed(std::string message);
  static Status unsupported_media_type(std::string message);
  static Status request_entity_too_large(std::string message);
  static Status forbidden(const std::string& resource, const std::string& name, std::string message,
                          const std::string& group = "");
  static Status internal(std::string message);
  static Status service_unavailable(std::string message);
  static Status not_acceptable(std::string message);
  static Status timeout(std::string message);
  static Status unauthorized(std::string message);
  // 429 with details.retryAfterSeconds (the server also sends a Retry-After header).
  static Status too_many_requests(std::string message, int retry_after_seconds);
};

class StatusError : public std::exception {
 public:
  explicit StatusError(Status s) : status_(std::move(s)) {}
  const char* what() const noexcept override { return status_.message.c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Shorthands for the common "throw a 400/422" cases in decoding, patching and validation code.
[[noreturn]] inline void throw_bad_request(std::string message) { throw StatusError(Status::bad_request(std::move(message))); }

}  // namespace kctl::api
