// The scheduling queue's states and the thread that moves pods out of back-off and unschedulable in time.
#include "daemons/scheduler/scheduling_queue.h"

#include <algorithm>

#include <pthread.h>

namespace kctl::scheduler {

namespace {
// How often back-off and unschedulable pods are looked at (kube-scheduler: every 1 s and every 30 s).
constexpr std::chrono::milliseconds kFlushPeriod{200};
}  // namespace

SchedulingQueue::SchedulingQueue(SchedulingQueueOptions options) : options_(options) {
  flusher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sched-flush");
    flush_loop();
  });
}

SchedulingQueue::~SchedulingQueue() { shut_down(); }

SchedulingQueue::Clock::duration SchedulingQueue::backoff(const Entry& e) const {
  auto d = options_.initial_backoff;
  for (int i = 1; i < e.attempts && d < options_.max_backoff; ++i) d *= 2;
  return std::min(d, options_.max_backoff);
}

void SchedulingQueue::activate_locked(const std::string& key, Entry& e) {
  e.state = State::Active;
  e.since = Clock::now();
  active_.push_back(key);
  cv_.notify_one();
}

void SchedulingQueue::to_backoff_or_active_locked(const std::string& key, Entry& e, Clock::time_point now) {
  if (e.attempts > 0 && e.last_attempt + backoff(e) > now) {
    e.state = State::Backoff;
    e.since = now;
  } else {
    activate_locked(key, e);
  }
}

void SchedulingQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) return activate_locked(key, e);
  switch (e.state) {
    case State::Active: return;
    case State::InFlight: e.changed_in_flight = true; return;
    case State::Backoff:
    case State::Unschedulable: return to_backoff_or_active_locked(key, e, Clock::now());
  }
}

void SchedulingQueue::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);  // a stale copy left in active_ is skipped by pop()
}

bool SchedulingQueue::pop(std::string& key) {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return shutting_down_ || !active_.empty(); });
    if (shutting_down_) return false;
    key = std::move(active_.front());
    active_.pop_front();
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.state != State::Active) continue;
    Entry& e = it->second;
    e.state = State::InFlight;
    e.attempts++;
    e.last_attempt = Clock::now();
    e.popped_at_move = move_count_;
    e.changed_in_flight = false;
    return true;
  }
}

void SchedulingQueue::done_unschedulable(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  auto now = Clock::now();
  // The cluster (or the pod) changed while it was being tried: that change was not considered yet.
  if (e.changed_in_flight || e.popped_at_move != move_count_) return to_backoff_or_active_locked(key, e, now);
  e.state = State::Unschedulable;
  e.since = now;
}

void SchedulingQueue::done_error(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  to_backoff_or_active_locked(key, it->second, Clock::now());
}

void SchedulingQueue::done_assumed(const std::string& key) {
  // Stays in flight until the informer shows it bound (remove()) or the binding fails (done_error()).
  (void)key;
}

void SchedulingQueue::move_all_unschedulable() {
  std::lock_guard lock(mu_);
  ++move_count_;
  auto now = Clock::now();
  for (auto& [key, e] : entries_)
    if (e.state == State::Unschedulable) to_backoff_or_active_locked(key, e, now);
}

void SchedulingQueue::flush_now() {
  std::lock_guard lock(mu_);
  ++move_count_;
  for (auto& [key, e] : entries_)
    if (e.state == State::Unschedulable || e.state == State::Backoff) activate_locked(key, e);
}

void SchedulingQueue::shut_down() {
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
  }
  cv_.notify_all();
  flush_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

size_t SchedulingQueue::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

size_t SchedulingQueue::unschedulable_count() const {
  std::lock_guard lock(mu_);
  return size_t(std::count_if(entries_.begin(), entries_.end(),
                              [](const auto& kv) { return kv.second.state == State::Unschedulable; }));
}

void SchedulingQueue::flush_loop() {
  std::unique_lock lock(mu_);
  while (!flush_cv_.wait_for(lock, kFlushPeriod, [&] { return shutting_down_; })) {
    auto now = Clock::now();
    for (auto& [key, e] : entries_) {
      if (e.state == State::Backoff && e.last_attempt + backoff(e) <= now) activate_locked(key, e);
      else if (e.state == State::Unschedulable && e.since + options_.unschedulable_flush <= now)
        to_backoff_or_active_locked(key, e, now);
    }
  }
}

}  // namespace kctl::scheduler
