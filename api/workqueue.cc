// WorkQueue: the dirty/processing sets that make a key's handling exclusive and de-duplicated, the delay thread,
// and the two rate limiters (per-key exponential, global token bucket) combined as client-go combines them (max).
#include "api/workqueue.h"

#include <cmath>

namespace kctl::api {

WorkQueue::WorkQueue(WorkQueueOptions options)
    : options_(options), tokens_(options.burst), last_refill_(Clock::now()) {
  delay_thread_ = std::thread([this] { delay_loop(); });
}

WorkQueue::~WorkQueue() {
  shut_down();
  delay_thread_.join();
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // done() will queue it again
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  if (shutting_down_) return;
  if (delay.count() <= 0) {
    add_locked(key);
    return;
  }
  waiting_.emplace(Clock::now() + delay, key);
  delay_cv_.notify_one();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mutex_);
    int n = failures_[key]++;
    double exp = double(options_.base_delay.count()) * std::pow(2.0, n);
    auto per_key = std::chrono::milliseconds(int64_t(std::min(exp, double(options_.max_delay.count()))));
    // Token bucket: a token now, or wait until the next one is due.
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    tokens_ = std::min(double(options_.burst), tokens_ + elapsed * options_.qps);
    last_refill_ = now;
    std::chrono::milliseconds bucket{0};
    tokens_ -= 1;
    if (tokens_ < 0) bucket = std::chrono::milliseconds(int64_t(std::ceil(-tokens_ / options_.qps * 1000)));
    delay = std::max(per_key, bucket);
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

bool WorkQueue::get(std::string& key) {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return false;
  key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return true;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mutex_);
  shutting_down_ = true;
  cv_.notify_all();
  delay_cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mutex_);
  return shutting_down_;
}

size_t WorkQueue::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkQueue::delay_loop() {
  std::unique_lock lock(mutex_);
  while (!shutting_down_) {
    if (waiting_.empty()) {
      delay_cv_.wait(lock);
      continue;
    }
    auto first = waiting_.begin()->first;
    if (Clock::now() < first) {
      delay_cv_.wait_until(lock, first);
      continue;
    }
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    add_locked(key);
  }
}

}  // namespace kctl::api
