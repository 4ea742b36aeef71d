// Prober and its ProbeWorkers. A worker follows Kubernetes' prober worker: results start at readiness Failure,
// liveness Success and startup Unknown for each new container instance; the startup probe gates the other two; a
// result only changes after successThreshold (failureThreshold) equal outcomes in a row; a liveness or startup
// failure puts the worker on hold until the kubelet has started a new instance.
#include "daemons/kubelet/prober.h"

#include <array>
#include <cctype>
#include <condition_variable>
#include <ctime>
#include <thread>

#include <pthread.h>

#include "daemons/common/daemon.h"

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace kctl::kubelet {

namespace {

// When the instance started, on the steady clock: the initial delay counts from the container's start, also for a
// container a restarted kubelet re-adopts. Now when the runtime does not say.
Clock::time_point instance_start(const ContainerRuntime& runtime, const std::string& id) {
  std::string s = runtime.state(id).started_at;  // RFC 3339 with nanoseconds
  std::tm tm{};
  const char* rest = s.empty() ? nullptr : strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return Clock::now();
  auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (*rest == '.') {  // the fraction, to the microsecond
    int64_t us = 0, digits = 0;
    for (const char* p = rest + 1; std::isdigit(static_cast<unsigned char>(*p)) && digits < 6; ++p, ++digits)
      us = us * 10 + (*p - '0');
    for (; digits < 6; ++digits) us *= 10;
    when += std::chrono::microseconds(us);
  }
  auto ago = std::chrono::system_clock::now() - when;
  return Clock::now() - std::chrono::duration_cast<Clock::duration>(std::max(ago, decltype(ago)::zero()));
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(c));
  return s;
}

}  // namespace

class ProbeWorker {
 public:
  struct Seed {  // what the pod's status said about an instance before a kubelet restart
    std::string container_id;
    bool started = false, ready = false;
  };

  ProbeWorker(const ContainerRuntime& runtime, Prober::Wake wake, Prober::Unhealthy unhealthy, const ProbedPod& pod,
              const std::string& name, std::array<std::optional<ProbeSpec>, 3> specs, Seed seed)
      : runtime_(runtime), wake_(std::move(wake)), unhealthy_(std::move(unhealthy)), pod_key_(pod.key),
        pod_uid_(pod.uid), hostname_(pod.hostname), name_(name), seed_(std::move(seed)) {
    for (ProbeType t : kProbeTypes) track(t).spec = std::move(specs[size_t(t)]);
    thread_ = std::thread([this] { loop(); });
  }
  ~ProbeWorker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();  // at most one probe's timeout
  }

  // The instance to probe from now on, and where the pod is. A new instance starts from its initial results here,
  // not in the worker's thread, so that the status the kubelet reports right after this call is already about it.
  void point_at(const std::string& container_id, const std::string& pod_ip) {
    {
      std::lock_guard lock(mutex_);
      pod_ip_ = pod_ip;
      if (container_id == probed_id_) return;
    }
    Clock::time_point start = instance_start(runtime_, container_id);
    std::lock_guard lock(mutex_);
    begin_instance(container_id, start);
    cv_.notify_all();
  }

  ProbeStatus status(const std::string& container_id) const {
    std::lock_guard lock(mutex_);
    ProbeStatus s;
    bool probed = container_id == probed_id_;
    s.started = probed ? started_ : !track(ProbeType::Startup).spec;
    const Track& r = track(ProbeType::Readiness);
    s.ready = s.started && (!r.spec || (probed && r.result == true));
    if (probed) {
      s.kill_message = kill_message_;
      s.kill_grace_seconds = kill_grace_;
    }
    return s;
  }

 private:
  struct Track {
    std::optional<ProbeSpec> spec;
    std::optional<bool> result;  // after the thresholds; nullopt: unknown
    bool last = false;           // the last outcome, and how many equal ones in a row
    int run = 0;
    std::string last_failure, last_error;  // so that the journal gets a repeated message once
    Clock::time_point next;                // when it runs next
  };
  Track& track(ProbeType t) { return tracks_[size_t(t)]; }
  const Track& track(ProbeType t) const { return tracks_[size_t(t)]; }

  void loop();
  void begin_instance(const std::string& id, Clock::time_point start);
  std::optional<ProbeType> due(Clock::time_point now, Clock::time_point& wake_at) const;
  std::optional<ProbeOutcome> probe(const std::string& id, const ProbeSpec& spec, ProbeContext ctx) const;
  bool record(ProbeType t, const ProbeOutcome& outcome, std::string& unhealthy);
  void log_probe(LogLevel level, const std::string& message) const;

  const ContainerRuntime& runtime_;
  const Prober::Wake wake_;
  const Prober::Unhealthy unhealthy_;
  const std::string pod_key_, pod_uid_, hostname_, name_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  // Guarded by mutex_:
  std::string pod_ip_;
  std::string probed_id_;  // the instance that runs now, which the results below are about
  std::array<Track, 3> tracks_;  // by ProbeType
  bool started_ = false;
  bool on_hold_ = true;  // no instance yet, or it failed for good (or stopped running): nothing to probe on it
  std::string kill_message_;
  std::optional<int64_t> kill_grace_;
  Seed seed_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once everything above is initialized
};

