// The scheduler: informer handlers, the scheduling cycle, binding, and what happens to a pod no node takes.
#include "daemons/scheduler/scheduler.h"

#include <pthread.h>

#include "api/leader_election.h"
#include "daemons/common/daemon.h"

namespace kctl::scheduler {

using nlohmann::json;

namespace {

constexpr std::chrono::seconds kHousekeepingPeriod{10};

api::ListOptions field_selector(const std::string& selector) {
  api::ListOptions o;
  o.field_selector = selector;
  return o;
}

const json* pod_scheduled_condition(const json& pod) {
  const json* conds = pod.contains("status") && pod["status"].is_object() && pod["status"].contains("conditions")
                          ? &pod["status"]["conditions"]
                          : nullptr;
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : *conds)
    if (c.is_object() && c.value("type", "") == "PodScheduled") return &c;
  return nullptr;
}

bool changed_for_scheduling(const json& a, const json& b) {
  // Our own status writes change the pod too; only its spec and labels can change where it fits.
  return a.value("spec", json()) != b.value("spec", json()) ||
         a.value("/metadata/labels"_json_pointer, json()) != b.value("/metadata/labels"_json_pointer, json());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

ApiCallPool::ApiCallPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "sched-api");
      run();
    });
}

ApiCallPool::~ApiCallPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // What has not started is dropped: a pod not bound stays pending and the next leader schedules it.
    calls_.clear();
  }
  cv_.notify_all();
  space_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ApiCallPool::push(std::function<void()> call) {
  std::unique_lock lock(mu_);
  space_cv_.wait(lock, [&] { return stopping_ || calls_.size() < max_queued_; });
  calls_.push_back(std::move(call));
  cv_.notify_one();
}

void ApiCallPool::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !calls_.empty(); });
    if (calls_.empty()) return;
    auto call = std::move(calls_.front());
    calls_.pop_front();
    space_cv_.notify_one();
    lock.unlock();
    call();
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------------------------------------

Scheduler::Scheduler(api::Transport& transport, SchedulerOptions options)
    : transport_(transport),
      options_(std::move(options)),
      pods_kind_(*api::Registry::builtin().by_resource("", "pods")),
      informers_(transport),
      queue_(options_.queue),
      events_(transport, api::EventSource{options_.scheduler_name, ""}) {}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::responsible(const PodInfo& pod) const {
  return pod.scheduler_name == options_.scheduler_name && pod.node_name.empty() && !pod.being_deleted &&
         !pod.terminal && !pod.gated;
}

void Scheduler::on_pending(const api::ObjectPtr& obj) {
  PodInfoPtr pod = parse_pod(*obj);
  if (responsible(*pod)) queue_.add(pod->key);
  else queue_.remove(pod->key);
}

void Scheduler::on_pending_update(const api::ObjectPtr& old_obj, const api::ObjectPtr& new_obj) {
  if (old_obj == new_obj) return;  // resync
  PodInfoPtr pod = parse_pod(*new_obj);
  if (!responsible(*pod)) return queue_.remove(pod->key);
  if (changed_for_scheduling(*old_obj, *new_obj)) queue_.add(pod->key);
}

