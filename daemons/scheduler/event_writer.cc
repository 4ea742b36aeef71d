// Writing the scheduler's Events: create, or patch the count of one already written.
#include "daemons/scheduler/event_writer.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <pthread.h>

#include "api/leader_election.h"

namespace kctl::scheduler {

using nlohmann::json;

namespace {

// Event messages are cut at 1024 bytes, as kube-scheduler's truncateMessage does.
constexpr size_t kMaxMessageBytes = 1024;

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string truncate(const std::string& msg) {
  if (msg.size() <= kMaxMessageBytes) return msg;
  return msg.substr(0, kMaxMessageBytes - 3) + "...";
}

}  // namespace

EventWriter::EventWriter(api::Transport& transport, std::string component, std::string instance)
    : transport_(transport),
      events_(*api::Registry::builtin().by_resource("", "events")),
      component_(std::move(component)),
      instance_(std::move(instance)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sched-events");
    run();
  });
}

EventWriter::~EventWriter() { stop(); }

void EventWriter::record(const json& object, const std::string& type, const std::string& reason,
                         const std::string& action, const std::string& message) {
  const json& m = object.contains("metadata") ? object["metadata"] : json::object();
  json ref = {{"kind", object.value("kind", "Pod")},
              {"apiVersion", object.value("apiVersion", "v1")},
              {"namespace", m.value("namespace", "")},
              {"name", m.value("name", "")},
              {"uid", m.value("uid", "")},
              {"resourceVersion", m.value("resourceVersion", "")}};
  std::lock_guard lock(mu_);
  if (stopping_ || queue_.size() >= kMaxQueuedEvents) {
    ++stats_.dropped;
    return;
  }
  queue_.push_back({std::move(ref), type, reason, action, truncate(message)});
  cv_.notify_one();
}

bool EventWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !writing_; });
}

void EventWriter::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

EventWriter::Stats EventWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void EventWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    write(p);
    lock.lock();
    writing_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

void EventWriter::write(const Pending& p) {
  std::string ns = p.ref.value("namespace", "");
  if (ns.empty()) ns = "default";
  std::string now = now_rfc3339();
  std::string id = p.ref.value("uid", "") + "\n" + p.reason + "\n" + p.message;
  api::ResourceClient events(transport_, events_, ns);
  try {
    if (auto it = lru_index_.find(id); it != lru_index_.end()) {
      // A repeat: count it on the Event written before, as the recorder's correlator does.
      Written& w = it->second->second;
      lru_.splice(lru_.begin(), lru_, it->second);
      try {
        events.patch(w.name, api::PatchType::Merge, {{"count", w.count + 1}, {"lastTimestamp", now}});
        ++w.count;
        std::lock_guard lock(mu_);
        ++stats_.written;
        return;
      } catch (const api::StatusError& e) {
        if (e.status().code != 404) throw;
        lru_.erase(lru_index_[id]);
        lru_index_.erase(id);  // deleted meanwhile: write a new one
      }
    }
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%llx",
                  (unsigned long long)std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
    std::string name = p.ref.value("name", "") + suffix;
    json ev = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", name}, {"namespace", ns}}},
               {"involvedObject", p.ref},
               {"reason", p.reason},
               {"message", p.message},
               {"source", {{"component", component_}}},
               {"firstTimestamp", now},
               {"lastTimestamp", now},
               {"count", 1},
               {"type", p.type},
               {"eventTime", api::now_micro_time()},
               {"action", p.action},
               {"reportingComponent", component_},
               {"reportingInstance", instance_}};
    events.create(ev);
    lru_.emplace_front(id, Written{ns, name, 1});
    lru_index_[id] = lru_.begin();
    if (lru_.size() > kRememberedEvents) {
      lru_index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    std::lock_guard lock(mu_);
    ++stats_.written;
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    ++stats_.failed;
    stats_.last_error = e.what();
  }
}

}  // namespace kctl::scheduler