void ProbeWorker::loop() {
  std::string thread_name = ("probe-" + name_).substr(0, 15);  // the kernel keeps 15 characters
  pthread_setname_np(pthread_self(), thread_name.c_str());
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    Clock::time_point now = Clock::now(), wake_at = Clock::time_point::max();
    std::optional<ProbeType> type = due(now, wake_at);
    if (!type) {
      // Nothing is due before wake_at; point_at() and the destructor notify.
      if (wake_at == Clock::time_point::max()) cv_.wait(lock);
      else cv_.wait_until(lock, wake_at);
      continue;
    }
    std::string id = probed_id_;
    ProbeSpec spec = *track(*type).spec;
    ProbeContext ctx{pod_ip_, hostname_, {}};
    lock.unlock();
    std::optional<ProbeOutcome> outcome = probe(id, spec, ctx);
    lock.lock();
    if (probed_id_ != id) continue;
    track(*type).next = now + spec.period;  // periods count from one start to the next, as a ticker does
    if (!outcome) {
      on_hold_ = true;  // the instance no longer runs, and never will again: the next one gets a new id
      continue;
    }
    if (outcome->result == ProbeOutcome::Result::Error) {
      // Not run at all: thrown away, as Kubernetes does, rather than counted as a failure that could kill.
      Track& tr = track(*type);
      if (outcome->message != tr.last_error)
        log_probe(LogLevel::Warning, std::string(probe_type_name(*type)) + " probe errored: " + outcome->message);
      tr.last_error = outcome->message;
      continue;
    }
    std::string unhealthy;
    bool changed = record(*type, *outcome, unhealthy);
    if (changed || !unhealthy.empty()) {
      lock.unlock();
      if (!unhealthy.empty() && unhealthy_) unhealthy_(pod_key_, pod_uid_, name_, unhealthy);
      if (changed) wake_(pod_key_);
      lock.lock();
    }
  }
}

void ProbeWorker::begin_instance(const std::string& id, Clock::time_point start) {
  probed_id_ = id;
  on_hold_ = id.empty();
  kill_message_.clear();
  kill_grace_.reset();
  started_ = !track(ProbeType::Startup).spec;
  for (ProbeType t : kProbeTypes) {
    Track& tr = track(t);
    tr.result = t == ProbeType::Liveness ? std::optional<bool>(true)
                : t == ProbeType::Readiness ? std::optional<bool>(false)
                                            : std::nullopt;
    tr.run = 0;
    if (tr.spec) tr.next = start + tr.spec->initial_delay;
  }
  if (!id.empty() && id == seed_.container_id) {
    // Re-adopted after a kubelet restart: carry on from what was reported instead of flapping to unready.
    if (seed_.started) {
      started_ = true;
      track(ProbeType::Startup).result = true;
    }
    Track& r = track(ProbeType::Readiness);
    if (seed_.ready && started_ && r.spec) {
      r.result = r.last = true;
      r.run = r.spec->success_threshold;
    }
  }
}

// The probe to run now, if any; else when the next one is due (max when none is).
std::optional<ProbeType> ProbeWorker::due(Clock::time_point now, Clock::time_point& wake_at) const {
  if (on_hold_) return std::nullopt;
  for (ProbeType t : kProbeTypes) {
    const Track& tr = track(t);
    // The startup probe runs until it succeeds; the others only from then on.
    if (!tr.spec || (t == ProbeType::Startup) == started_) continue;
    if (tr.next <= now) return t;
    wake_at = std::min(wake_at, tr.next);
  }
  return std::nullopt;
}

// One run against the instance; nullopt when it does not run (any more).
std::optional<ProbeOutcome> ProbeWorker::probe(const std::string& id, const ProbeSpec& spec, ProbeContext ctx) const {
  if (runtime_.state(id).phase != ContainerState::Phase::Running) return std::nullopt;
  if (spec.handler == ProbeSpec::Handler::Exec) ctx.exec = runtime_.exec_target(id);
  return run_probe(spec, ctx);
}