void Scheduler::start_informers() {
  const auto& registry = api::Registry::builtin();
  pending_ = &informers_.informer(pods_kind_, "", field_selector("spec.nodeName="));
  pending_->add_handler({[this](const api::ObjectPtr& o) { on_pending(o); },
                         [this](const api::ObjectPtr& o, const api::ObjectPtr& n) { on_pending_update(o, n); },
                         [this](const api::ObjectPtr& o) { queue_.remove(api::object_key(*o)); }});
  // What is bound where: only bound pods, so a pending pod is read once (by the informer above).
  auto& bound = informers_.informer(pods_kind_, "", field_selector("spec.nodeName!="));
  auto bound_changed = [this](const api::ObjectPtr& o) {
    if (cache_.update_bound_pod(*o)) queue_.move_all_unschedulable();
  };
  bound.add_handler({bound_changed, [bound_changed](const api::ObjectPtr&, const api::ObjectPtr& n) { bound_changed(n); },
                     [this](const api::ObjectPtr& o) {
                       if (cache_.remove_bound_pod(*o)) queue_.move_all_unschedulable();
                     }});
  auto& nodes = informers_.informer(*registry.by_resource("", "nodes"));
  auto node_changed = [this](const api::ObjectPtr& o) {
    if (cache_.update_node(*o)) queue_.move_all_unschedulable();
  };
  nodes.add_handler({node_changed, [node_changed](const api::ObjectPtr&, const api::ObjectPtr& n) { node_changed(n); },
                     [this](const api::ObjectPtr& o) {
                       cache_.remove_node(o->value("/metadata/name"_json_pointer, std::string()));
                     }});
  auto& services = informers_.informer(*registry.by_resource("", "services"));
  services.add_handler({[this](const api::ObjectPtr& o) { cache_.update_service(*o); },
                        [this](const api::ObjectPtr&, const api::ObjectPtr& n) { cache_.update_service(*n); },
                        [this](const api::ObjectPtr& o) { cache_.remove_service(*o); }});
  informers_.start();
  housekeeping_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sched-housekeep");
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, kHousekeepingPeriod, [&] { return stopping_; })) cache_.expire_assumed();
  });
}

bool Scheduler::wait_for_sync(std::chrono::milliseconds timeout) { return informers_.wait_for_sync(timeout); }

void Scheduler::start_scheduling() {
  if (scheduling_.exchange(true)) return;
  calls_ = std::make_unique<ApiCallPool>(options_.api_workers, kMaxQueuedApiCalls);
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sched-loop");
    schedule_loop();
  });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  queue_.shut_down();
  if (loop_.joinable()) loop_.join();
  calls_.reset();  // waits for the calls in progress, drops the others
  informers_.stop();
  if (housekeeping_.joinable()) housekeeping_.join();
  events_.flush(std::chrono::seconds(2));
  events_.stop();
}

SchedulerStats Scheduler::stats() {
  SchedulerStats s;
  s.scheduled = scheduled_;
  s.failed = failed_;
  s.last_cycle_us = last_cycle_us_;
  s.pending = queue_.size();
  s.unschedulable = queue_.unschedulable_count();
  s.nodes = cache_.node_count();
  return s;
}

void Scheduler::schedule_loop() {
  std::string key;
  while (queue_.pop(key)) {
    try {
      schedule_one(key);
    } catch (const std::exception& e) {
      log(LogLevel::Error, "scheduling " + key + " failed: " + e.what());
      queue_.done_error(key);
    }
  }
}

std::string Scheduler::find_node_locked(const PodInfo& pod, Diagnosis& diag) {
  const auto& all = cache_.nodes_locked();
  diag.num_all_nodes = all.size();
  if (all.empty()) return "";
  // NodeAffinity's PreFilter: a pod bound by matchFields to named nodes (a DaemonSet's) looks at those only.
  const std::vector<const NodeInfo*>* nodes = &all;
  std::vector<const NodeInfo*> named;
  if (auto names = pod.affinity_node_names()) {
    for (const auto& n : *names)
      if (const NodeInfo* ni = cache_.node_locked(n)) named.push_back(ni);
    diag.add_unresolvable(reason::kNodeAffinityPreFilter, int(all.size() - named.size()));
    nodes = &named;
  }
  std::vector<const NodeInfo*> feasible;
  size_t n = nodes->size();
  if (n == 0) return "";
  size_t want = num_feasible_nodes_to_find(n);
  feasible.reserve(std::min(want, n));
  size_t start = next_start_node_ % n, processed = 0;
  for (; processed < n && feasible.size() < want; ++processed) {
    const NodeInfo* node = (*nodes)[(start + processed) % n];
    FilterStatus s = run_filters(pod, *node);
    if (s.ok()) feasible.push_back(node);
    else diag.add(s);
  }
  next_start_node_ = (start + processed) % all.size();
  if (feasible.empty()) return "";
  if (feasible.size() == 1) return feasible[0]->name();
  std::vector<int64_t> scores = score_nodes(pod, feasible, options_.weights);
  // The best score; ties broken at random (reservoir sampling, as selectHost does).
  size_t best = 0, ties = 1;
  for (size_t i = 1; i < scores.size(); ++i) {
    if (scores[i] > scores[best]) {
      best = i;
      ties = 1;
    } else if (scores[i] == scores[best] && std::uniform_int_distribution<size_t>(0, ties++)(rng_) == 0) {
      best = i;
    }
  }
  return feasible[best]->name();
}

