// kctl-scheduler's core: informers of pending pods, bound pods, nodes and Services feed the cache and the queue;
// one thread takes pods from the queue, filters and scores nodes, assumes the pod on the best one and hands the
// binding (pods/binding) to a pool of workers; pods no node takes get PodScheduled=False and a FailedScheduling
// Event, and wait for the cluster to change.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "api/informer.h"
#include "api/event_recorder.h"
#include "daemons/scheduler/filters.h"
#include "daemons/scheduler/scheduler_cache.h"
#include "daemons/scheduler/scheduling_queue.h"
#include "daemons/scheduler/scores.h"

namespace kctl::scheduler {

// Bindings, status writes and the like waiting for a worker; the scheduling loop waits when this many are queued,
// so a slow apiserver slows scheduling down instead of growing memory.
inline constexpr size_t kMaxQueuedApiCalls = 2000;

struct SchedulerOptions {
  std::string scheduler_name = "default-scheduler";  // pods with another spec.schedulerName are left alone
  size_t api_workers = 8;                             // concurrent bindings and status writes
  SchedulingQueueOptions queue;
  ScoreWeights weights;
};

struct SchedulerStats {
  uint64_t scheduled = 0;  // bindings acknowledged
  uint64_t failed = 0;     // attempts that found no node, and bindings that failed
  uint64_t last_cycle_us = 0;
  size_t pending = 0;        // not bound yet (queued, back-off, unschedulable, binding)
  size_t unschedulable = 0;  // of those, waiting for the cluster to change
  size_t nodes = 0;
};

// N threads running queued API calls, with back-pressure.
class ApiCallPool {
 public:
  ApiCallPool(size_t threads, size_t max_queued);
  ~ApiCallPool();  // waits for the calls in progress; the queued ones are dropped
  void push(std::function<void()> call);  // blocks while max_queued calls wait
 private:
  void run();
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_, space_cv_;
  std::deque<std::function<void()>> calls_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

class Scheduler {
 public:
  Scheduler(api::Transport& transport, SchedulerOptions options);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Every replica keeps its caches warm; only the leader schedules.
  void start_informers();
  bool wait_for_sync(std::chrono::milliseconds timeout);
  void start_scheduling();
  void stop();

  void schedule_now() { queue_.flush_now(); }
  SchedulerStats stats();
  bool scheduling() const { return scheduling_; }

 private:
  void on_pending(const api::ObjectPtr& obj);
  void on_pending_update(const api::ObjectPtr& old_obj, const api::ObjectPtr& new_obj);
  bool responsible(const PodInfo& pod) const;
  void schedule_loop();
  void schedule_one(const std::string& key);
  // With the cache locked: the chosen node, or "" with `diag` saying why none.
  std::string find_node_locked(const PodInfo& pod, Diagnosis& diag);
  void bind(const api::ObjectPtr& obj, const PodInfo& pod, const std::string& node);
  void record_unschedulable(const api::ObjectPtr& obj, const PodInfo& pod, const std::string& message);

  api::Transport& transport_;
  SchedulerOptions options_;
  const api::KindInfo& pods_kind_;
  api::InformerFactory informers_;
  api::Informer* pending_ = nullptr;  // pods with spec.nodeName=""
  SchedulerCache cache_;
  SchedulingQueue queue_;
  api::EventRecorder events_;
  std::unique_ptr<ApiCallPool> calls_;
  std::atomic<bool> scheduling_{false};
  std::atomic<uint64_t> scheduled_{0}, failed_{0}, last_cycle_us_{0};
  size_t next_start_node_ = 0;  // scheduling thread only: where the next search starts (round robin)
  std::mt19937_64 rng_{std::random_device{}()};  // scheduling thread only: ties between best nodes
  std::thread loop_, housekeeping_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
};

}  // namespace kctl::scheduler
