// EventCorrelator and EventRecorder against a fake clock and a fake transport: a repeat counted on the first Event
// (a patch), a different message making a new Event, similar events aggregated, the per-object rate limit (burst,
// refill), the LRU bound, and the recorder's queue (never blocking, dropping when full, retrying without a server).
#include "api/event_recorder.h"

#include <atomic>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "api/patch.h"

using namespace kctl::api;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const json kPod = {{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", {{"name", "web"}, {"namespace", "team"}, {"uid", "u-1"}, {"resourceVersion", "7"}}}};
const EventSource kKubelet{"kubelet", "node-1"};

struct FakeClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::from_time_t(1700000000);
  EventCorrelator::Clock fn() {
    return [this] { return now; };
  }
};

json event(const std::string& reason, const std::string& message, std::chrono::system_clock::time_point when,
           const std::string& field_path = "spec.containers{main}") {
  return make_event(object_reference(kPod, field_path), kKubelet, EventType::Normal, reason, message, when);
}

TEST(EventRecorder, MakesEventsAsClientGoDoes) {
  FakeClock clock;
  json e = event("Started", "Started container main", clock.now);
  EXPECT_EQ(e["metadata"]["namespace"], "team");
  // <name>.<UnixNano in hex>
  EXPECT_EQ(e["metadata"]["name"], "web.17979cfe362a0000") << e.dump();
  EXPECT_EQ(e["involvedObject"], (json{{"kind", "Pod"}, {"namespace", "team"}, {"name", "web"}, {"uid", "u-1"},
                                       {"apiVersion", "v1"}, {"resourceVersion", "7"},
                                       {"fieldPath", "spec.containers{main}"}}));
  EXPECT_EQ(e["source"], (json{{"component", "kubelet"}, {"host", "node-1"}}));
  EXPECT_EQ(e["reportingComponent"], "kubelet");
  EXPECT_EQ(e["reportingInstance"], "node-1");
  EXPECT_EQ(e["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["lastTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(e["type"], "Normal");

  // A cluster-scoped object's events go to "default".
  json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "node-1"}, {"uid", "n"}}}};
  json ne = make_event(object_reference(node), {"kubelet", ""}, EventType::Warning, "R", "m", clock.now);
  EXPECT_EQ(ne["metadata"]["namespace"], "default");
  EXPECT_FALSE(ne["involvedObject"].contains("namespace"));
  EXPECT_FALSE(ne["source"].contains("host"));
}

TEST(EventCorrelator, SameEventTwiceIsOneEventWithCountTwo) {
  FakeClock clock;
  EventCorrelator c(clock.fn());
  auto first = c.correlate(event("Pulled", "image present", clock.now));
  EXPECT_FALSE(first.skip);
  EXPECT_TRUE(first.patch.is_null());
  json stored = first.event;
  stored["metadata"]["resourceVersion"] = "42";
  c.update_state(stored);

  clock.now += 30s;
  auto second = c.correlate(event("Pulled", "image present", clock.now));
  EXPECT_FALSE(second.skip);
  EXPECT_EQ(second.event["metadata"]["name"], first.event["metadata"]["name"]);
  EXPECT_EQ(second.event["count"], 2);
  EXPECT_EQ(second.event["firstTimestamp"], first.event["firstTimestamp"]);
  EXPECT_EQ(second.patch, (json{{"count", 2}, {"lastTimestamp", "2023-11-14T22:13:50Z"}, {"message", "image present"}}));

  clock.now += 30s;
  auto third = c.correlate(event("Pulled", "image present", clock.now));
  EXPECT_EQ(third.patch["count"], 3);
}

TEST(EventCorrelator, DifferentMessageOrPartIsAnotherEvent) {
  FakeClock clock;
  EventCorrelator c(clock.fn());
  auto a = c.correlate(event("Unhealthy", "Liveness probe failed: a", clock.now));
  clock.now += 1s;
  auto b = c.correlate(event("Unhealthy", "Liveness probe failed: b", clock.now));
  clock.now += 1s;
  auto other_container = c.correlate(event("Unhealthy", "Liveness probe failed: a", clock.now, "spec.containers{side}"));
  EXPECT_TRUE(b.patch.is_null());
  EXPECT_TRUE(other_container.patch.is_null());
  EXPECT_NE(a.event["metadata"]["name"], b.event["metadata"]["name"]);
  EXPECT_NE(a.event["metadata"]["name"], other_container.event["metadata"]["name"]);
}

