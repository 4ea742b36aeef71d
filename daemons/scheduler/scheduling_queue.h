// The pods waiting for a node (kube-scheduler's PriorityQueue, without priorities): an active FIFO, a back-off
// area for pods that just failed, and an unschedulable area left only when the cluster changes (a node appears or
// changes, a bound pod goes away), when ScheduleNow() is called, or after kUnschedulableFlushInterval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace kctl::scheduler {

// kube-scheduler's defaults: back-off from 1 s doubling to 10 s per failed attempt; an unschedulable pod is tried
// again after 5 minutes even when nothing changed (podMaxInUnschedulablePodsDuration).
inline constexpr std::chrono::milliseconds kInitialBackoff{1000};
inline constexpr std::chrono::milliseconds kMaxBackoff{10000};
inline constexpr std::chrono::milliseconds kUnschedulableFlushInterval{5 * 60 * 1000};

struct SchedulingQueueOptions {
  std::chrono::milliseconds initial_backoff = kInitialBackoff;
  std::chrono::milliseconds max_backoff = kMaxBackoff;
  std::chrono::milliseconds unschedulable_flush = kUnschedulableFlushInterval;
};

class SchedulingQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SchedulingQueue(SchedulingQueueOptions options = {});
  ~SchedulingQueue();  // shut_down()

  // A pending pod was added or changed (in a way that may change where it fits): it is tried (again) soon.
  void add(const std::string& key);
  // The pod is bound or deleted: it is no longer ours to schedule.
  void remove(const std::string& key);
  // Blocks for the next pod to try; false once shut down.
  bool pop(std::string& key);
  // The outcome of the attempt that pop() started.
  void done_unschedulable(const std::string& key);  // waits for a cluster change (or back-off if one came meanwhile)
  void done_error(const std::string& key);          // tried again after its back-off
  void done_assumed(const std::string& key);        // its binding is in flight; remove() or done_error() follow
  // Something changed that may make unschedulable pods fit: they move to back-off (or straight to active).
  void move_all_unschedulable();
  // Everything waiting (back-off and unschedulable) becomes active now.
  void flush_now();
  void shut_down();

  // Pods not bound yet: active, back-off, unschedulable and in flight.
  size_t size() const;
  size_t unschedulable_count() const;

 private:
  enum class State { Active, Backoff, Unschedulable, InFlight };
  struct Entry {
    State state = State::Active;
    int attempts = 0;
    Clock::time_point last_attempt{};
    Clock::time_point since{};  // entered its current state
    uint64_t popped_at_move = 0;
    bool changed_in_flight = false;  // updated while in flight: try again even if this attempt failed
  };
  Clock::duration backoff(const Entry& e) const;
  void activate_locked(const std::string& key, Entry& e);
  void to_backoff_or_active_locked(const std::string& key, Entry& e, Clock::time_point now);
  void flush_loop();

  SchedulingQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_, flush_cv_;
  std::deque<std::string> active_;                  // guarded by mu_; may hold keys no longer active (skipped)
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  uint64_t move_count_ = 0;                         // guarded by mu_
  bool shutting_down_ = false;                      // guarded by mu_
  std::thread flusher_;
};

}  // namespace kctl::scheduler
