// Waits built on the library's watch streams (api::Transport::watch): list with a field selector on the name,
// then watch from the list's resourceVersion, each stream bounded by the time left; a 410 relists.
#include "cli/waiting.h"

#include <chrono>
#include <cmath>
#include <thread>

#include "api/client.h"
#include "api/resource_path.h"
#include "cli/command.h"

namespace kctl::cli {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// A watch that ends at once (the server refused it or went away) is retried after this pause, not in a tight loop.
constexpr auto kWatchRetryBackoff = std::chrono::milliseconds(250);

// Watches ns/name and calls on_state with the object (null once it is gone) until it returns true. Returns false
// when the deadline passed first.
bool watch_object(Invocation& inv, const api::KindInfo& kind, const std::string& ns, const std::string& name,
                  const std::function<bool(const json&)>& on_state, double timeout_seconds) {
  if (timeout_seconds <= 0) timeout_seconds = kWaitForever;
  auto deadline = Clock::now() + std::chrono::milliseconds(int64_t(timeout_seconds * 1000));
  RestClient& rest = inv.session().rest();
  std::string selector = "metadata.name=" + name;
  for (;;) {
    json list = rest.call("GET", api::collection_path(kind, ns) + Query().add("fieldSelector", selector).str());
    const json items = list.value("items", json::array());
    if (on_state(items.empty() ? json(nullptr) : items[0])) return true;
    api::ListOptions opts;
    opts.field_selector = selector;
    opts.resource_version = list.value("/metadata/resourceVersion"_json_pointer, std::string());
    bool relist = false;
    while (!relist) {
      double left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      opts.timeout_seconds = std::max(1, int(std::ceil(left)));
      auto stream = rest.transport().watch(kind, ns, opts);
      api::WatchEvent ev;
      bool got_any = false;
      while (stream->next(ev)) {
        got_any = true;
        if (ev.type == api::WatchEvent::Type::Error) {
          relist = true;  // 410 Gone and friends: start over from a fresh list
          break;
        }
        if (ev.type == api::WatchEvent::Type::Bookmark) {
          opts.resource_version = ev.object.value("/metadata/resourceVersion"_json_pointer, opts.resource_version);
          continue;
        }
        opts.resource_version = ev.object.value("/metadata/resourceVersion"_json_pointer, opts.resource_version);
        if (on_state(ev.type == api::WatchEvent::Type::Deleted ? json(nullptr) : ev.object)) return true;
      }
      if (!got_any && Clock::now() < deadline - std::chrono::seconds(1)) {  // the stream failed early
        std::this_thread::sleep_for(kWatchRetryBackoff);
        relist = true;
      }
    }
  }
}

}  // namespace

bool wait_until_deleted(Invocation& inv, const api::KindInfo& kind, const std::string& ns, const std::string& name,
                        const std::string& uid, double timeout_seconds) {
  try {
    json obj = inv.session().rest().call("GET", api::object_path(kind, ns, name));
    if (!uid.empty() && obj.value("/metadata/uid"_json_pointer, std::string()) != uid) return true;
  } catch (const api::StatusError& e) {
    if (e.status().code == 404) return true;
    throw;
  }
  return watch_object(inv, kind, ns, name, [&](const json& obj) {
    return obj.is_null() || (!uid.empty() && obj.value("/metadata/uid"_json_pointer, std::string()) != uid);
  }, timeout_seconds);
}

bool wait_until(Invocation& inv, const api::KindInfo& kind, const std::string& ns, const std::string& name,
                const std::function<bool(const json&)>& done, double timeout_seconds) {
  return watch_object(inv, kind, ns, name, done, timeout_seconds);
}

}  // namespace kctl::cli