TEST(EventCorrelator, SimilarEventsAreAggregated) {
  FakeClock clock;
  EventCorrelator c(clock.fn());
  for (int i = 0; i < 9; ++i) {
    auto r = c.correlate(event("Unhealthy", "failed " + std::to_string(i), clock.now));
    EXPECT_EQ(r.event["message"], "failed " + std::to_string(i));
    clock.now += 1s;
  }
  // The 10th message within 10 minutes: one combined Event from now on, counting up.
  auto tenth = c.correlate(event("Unhealthy", "failed 9", clock.now));
  EXPECT_EQ(tenth.event["message"], "(combined from similar events): failed 9");
  EXPECT_TRUE(tenth.patch.is_null());
  clock.now += 1s;
  auto eleventh = c.correlate(event("Unhealthy", "failed 10", clock.now));
  EXPECT_EQ(eleventh.event["metadata"]["name"], tenth.event["metadata"]["name"]);
  EXPECT_EQ(eleventh.patch["count"], 2);
  EXPECT_EQ(eleventh.patch["message"], "(combined from similar events): failed 10");

  // Quiet for longer than the interval: messages stand alone again.
  clock.now += kEventAggregateInterval + 1s;
  auto later = c.correlate(event("Unhealthy", "failed 11", clock.now));
  EXPECT_EQ(later.event["message"], "failed 11");
}

TEST(EventCorrelator, BurstExhaustionDropsUntilRefill) {
  FakeClock clock;
  EventCorrelator c(clock.fn());
  // 25 events about one object pass (repeats count too), the 26th does not.
  for (int i = 0; i < 25; ++i) EXPECT_FALSE(c.correlate(event("BackOff", "back-off", clock.now)).skip) << i;
  auto over = c.correlate(event("BackOff", "back-off", clock.now));
  EXPECT_TRUE(over.skip);
  EXPECT_TRUE(c.correlate(event("Started", "other reason, same object", clock.now)).skip);
  // Another object of the same source has its own bucket.
  json other = kPod;
  other["metadata"]["name"] = "api";
  other["metadata"]["uid"] = "u-2";
  EXPECT_FALSE(c.correlate(make_event(object_reference(other), kKubelet, EventType::Normal, "BackOff", "x", clock.now)).skip);
  // One token every 5 minutes; the skipped repeats were still counted.
  clock.now += 299s;
  EXPECT_TRUE(c.correlate(event("BackOff", "back-off", clock.now)).skip);
  clock.now += 2s;
  auto refilled = c.correlate(event("BackOff", "back-off", clock.now));
  EXPECT_FALSE(refilled.skip);
  EXPECT_EQ(refilled.patch["count"], 28);
}

TEST(EventCorrelator, CacheIsBounded) {
  FakeClock clock;
  EventCorrelatorOptions options;
  options.cache_entries = 2;
  EventCorrelator c(clock.fn(), options);
  c.correlate(event("A", "a", clock.now));
  c.correlate(event("B", "b", clock.now));
  EXPECT_FALSE(c.correlate(event("A", "a", clock.now)).patch.is_null());  // remembered, and now the newest
  c.correlate(event("C", "c", clock.now));                                 // B is forgotten
  EXPECT_TRUE(c.correlate(event("B", "b", clock.now)).patch.is_null());
}

// Events kept in memory; create and strategic merge patch as the apiserver does them for these flat fields.
class FakeTransport : public Transport {
 public:
  json get(const KindInfo&, const std::string&, const std::string&, const std::string&) override { return nullptr; }
  ObjectList list(const KindInfo&, const std::string&, const ListOptions&) override { return {}; }
  json create(const KindInfo& kind, const std::string& ns, const json& obj, const std::string&,
              const std::string&) override {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !blocked; });
    if (unavailable > 0) {
      --unavailable;
      throw StatusError(Status::service_unavailable("no server"));
    }
    EXPECT_EQ(kind.kind, "Event");
    EXPECT_EQ(ns, obj["metadata"]["namespace"]);
    EXPECT_FALSE(obj["metadata"].contains("resourceVersion"));
    std::string key = ns + "/" + obj["metadata"]["name"].get<std::string>();
    if (events.count(key)) throw StatusError(Status::already_exists("events", key));
    json stored = obj;
    stored["metadata"]["resourceVersion"] = std::to_string(++revision);
    events[key] = stored;
    ++creates;
    return stored;
  }
  json update(const KindInfo&, const std::string&, const std::string&, const json&, const std::string&) override {
    return nullptr;
  }
  json patch(const KindInfo&, const std::string& ns, const std::string& name, PatchType type, const std::string& patch,
             const std::string&) override {
    std::lock_guard lock(mu);
    EXPECT_EQ(type, PatchType::Strategic);
    auto it = events.find(ns + "/" + name);
    if (it == events.end()) throw StatusError(Status::not_found("events", name));
    it->second = merge_patch(it->second, json::parse(patch));
    it->second["metadata"]["resourceVersion"] = std::to_string(++revision);
    ++patches;
    return it->second;
  }
  json remove(const KindInfo&, const std::string&, const std::string&, const json&) override { return nullptr; }
  WatchStreamPtr watch(const KindInfo&, const std::string&, const ListOptions&) override { return nullptr; }
  json version() override { return json::object(); }
  std::string endpoint() const override { return "fake:"; }

  void block(bool b) {
    std::lock_guard lock(mu);
    blocked = b;
    cv.notify_all();
  }
  std::vector<json> stored() {
    std::lock_guard lock(mu);
    std::vector<json> out;
    for (const auto& [k, v] : events) out.push_back(v);
    return out;
  }

  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  int unavailable = 0;
  std::map<std::string, json> events;
  int revision = 0, creates = 0, patches = 0;
};