// Counts the outcome; true when the result changed. A failure is also an Unhealthy event, as in Kubernetes.
bool ProbeWorker::record(ProbeType t, const ProbeOutcome& outcome, std::string& unhealthy) {
  Track& tr = track(t);
  const std::string type = probe_type_name(t);
  tr.last_error.clear();
  bool streak = tr.run > 0 && tr.last == outcome.success();
  tr.run = streak ? std::min(tr.run + 1, std::max(tr.spec->success_threshold, tr.spec->failure_threshold)) : 1;
  tr.last = outcome.success();
  // Every failure is an Unhealthy event (the recorder counts repeats on one Event); the journal gets each failure
  // that starts a streak or says something new (and every change of the result below), not one line per period.
  if (!outcome.success()) unhealthy = type + " probe failed: " + outcome.message;
  if (!outcome.success() && (!streak || outcome.message != tr.last_failure))
    log_probe(LogLevel::Info, type + " probe failed: " + outcome.message);
  if (!outcome.success()) tr.last_failure = outcome.message;
  int needed = outcome.success() ? tr.spec->success_threshold : tr.spec->failure_threshold;
  if (tr.run < needed || tr.result == outcome.success()) return false;
  tr.result = outcome.success();
  if (t == ProbeType::Startup && outcome.success()) started_ = true;
  if (t != ProbeType::Readiness && !outcome.success()) {
    // Kubernetes stops probing an instance it is about to kill (probing a stopping container can go wrong).
    on_hold_ = true;
    kill_message_ = "Container " + name_ + " failed " + lower(type) + " probe";
    kill_grace_ = tr.spec->termination_grace_seconds;
    log_probe(LogLevel::Warning, kill_message_ + " " + std::to_string(tr.spec->failure_threshold) +
                                     " times in a row: " + outcome.message);
  } else if (t == ProbeType::Readiness) {
    log_probe(LogLevel::Info, "container " + name_ + (outcome.success() ? " is ready" : " is not ready: " + outcome.message));
  }
  return true;
}

void ProbeWorker::log_probe(LogLevel level, const std::string& message) const {
  auto slash = pod_key_.find('/');
  log(level, message, object_fields("Pod", pod_key_.substr(0, slash), pod_key_.substr(slash + 1)));
}

Prober::Prober(const ContainerRuntime& runtime, Wake wake, Unhealthy unhealthy)
    : runtime_(runtime), wake_(std::move(wake)), unhealthy_(std::move(unhealthy)) {}

Prober::~Prober() { stop(); }

void Prober::update_pod(const ProbedPod& pod) {
  for (const auto& c : pod.containers) {
    std::array<std::optional<ProbeSpec>, 3> specs;
    for (ProbeType t : kProbeTypes) specs[size_t(t)] = parse_probe(c.spec, t);
    if (!specs[0] && !specs[1] && !specs[2]) continue;
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    auto& worker = workers_[pod.uid][c.name];
    if (!worker) {
      ProbeWorker::Seed seed;
      for (const auto& cs : pod.reported_statuses)
        if (cs.is_object() && cs.value("name", "") == c.name && cs.value("containerID", "").rfind("nspawn://", 0) == 0)
          seed = {cs.value("containerID", "").substr(9), cs.value("started", false), cs.value("ready", false)};
      worker = std::make_unique<ProbeWorker>(runtime_, wake_, unhealthy_, pod, c.name, std::move(specs), seed);
    }
    worker->point_at(c.container_id, pod.ip);
  }
}

void Prober::remove_pod(const std::string& uid) {
  std::map<std::string, std::unique_ptr<ProbeWorker>> gone;
  {
    std::lock_guard lock(mutex_);
    auto it = workers_.find(uid);
    if (it == workers_.end()) return;
    gone = std::move(it->second);
    workers_.erase(it);
  }
  gone.clear();  // joins the workers, outside the lock: one may be in the middle of a probe
}

void Prober::stop() {
  std::map<std::string, std::map<std::string, std::unique_ptr<ProbeWorker>>> gone;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    gone.swap(workers_);
  }
  gone.clear();
}

ProbeStatus Prober::status(const std::string& uid, const std::string& container, const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto pod = workers_.find(uid);
  if (pod == workers_.end()) return {};
  auto w = pod->second.find(container);
  return w == pod->second.end() ? ProbeStatus{} : w->second->status(id);
}

}  // namespace kctl::kubelet
