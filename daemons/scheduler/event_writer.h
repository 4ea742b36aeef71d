// The scheduler's Events (Scheduled, FailedScheduling) written as core/v1 Events by a thread of its own, so a
// scheduling cycle never waits on them. A stand-in for the shared recorder (api/event_recorder.h, on its way from
// another branch): record() has the recorder's shape, so swapping it is one line in the scheduler.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "api/client.h"

namespace kctl::scheduler {

// Events waiting to be written; more are dropped (and counted) rather than slowing scheduling down (client-go's
// broadcaster drops too, at 1000).
inline constexpr size_t kMaxQueuedEvents = 1000;
// Repeats of one event (same object, reason and message) patch the count of the Event written first; this many are
// remembered.
inline constexpr size_t kRememberedEvents = 4096;

class EventWriter {
 public:
  // `component`: source.component and reportingComponent ("default-scheduler"); `instance`: reportingInstance.
  EventWriter(api::Transport& transport, std::string component, std::string instance);
  ~EventWriter();  // stop()
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // `object`: the pod (apiVersion, kind, metadata). type "Normal" or "Warning"; `action` as events.k8s.io has it
  // ("Scheduling", "Binding"). Never blocks on the server.
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& action, const std::string& message);
  bool flush(std::chrono::milliseconds timeout);
  void stop();

  struct Stats {
    uint64_t written = 0, dropped = 0, failed = 0;
    std::string last_error;
  };
  Stats stats() const;

 private:
  struct Pending {
    nlohmann::json ref;
    std::string type, reason, action, message;
  };
  void run();
  void write(const Pending& p);

  api::Transport& transport_;
  const api::KindInfo& events_;
  std::string component_, instance_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool writing_ = false;       // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  Stats stats_;                // guarded by mu_
  // Written events by (uid, reason, message), least recently used last: name and count. Writer thread only.
  struct Written {
    std::string ns, name;
    int64_t count = 1;
  };
  std::list<std::pair<std::string, Written>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, Written>>::iterator> lru_index_;
  std::thread thread_;
};

}  // namespace kctl::scheduler
