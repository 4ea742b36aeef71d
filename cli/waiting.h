// Waiting on the server's watch, never by polling: until an object is gone (delete, replace --force, wait
// --for=delete), or until a condition holds on it (wait --for=condition=..., rollout status).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/registry.h"

namespace kctl::cli {

class Invocation;

// kubectl's "no timeout" for delete's wait: a week.
inline constexpr double kWaitForever = 7 * 24 * 3600;

// Blocks until ns/name of `kind` no longer exists, or exists with another uid than `uid` (when given). Uses a GET,
// then a list and watch with fieldSelector metadata.name=NAME as kubectl does. timeout_seconds <= 0 means
// kWaitForever. Returns false when the time ran out.
bool wait_until_deleted(Invocation& inv, const api::KindInfo& kind, const std::string& ns, const std::string& name,
                        const std::string& uid, double timeout_seconds);

// Blocks until `done(object)` returns true for ns/name, re-evaluating it on every change the watch reports.
// `done` may throw to fail the wait (rollout status does when a deadline is exceeded). A missing object is passed
// as null. Returns false when the time ran out.
bool wait_until(Invocation& inv, const api::KindInfo& kind, const std::string& ns, const std::string& name,
                const std::function<bool(const nlohmann::json&)>& done, double timeout_seconds);

}  // namespace kctl::cli