void Scheduler::schedule_one(const std::string& key) {
  api::ObjectPtr obj = pending_->get(key);
  PodInfoPtr parsed = obj ? parse_pod(*obj) : nullptr;
  if (!parsed || !responsible(*parsed)) return queue_.remove(key);
  auto t0 = std::chrono::steady_clock::now();
  PodInfo pod = *parsed;
  Diagnosis diag;
  std::string node;
  {
    std::lock_guard lock(cache_.mutex());
    pod.spread_keys = cache_.spread_keys_locked(pod);
    node = find_node_locked(pod, diag);
    if (!node.empty()) cache_.assume_locked(pod, node);
  }
  last_cycle_us_ = uint64_t(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  if (node.empty()) {
    ++failed_;
    std::string message =
        diag.num_all_nodes == 0 ? std::string(reason::kNoNodesAvailable) : fit_error_message(pod, diag);
    queue_.done_unschedulable(key);
    log(LogLevel::Info, "unable to schedule pod " + key + ": " + message, object_fields("Pod", pod.ns, pod.name));
    record_unschedulable(obj, pod, message);
    return;
  }
  queue_.done_assumed(key);
  bind(obj, pod, node);
}

void Scheduler::bind(const api::ObjectPtr& obj, const PodInfo& pod, const std::string& node) {
  calls_->push([this, obj, key = pod.key, ns = pod.ns, name = pod.name, uid = pod.uid, node] {
    try {
      api::ResourceClient(transport_, pods_kind_, ns).bind(name, node, uid);
      cache_.finish_binding(key);
      ++scheduled_;
      events_.record(*obj, api::EventType::Normal, "Scheduled", "Successfully assigned " + key + " to " + node);
    } catch (const std::exception& e) {
      // Its resources go back to the node; other pods waiting for room may fit now.
      cache_.forget(key, uid);
      ++failed_;
      log(LogLevel::Warning, "binding " + key + " to " + node + " failed: " + e.what(),
          object_fields("Pod", ns, name));
      events_.record(*obj, api::EventType::Warning, "FailedScheduling", std::string("binding rejected: ") + e.what());
      queue_.done_error(key);
      queue_.move_all_unschedulable();
    }
  });
}

void Scheduler::record_unschedulable(const api::ObjectPtr& obj, const PodInfo& pod, const std::string& message) {
  events_.record(*obj, api::EventType::Warning, "FailedScheduling", message);
  const json* cond = pod_scheduled_condition(*obj);
  if (cond && cond->value("status", "") == "False" && cond->value("reason", "") == "Unschedulable" &&
      cond->value("message", "") == message)
    return;  // already says so: no write
  bool transition = !cond || cond->value("status", "") != "False";
  json c = {{"type", "PodScheduled"},
            {"status", "False"},
            {"reason", "Unschedulable"},
            {"message", message},
            {"lastProbeTime", nullptr},
            {"lastTransitionTime", transition || !cond->contains("lastTransitionTime")
                                       ? json(api::now_micro_time().substr(0, 19) + "Z")
                                       : (*cond)["lastTransitionTime"]}};
  calls_->push([this, ns = pod.ns, name = pod.name, key = pod.key, c] {
    try {
      api::ResourceClient(transport_, pods_kind_, ns)
          .patch(name, api::PatchType::Strategic, {{"status", {{"conditions", json::array({c})}}}}, "status");
    } catch (const api::StatusError& e) {
      if (e.status().code != 404)
        log(LogLevel::Warning, "cannot set PodScheduled=False on " + key + ": " + e.what(),
            object_fields("Pod", ns, name));
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "cannot set PodScheduled=False on " + key + ": " + e.what(),
          object_fields("Pod", ns, name));
    }
  });
}

}  // namespace kctl::scheduler
