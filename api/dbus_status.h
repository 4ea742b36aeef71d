// How the object API travels over D-Bus: the names of org.kctl.ApiServer1, and a Status as a D-Bus error
// (org.kctl.ApiServer1.Error.<Reason> with the Status message) and back.
#pragma once

#include <string>

#include "api/status.h"

namespace kctl::api {

inline constexpr const char* kApiServerBusName = "org.kctl.ApiServer1";
inline constexpr const char* kApiServerObjectPath = "/org/kctl/ApiServer1";
inline constexpr const char* kApiServerErrorPrefix = "org.kctl.ApiServer1.Error.";

// org.kctl.ApiServer1.Error.NotFound, ...Conflict; a Status without a usable reason is named after its code.
std::string dbus_error_name(const Status& s);
// The Status a D-Bus error stands for: ours by their reason; the bus's own errors when the apiserver cannot be
// reached (no such name, no reply, disconnected) are 503 ServiceUnavailable, AccessDenied is 403, others 500.
Status status_from_dbus_error(const std::string& name, const std::string& message);

}  // namespace kctl::api
