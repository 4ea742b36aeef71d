// Events (core/v1) as Kubernetes components record them: client-go's record.EventRecorder with its EventCorrelator
// (similar events aggregated, repeats counted on one Event, a rate limit per source and object), written by one
// background thread so that recording never blocks the caller's loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "api/client.h"

namespace kctl::api {

// The limits of client-go's tools/record (events_cache.go, event.go), so that kctl's components load the apiserver
// with events no more than Kubernetes' own do.
// Recent events remembered for counting, aggregation and rate limiting: enough for every object a node or a
// controller is busy with, bounded so that a component that sees many objects does not grow without end.
inline constexpr size_t kEventCacheEntries = 4096;
// A source may write 25 events about one object in a burst, then one more every 5 minutes: an object that is
// always unhealthy (a crash loop, a failing probe) does not flood the store.
inline constexpr double kEventSpamBurst = 25;
inline constexpr double kEventSpamQps = 1.0 / 300;
// 10 events about one object that differ only in their message, within 10 minutes, become one Event whose message
// says "(combined from similar events)": a reason with an ever-changing message still makes one Event.
inline constexpr size_t kEventAggregateMaxEvents = 10;
inline constexpr std::chrono::seconds kEventAggregateInterval{600};
// Events waiting to be written; more are dropped (and counted) rather than holding up the component.
inline constexpr size_t kMaxQueuedEvents = 1000;
// A write that fails for want of a server is tried this often, this far apart (the first wait is randomized so
// that components do not all come back at once).
inline constexpr int kMaxTriesPerEvent = 12;
inline constexpr std::chrono::milliseconds kEventRetryDelay{10000};

enum class EventType { Normal, Warning };
const char* to_string(EventType type);

// Who records: the component ("kubelet", "default-scheduler", "replicaset-controller") and, for the kubelet, its
// node. They become the Event's source and its reportingComponent / reportingInstance.
struct EventSource {
  std::string component;
  std::string host;
};

// The core/v1 ObjectReference of an object (kind, namespace, name, uid, apiVersion, resourceVersion), with
// fieldPath when the event is about a part of it ("spec.containers{web}").
nlohmann::json object_reference(const nlohmann::json& object, const std::string& field_path = "");

// A new Event (count 1) about `ref`: named <object name>.<nanoseconds in hex>, in the object's namespace ("default"
// for cluster-scoped objects).
nlohmann::json make_event(const nlohmann::json& ref, const EventSource& source, EventType type,
                          const std::string& reason, const std::string& message,
                          std::chrono::system_clock::time_point when);

// metav1.Time: 2025-01-02T03:04:05Z.
std::string format_event_time(std::chrono::system_clock::time_point t);

// A map of at most `capacity` entries that forgets the least recently used one.
template <class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  V* get(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  void put(const std::string& key, V value) {
    if (V* v = get(key)) {
      *v = std::move(value);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }
  size_t size() const { return order_.size(); }

 private:
  size_t capacity_;
  std::list<std::pair<std::string, V>> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
};

struct EventCorrelatorOptions {
  size_t cache_entries = kEventCacheEntries;
  double spam_burst = kEventSpamBurst;
  double spam_qps = kEventSpamQps;
  size_t aggregate_max_events = kEventAggregateMaxEvents;
  std::chrono::seconds aggregate_interval = kEventAggregateInterval;
};

// What happens to an event before it is written (client-go's EventCorrelator): aggregation of similar events, the
// count of repeats of one event (which then patch the Event first written for it), and the rate limit. Not
// thread-safe: the recorder's writer thread owns it.
class EventCorrelator {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  explicit EventCorrelator(Clock clock = nullptr, EventCorrelatorOptions options = {});

  struct Result {
    nlohmann::json event;  // what to write
    // For a repeat: the strategic merge patch of the Event written before (count, lastTimestamp, message). Null for
    // a new Event.
    nlohmann::json patch;
    bool skip = false;  // over the rate limit: write nothing
  };
  Result correlate(nlohmann::json event);
  // What the server stored (its name, resourceVersion and count), so that the next repeat patches that Event.
  void update_state(const nlohmann::json& stored);

 private:
  struct Aggregate {
    std::set<std::string> messages;  // of the similar events seen, at most aggregate_max_events
    std::chrono::system_clock::time_point last;
  };
  struct Observation {
    int64_t count = 0;
    std::string first_timestamp, name, resource_version;
  };
  struct TokenBucket {
    double tokens;
    std::chrono::system_clock::time_point last;
  };
  nlohmann::json aggregate(nlohmann::json event, std::string& key);
  nlohmann::json observe(nlohmann::json event, const std::string& key, nlohmann::json& patch);
  bool over_rate_limit(const nlohmann::json& event);

  Clock clock_;
  EventCorrelatorOptions options_;
  LruCache<Aggregate> aggregates_;
  LruCache<Observation> observations_;
  LruCache<TokenBucket> buckets_;
};

struct EventRecorderOptions {
  EventCorrelatorOptions correlator;
  size_t max_queued = kMaxQueuedEvents;
  int max_tries = kMaxTriesPerEvent;
  std::chrono::milliseconds retry_delay = kEventRetryDelay;
  EventCorrelator::Clock clock;  // the system clock when empty
  // Told (on the writer thread) of an event given up on, and of events dropped because the queue was full: library
  // code does not log, the component decides.
  std::function<void(const std::string& message)> on_error;
};

// Records events about objects for one source. record() only queues; one background thread correlates and writes
// (create, or a strategic merge patch of the Event a repeat counts on), over any Transport.
class EventRecorder {
 public:
  EventRecorder(Transport& transport, EventSource source, EventRecorderOptions options = {});
  ~EventRecorder();  // stop()
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // An event about `object` (an object with apiVersion, kind and metadata), or about the part of it that
  // field_path names. Never blocks on the server; dropped (and counted) when the queue is full or after stop().
  void record(const nlohmann::json& object, EventType type, const std::string& reason, const std::string& message,
              const std::string& field_path = "");
  // The same with the ObjectReference given (the kubelet names its Node by a reference whose uid is its name).
  void record_reference(const nlohmann::json& ref, EventType type, const std::string& reason,
                        const std::string& message);

  // Waits until everything recorded so far was written (or given up on); false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  // Ends the writer after the write in progress; what is still queued is dropped.
  void stop();

  struct Stats {
    uint64_t created = 0, patched = 0;  // Events written
    uint64_t skipped = 0;               // over the rate limit
    uint64_t dropped = 0;               // the queue was full, or the recorder stopped
    uint64_t failed = 0;                // given up on: rejected by the server, or no server after every try
  };
  Stats stats() const;
  const EventSource& source() const { return source_; }

 private:
  void run();
  enum class Outcome { Written, Retry, Rejected };
  void write(const nlohmann::json& event);
  Outcome try_write(EventCorrelator::Result& r, std::string& error);
  void report(const std::string& message);

  Transport& transport_;
  const EventSource source_;
  EventRecorderOptions options_;
  EventCorrelator correlator_;  // the writer thread's
  const KindInfo& events_kind_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;  // the queue changed, or stop
  std::deque<nlohmann::json> queue_;  // guarded by mutex_
  bool writing_ = false;              // guarded by mutex_: an event taken from the queue is being written
  bool stopping_ = false;             // guarded by mutex_
  Stats stats_;                       // guarded by mutex_
  uint64_t dropped_reported_ = 0;     // the writer thread's
  std::thread writer_;                // last: starts once everything above is initialized
};
using EventRecorderPtr = std::unique_ptr<EventRecorder>;

}  // namespace kctl::api
