// EventCorrelator (aggregation, repeat counting, rate limit) and EventRecorder (the bounded queue and its writer
// thread: create or patch, retried while no server answers).
#include "api/event_recorder.h"

#include <cstdio>
#include <ctime>
#include <random>

#include <pthread.h>

namespace kctl::api {

using nlohmann::json;
using SysClock = std::chrono::system_clock;

namespace {

std::string str(const json& obj, const char* pointer) {
  return obj.value(json::json_pointer(pointer), std::string());
}

// The parts of an event that say who wrote it about what, joined with a separator no name contains.
std::string join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) out += p + '\x1f';
  return out;
}

std::string source_and_object(const json& e) {
  return join({str(e, "/source/component"), str(e, "/source/host"), str(e, "/involvedObject/kind"),
               str(e, "/involvedObject/namespace"), str(e, "/involvedObject/name"), str(e, "/involvedObject/uid"),
               str(e, "/involvedObject/apiVersion")});
}

// One event, exactly: a repeat of it is counted on the Event written first.
std::string event_key(const json& e) {
  return join({source_and_object(e), str(e, "/involvedObject/fieldPath"), str(e, "/type"), str(e, "/reason"),
               str(e, "/message")});
}

// Similar events: all but the message (and the part of the object) alike.
std::string aggregate_key(const json& e) {
  return join({source_and_object(e), str(e, "/type"), str(e, "/reason"), str(e, "/reportingComponent"),
               str(e, "/reportingInstance")});
}

std::string event_name(const std::string& object_name, SysClock::time_point when) {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
  char hex[24];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(nanos));
  return object_name + "." + hex;
}

// Failures that say the server was not reached (or could not answer now): worth another try.
bool retriable(const StatusError& e) {
  int code = e.status().code;
  return code == 503 || code == 504 || code == 429 || (code == 500 && e.status().reason == "InternalError");
}

}  // namespace

const char* to_string(EventType type) { return type == EventType::Warning ? "Warning" : "Normal"; }

std::string format_event_time(SysClock::time_point t) {
  std::time_t secs = SysClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json object_reference(const json& object, const std::string& field_path) {
  json ref = json::object();
  auto set = [&](const char* key, const std::string& value) {
    if (!value.empty()) ref[key] = value;
  };
  set("kind", str(object, "/kind"));
  set("namespace", str(object, "/metadata/namespace"));
  set("name", str(object, "/metadata/name"));
  set("uid", str(object, "/metadata/uid"));
  set("apiVersion", str(object, "/apiVersion"));
  set("resourceVersion", str(object, "/metadata/resourceVersion"));
  set("fieldPath", field_path);
  return ref;
}

json make_event(const json& ref, const EventSource& source, EventType type, const std::string& reason,
                const std::string& message, SysClock::time_point when) {
  std::string ns = ref.value("namespace", "");
  std::string ts = format_event_time(when);
  json src = {{"component", source.component}};
  if (!source.host.empty()) src["host"] = source.host;
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", event_name(ref.value("name", ""), when)}, {"namespace", ns.empty() ? "default" : ns}}},
                {"involvedObject", ref},
                {"reason", reason},
                {"message", message},
                {"source", src},
                {"firstTimestamp", ts},
                {"lastTimestamp", ts},
                {"count", 1},
                {"type", to_string(type)},
                {"reportingComponent", source.component},
                {"reportingInstance", source.host}};
  return event;
}

EventCorrelator::EventCorrelator(Clock clock, EventCorrelatorOptions options)
    : clock_(clock ? std::move(clock) : Clock([] { return SysClock::now(); })),
      options_(options),
      aggregates_(options.cache_entries),
      observations_(options.cache_entries),
      buckets_(options.cache_entries) {}

EventCorrelator::Result EventCorrelator::correlate(json event) {
  Result r;
  std::string key;
  event = aggregate(std::move(event), key);
  r.event = observe(std::move(event), key, r.patch);
  // Counted above even when skipped here: the next Event that gets through carries the true count.
  r.skip = over_rate_limit(r.event);
  return r;
}

// The event itself and its key; or, once too many similar events came too fast, the aggregate Event standing for
// them all and the aggregate key (so that its repeats count on it).
json EventCorrelator::aggregate(json event, std::string& key) {
  auto now = clock_();
  key = event_key(event);
  std::string akey = aggregate_key(event);
  Aggregate* a = aggregates_.get(akey);
  if (!a || now - a->last > options_.aggregate_interval) {
    aggregates_.put(akey, Aggregate{});
    a = aggregates_.get(akey);
  }
  a->messages.insert(event.value("message", ""));
  a->last = now;
  if (a->messages.size() < options_.aggregate_max_events) return event;
  a->messages.erase(a->messages.begin());  // stay at the threshold: every further similar event aggregates
  key = akey;
  std::string ts = format_event_time(now);
  json combined = event;
  combined["metadata"] = {{"name", event_name(str(event, "/involvedObject/name"), now)},
                          {"namespace", str(event, "/metadata/namespace")}};
  combined["message"] = "(combined from similar events): " + event.value("message", "");
  combined["count"] = 1;
  combined["firstTimestamp"] = ts;
  combined["lastTimestamp"] = ts;
  return combined;
}