TEST(EventRecorder, RepeatPatchesTheEventItCountsOn) {
  FakeTransport t;
  EventRecorder r(t, kKubelet);
  r.record(kPod, EventType::Normal, "Pulled", "Container image \"busybox\" already present on machine",
           "spec.containers{main}");
  ASSERT_TRUE(r.flush(5s));
  r.record(kPod, EventType::Normal, "Pulled", "Container image \"busybox\" already present on machine",
           "spec.containers{main}");
  r.record(kPod, EventType::Warning, "BackOff", "Back-off restarting failed container main", "spec.containers{main}");
  ASSERT_TRUE(r.flush(5s));
  auto events = t.stored();
  ASSERT_EQ(events.size(), 2u);
  std::map<std::string, json> by_reason;
  for (const auto& e : events) by_reason[e["reason"]] = e;
  EXPECT_EQ(by_reason["Pulled"]["count"], 2);
  EXPECT_EQ(by_reason["BackOff"]["count"], 1);
  EXPECT_EQ(by_reason["BackOff"]["type"], "Warning");
  auto s = r.stats();
  EXPECT_EQ(s.created, 2u);
  EXPECT_EQ(s.patched, 1u);
  EXPECT_EQ(s.dropped + s.failed + s.skipped, 0u);
}

TEST(EventRecorder, RecreatesAnEventDeletedMeanwhile) {
  FakeTransport t;
  EventRecorder r(t, kKubelet);
  r.record(kPod, EventType::Normal, "Started", "Started container main");
  ASSERT_TRUE(r.flush(5s));
  {
    std::lock_guard lock(t.mu);
    t.events.clear();  // the apiserver's event TTL
  }
  r.record(kPod, EventType::Normal, "Started", "Started container main");
  ASSERT_TRUE(r.flush(5s));
  auto events = t.stored();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["count"], 2);
  EXPECT_EQ(t.creates, 2);
}

TEST(EventRecorder, NeverBlocksAndDropsWhenTheQueueIsFull) {
  FakeTransport t;
  t.block(true);  // a server that does not answer
  EventRecorderOptions options;
  options.max_queued = 3;
  std::atomic<int> reports{0};
  options.on_error = [&](const std::string&) { ++reports; };
  EventRecorder r(t, kKubelet, options);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) r.record(kPod, EventType::Normal, "R", "message " + std::to_string(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_FALSE(r.flush(100ms));
  // One in the writer's hands, three queued, the rest dropped.
  EXPECT_GE(r.stats().dropped, 6u);
  t.block(false);
  ASSERT_TRUE(r.flush(5s));
  EXPECT_EQ(r.stats().created + r.stats().dropped, 10u);
  r.record(kPod, EventType::Normal, "R", "after");
  ASSERT_TRUE(r.flush(5s));
  EXPECT_GE(reports.load(), 1);  // the drops were reported
}

TEST(EventRecorder, RetriesWhileNoServerAnswersThenGivesUp) {
  FakeTransport t;
  t.unavailable = 2;
  EventRecorderOptions options;
  options.retry_delay = 10ms;
  options.max_tries = 3;
  std::vector<std::string> errors;
  std::mutex mu;
  options.on_error = [&](const std::string& m) {
    std::lock_guard lock(mu);
    errors.push_back(m);
  };
  EventRecorder r(t, kKubelet, options);
  r.record(kPod, EventType::Normal, "Started", "Started container main");
  ASSERT_TRUE(r.flush(5s));
  EXPECT_EQ(r.stats().created, 1u);  // the third try
  t.unavailable = 5;
  r.record(kPod, EventType::Normal, "Killing", "Stopping container main");
  ASSERT_TRUE(r.flush(5s));
  EXPECT_EQ(r.stats().failed, 1u);
  std::lock_guard lock(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("Killing"), std::string::npos) << errors[0];
}

TEST(EventRecorder, StopDropsWhatIsQueued) {
  FakeTransport t;
  t.block(true);
  auto r = std::make_unique<EventRecorder>(t, kKubelet);
  for (int i = 0; i < 5; ++i) r->record(kPod, EventType::Normal, "R", std::to_string(i));
  std::thread unblock([&] {
    std::this_thread::sleep_for(100ms);
    t.block(false);
  });
  r->stop();  // waits only for the write in progress
  unblock.join();
  EXPECT_GE(r->stats().dropped, 4u);
  r->record(kPod, EventType::Normal, "R", "late");
  EXPECT_GE(r->stats().dropped, 5u);
}

}  // namespace
