// The work queue of client-go's controllers: de-duplicated keys, one worker per key at a time, per-key exponential
// back-off for failures, a global rate limit, and delayed adds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace kctl::api {

struct WorkQueueOptions {
  // Per-key back-off after failures: base * 2^failures, capped (client-go: 5 ms to 1000 s).
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{1000 * 1000};
  // Global token bucket for rate-limited adds (client-go: 10 per second, burst 100).
  double qps = 10;
  int burst = 100;
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  ~WorkQueue();

  // Queues key unless it is queued already; a key being processed is queued again once done() is called.
  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // add_after with the key's back-off (growing with each call until forget()) or the global limit, whichever is later.
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);  // resets the key's back-off
  int failures(const std::string& key) const;

  // Blocks until a key is ready; false once shut down (and drained of nothing more).
  bool get(std::string& key);
  void done(const std::string& key);
  void shut_down();
  bool shutting_down() const;
  size_t size() const;

 private:
  using Clock = std::chrono::steady_clock;
  void add_locked(const std::string& key);
  void delay_loop();

  WorkQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;     // guarded by mutex_
  std::set<std::string> dirty_;       // queued (or to queue again after processing); guarded by mutex_
  std::set<std::string> processing_;  // guarded by mutex_
  std::multimap<Clock::time_point, std::string> waiting_;  // delayed adds; guarded by mutex_
  std::map<std::string, int> failures_;                    // guarded by mutex_
  double tokens_;                                          // guarded by mutex_
  Clock::time_point last_refill_;                          // guarded by mutex_
  bool shutting_down_ = false;
  std::condition_variable delay_cv_;
  std::thread delay_thread_;
};

}  // namespace kctl::api