// A repeat of an event seen before takes that Event's name and first timestamp and counts one more; the patch
// carries what changes.
json EventCorrelator::observe(json event, const std::string& key, json& patch) {
  patch = nullptr;
  if (Observation* seen = observations_.get(key); seen && seen->count > 0) {
    event["metadata"]["name"] = seen->name;
    if (!seen->resource_version.empty()) event["metadata"]["resourceVersion"] = seen->resource_version;
    event["firstTimestamp"] = seen->first_timestamp;
    event["count"] = seen->count + 1;
    patch = {{"count", event["count"]}, {"lastTimestamp", event["lastTimestamp"]}, {"message", event["message"]}};
  }
  observations_.put(key, {event.value("count", int64_t(1)), event.value("firstTimestamp", ""), str(event, "/metadata/name"),
                          str(event, "/metadata/resourceVersion")});
  return event;
}

// A token bucket per source and object: kEventSpamBurst tokens, refilled at kEventSpamQps.
bool EventCorrelator::over_rate_limit(const json& event) {
  auto now = clock_();
  std::string key = source_and_object(event);
  TokenBucket* b = buckets_.get(key);
  if (!b) {
    buckets_.put(key, {options_.spam_burst, now});
    b = buckets_.get(key);
  }
  double elapsed = std::chrono::duration<double>(now - b->last).count();
  if (elapsed > 0) {
    b->tokens = std::min(options_.spam_burst, b->tokens + elapsed * options_.spam_qps);
    b->last = now;
  }
  if (b->tokens < 1) return true;
  b->tokens -= 1;
  return false;
}

void EventCorrelator::update_state(const json& stored) {
  observations_.put(event_key(stored), {stored.value("count", int64_t(1)), stored.value("firstTimestamp", ""),
                                        str(stored, "/metadata/name"), str(stored, "/metadata/resourceVersion")});
}

EventRecorder::EventRecorder(Transport& transport, EventSource source, EventRecorderOptions options)
    : transport_(transport),
      source_(std::move(source)),
      options_(std::move(options)),
      correlator_(options_.clock, options_.correlator),
      events_kind_(*Registry::builtin().by_kind("", "Event")) {
  if (!options_.clock) options_.clock = [] { return SysClock::now(); };
  writer_ = std::thread([this] { run(); });
}

EventRecorder::~EventRecorder() { stop(); }

void EventRecorder::record(const json& object, EventType type, const std::string& reason, const std::string& message,
                           const std::string& field_path) {
  record_reference(object_reference(object, field_path), type, reason, message);
}

void EventRecorder::record_reference(const json& ref, EventType type, const std::string& reason,
                                     const std::string& message) {
  json event = make_event(ref, source_, type, reason, message, options_.clock());
  std::lock_guard lock(mutex_);
  if (stopping_ || queue_.size() >= options_.max_queued) {
    ++stats_.dropped;
    return;
  }
  queue_.push_back(std::move(event));
  cv_.notify_all();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return stopping_ || (queue_.empty() && !writing_); }) && !stopping_;
}

void EventRecorder::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    stats_.dropped += queue_.size();
    queue_.clear();
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

EventRecorder::Stats EventRecorder::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void EventRecorder::report(const std::string& message) {
  if (options_.on_error) options_.on_error(message);
}

void EventRecorder::run() {
  pthread_setname_np(pthread_self(), "event-writer");
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    json event = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    uint64_t dropped = stats_.dropped;
    lock.unlock();
    if (dropped > dropped_reported_) {
      report(std::to_string(dropped - dropped_reported_) + " events dropped: more than " +
             std::to_string(options_.max_queued) + " were waiting to be written");
      dropped_reported_ = dropped;
    }
    write(event);
    lock.lock();
    writing_ = false;
    cv_.notify_all();  // flush() waits for this
  }
}

// Correlates and writes one event, trying again while the server cannot be reached.
void EventRecorder::write(const json& event) {
  EventCorrelator::Result r = correlator_.correlate(event);
  if (r.skip) {
    std::lock_guard lock(mutex_);
    ++stats_.skipped;
    return;
  }
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::string error;
  for (int tries = 1;; ++tries) {
    Outcome outcome = try_write(r, error);
    if (outcome == Outcome::Written) return;
    if (outcome == Outcome::Rejected || tries >= options_.max_tries) break;
    auto delay = options_.retry_delay;
    if (tries == 1) delay = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, delay.count())(rng));
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, delay, [&] { return stopping_; })) break;
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.failed;
  }
  report("cannot write event " + r.event.value("reason", "") + " about " + str(r.event, "/involvedObject/kind") + " " +
         str(r.event, "/involvedObject/namespace") + "/" + str(r.event, "/involvedObject/name") + ": " + error);
}

// One try: a patch of the Event a repeat counts on (a create when that Event is gone), else a create.
EventRecorder::Outcome EventRecorder::try_write(EventCorrelator::Result& r, std::string& error) {
  std::string ns = str(r.event, "/metadata/namespace");
  try {
    json stored;
    bool created = true;
    if (!r.patch.is_null()) {
      try {
        stored = transport_.patch(events_kind_, ns, str(r.event, "/metadata/name"), PatchType::Strategic, r.patch.dump());
        created = false;
      } catch (const StatusError& e) {
        if (e.status().code != 404) throw;
      }
    }
    if (created) {
      json fresh = r.event;
      fresh["metadata"].erase("resourceVersion");
      stored = transport_.create(events_kind_, ns, fresh);
    }
    correlator_.update_state(stored);
    std::lock_guard lock(mutex_);
    ++(created ? stats_.created : stats_.patched);
    return Outcome::Written;
  } catch (const StatusError& e) {
    error = e.what();
    return retriable(e) ? Outcome::Retry : Outcome::Rejected;
  } catch (const std::exception& e) {
    error = e.what();
    return Outcome::Retry;
  }
}

}  // namespace kctl::api
