// One watch of one kind, whatever carries it: which events a watcher gets (the current objects first for
// resourceVersion "" or "0", replay from a revision, label/field selector transitions, bookmarks, 410 Expired).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "api/registry.h"
#include "api/selector.h"
#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/store.h"

namespace kctl::apiserver {

struct WatchParams {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;      // "" or "0": the current objects first, as ADDED events
  bool send_initial_events = false;  // sendInitialEvents=true: the current objects first whatever the version
  bool allow_bookmarks = false;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();  // timeoutSeconds
};

// Receives what a session hands out; the transport frames it (HTTP: JSON lines or Table rows; D-Bus: signals).
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // ADDED, MODIFIED or DELETED of a stored object version.
  virtual void object_event(const char* type, const RecordPtr& rec) = 0;
  // BOOKMARK or ERROR; `object` is the JSON the event carries (a bookmark object or a Status).
  virtual void other_event(const char* type, const std::string& object) = 0;
};

class WatchSession {
 public:
  // Checks the parameters (400 on bad selectors or resourceVersion), lists the current objects when they come
  // first, and opens the store's watch. Throws StatusError, or StoreError when the store fails.
  WatchSession(ObjectService& objects, const api::KindInfo& kind, const std::string& ns, WatchParams params);
  ~WatchSession();
  WatchSession(const WatchSession&) = delete;
  WatchSession& operator=(const WatchSession&) = delete;

  // Hands out the initial events, or the 410 ERROR when the start revision is already compacted.
  void start(WatchSink& sink);
  // Waits for changes until `wake` (or the deadline, whichever is first), hands them out, and a bookmark when one
  // is due. False once the session has ended: the deadline passed, cancel() was called or an ERROR went out.
  bool poll(WatchSink& sink, std::chrono::steady_clock::time_point wake);
  // Ends the session from another thread, waking a poll() in progress.
  void cancel();

 private:
  bool matches(const Record& rec) const;
  void hand_out(WatchSink& sink, const Event& ev) const;
  std::string bookmark_object(int64_t revision, bool initial_end) const;

  const api::KindInfo& kind_;
  WatchParams params_;
  api::LabelSelector labels_;
  api::FieldSelector fields_;
  std::vector<RecordPtr> initial_;
  int64_t from_ = 0;
  WatchPtr watch_;           // null when the start revision was compacted
  std::string gone_message_;  // why, then
  bool ended_ = false;                // only the thread that polls
  std::atomic<bool> cancelled_{false};  // set from any thread
  std::chrono::steady_clock::time_point last_bookmark_;
};

}  // namespace kctl::apiserver
