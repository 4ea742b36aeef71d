// A watch that does not end: it lists first (when started without a resourceVersion), follows the server's events,
// resumes from the last resourceVersion when the connection drops, and after 410 Gone relists and reports what
// changed meanwhile as ordinary events. The caller sees one continuous, consistent stream (client-go's reflector).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "api/client.h"

namespace kctl::api {

class ResumableWatch {
 public:
  // opts.resource_version "" (or "0"): list first; the objects come as ADDED events followed by one Synced event.
  // Otherwise: events after that revision (objects known before it are not reported).
  ResumableWatch(Transport& transport, const KindInfo& kind, std::string ns, ListOptions opts);
  ~ResumableWatch();

  // Blocks until the next event (never Error: errors are handled here; Bookmark only advances the revision and
  // is not returned). Returns false once stop() was called.
  bool next(WatchEvent& out);
  // From any thread: next() returns false soon.
  void stop();

  // The revision of the last event returned (or of the last list).
  std::string resource_version() const;
  // How often the stream was re-established and how often it had to relist: for tests and status lines.
  int reconnects() const { return reconnects_; }
  int relists() const { return relists_; }

 private:
  bool relist(std::vector<WatchEvent>& out);
  bool open_stream();
  void backoff();
  void remember(const WatchEvent& ev);

  Transport& transport_;
  const KindInfo& kind_;
  std::string ns_;
  ListOptions opts_;
  std::string rv_;
  bool need_list_;
  bool synced_sent_ = false;
  // What the caller has been told exists (key -> last object), to turn a relist into the right events.
  std::map<std::string, nlohmann::json> known_;
  std::vector<WatchEvent> pending_;  // events computed by a relist, handed out one by one
  WatchStreamPtr stream_;
  std::mutex stream_mutex_;  // guards stream_ against stop() from another thread
  std::atomic<bool> stopped_{false};
  std::chrono::milliseconds delay_{0};
  std::atomic<int> reconnects_{0}, relists_{0};
};

}  // namespace kctl::api
