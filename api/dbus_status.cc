// The reason <-> code table Kubernetes uses (metav1.StatusReason), and the bus errors that mean "unreachable".
#include "api/dbus_status.h"

#include <array>
#include <string_view>

namespace kctl::api {

namespace {

struct ReasonCode {
  std::string_view reason;
  int code;
};

// The first entry for a code is the reason a code-only Status gets.
constexpr std::array<ReasonCode, 18> kReasons = {{
    {"BadRequest", 400},       {"Unauthorized", 401},     {"Forbidden", 403},
    {"NotFound", 404},         {"MethodNotAllowed", 405}, {"NotAcceptable", 406},
    {"AlreadyExists", 409},    {"Conflict", 409},         {"Expired", 410},
    {"Gone", 410},             {"RequestEntityTooLarge", 413}, {"UnsupportedMediaType", 415},
    {"Invalid", 422},          {"TooManyRequests", 429},  {"InternalError", 500},
    {"ServiceUnavailable", 503}, {"Timeout", 504},        {"ServerTimeout", 504},
}};

// Errors of the bus itself (or of sd-bus) that mean the apiserver could not be reached or did not answer.
constexpr std::array<std::string_view, 9> kUnreachable = {
    "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",        "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.NoServer",       "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut",       "org.freedesktop.DBus.Error.FileNotFound",
    "org.freedesktop.DBus.Error.UnknownObject",
};

// A D-Bus name element: letters, digits and underscores, not starting with a digit.
bool valid_element(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

std::string dbus_error_name(const Status& s) {
  std::string_view reason = s.reason;
  if (!valid_element(reason)) {
    reason = "InternalError";
    for (const auto& rc : kReasons)
      if (rc.code == s.code) {
        reason = rc.reason;
        break;
      }
  }
  return std::string(kApiServerErrorPrefix) + std::string(reason);
}

Status status_from_dbus_error(const std::string& name, const std::string& message) {
  Status s;
  std::string_view prefix = kApiServerErrorPrefix;
  if (name.rfind(prefix, 0) == 0) {
    s.reason = name.substr(prefix.size());
    s.message = message;
    s.code = 500;
    for (const auto& rc : kReasons)
      if (rc.reason == s.reason) {
        s.code = rc.code;
        break;
      }
    return s;
  }
  for (auto u : kUnreachable)
    if (name == u) return Status::service_unavailable("cannot reach the API server on D-Bus: " + message);
  if (name == "org.freedesktop.DBus.Error.AccessDenied") {
    s = Status::forbidden("", "", message);
    s.message = message;  // the bus policy's own words; there is no resource to name
    return s;
  }
  return Status::internal("D-Bus error " + name + ": " + message);
}

}  // namespace kctl::api
