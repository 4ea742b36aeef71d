// LeaderElector: acquire or renew the Lease with compare-and-swap writes, lead until a renewal misses its deadline,
// release on a clean stop.
#include "api/leader_election.h"

#include <ctime>
#include <sys/time.h>

namespace kctl::api {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string now_micro_time() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  std::tm tm{};
  gmtime_r(&tv.tv_sec, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", long(tv.tv_usec));
  return buf;
}

LeaderElector::LeaderElector(Transport& transport, LeaderElectionConfig config)
    : transport_(transport), config_(std::move(config)), leases_(Registry::builtin().by_kind("coordination.k8s.io", "Lease")) {}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mutex_);
  return observed_holder_;
}

bool LeaderElector::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, d, [&] { return stopped_.load(); });
  return !stopped_;
}

void LeaderElector::stop(bool release) {
  {
    std::lock_guard lock(mutex_);
    release_on_stop_ = release;
    stopped_ = true;
  }
  cv_.notify_all();
}

bool LeaderElector::try_acquire_or_renew() {
  ResourceClient leases(transport_, *leases_, config_.lease_namespace);
  std::string now = now_micro_time();
  int duration_s = int(std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
  json lease;
  try {
    lease = leases.get(config_.lease_name);
  } catch (const StatusError& e) {
    if (e.status().code != 404) {
      report(e.status().message);
      return false;
    }
    json fresh = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", duration_s},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    try {
      leases.create(fresh);
    } catch (const StatusError&) {
      return false;  // someone else created it first
    }
    std::lock_guard lock(mutex_);
    observed_holder_ = config_.identity;
    observed_renew_ = now;
    observed_at_ = Clock::now();
    return true;
  }
  json spec = lease.value("spec", json::object());
  std::string holder = spec.value("holderIdentity", "");
  std::string renew = spec.value("renewTime", "");
  {
    std::lock_guard lock(mutex_);
    if (holder != observed_holder_ || renew != observed_renew_) {
      observed_holder_ = holder;
      observed_renew_ = renew;
      observed_at_ = Clock::now();
    }
    bool expired = Clock::now() > observed_at_ + config_.lease_duration;
    if (!holder.empty() && holder != config_.identity && !expired) return false;
  }
  json& s = lease["spec"];
  if (holder != config_.identity) {
    s["acquireTime"] = now;
    s["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  s["holderIdentity"] = config_.identity;
  s["leaseDurationSeconds"] = duration_s;
  s["renewTime"] = now;
  try {
    leases.update(lease);  // carries the resourceVersion we read: a concurrent writer makes this a 409
  } catch (const StatusError&) {
    return false;
  }
  std::lock_guard lock(mutex_);
  observed_holder_ = config_.identity;
  observed_renew_ = now;
  observed_at_ = Clock::now();
  return true;
}

// Tells the daemon why the Lease could not be read, once per different reason (a retry every 2 s would repeat it).
void LeaderElector::report(const std::string& error) {
  {
    std::lock_guard lock(mutex_);
    if (error == last_error_) return;
    last_error_ = error;
  }
  if (config_.on_error) config_.on_error("error retrieving resource lock " + config_.lease_namespace + "/" +
                                         config_.lease_name + ": " + error);
}

void LeaderElector::release() {
  ResourceClient leases(transport_, *leases_, config_.lease_namespace);
  try {
    json lease = leases.get(config_.lease_name);
    if (lease.value("/spec/holderIdentity"_json_pointer, std::string()) != config_.identity) return;
    lease["spec"]["holderIdentity"] = "";
    lease["spec"]["leaseDurationSeconds"] = 1;
    lease["spec"]["renewTime"] = now_micro_time();
    leases.update(lease);
  } catch (const StatusError&) {
  }
}

void LeaderElector::run() {
  while (!stopped_) {
    // Campaign.
    std::string last_seen;
    while (!stopped_ && !try_acquire_or_renew()) {
      std::string l = leader();
      if (l != last_seen && !l.empty() && config_.on_new_leader) config_.on_new_leader(l);
      last_seen = l;
      if (!wait(config_.retry_period)) break;
    }
    if (stopped_) break;
    leading_ = true;
    if (config_.on_new_leader) config_.on_new_leader(config_.identity);
    if (config_.on_started_leading) config_.on_started_leading();
    // Lead: renew every retry period; give up when no renewal succeeded within the renew deadline.
    auto last_renew = Clock::now();
    while (wait(config_.retry_period)) {
      if (try_acquire_or_renew()) {
        last_renew = Clock::now();
      } else if (Clock::now() - last_renew > config_.renew_deadline) {
        break;
      }
    }
    leading_ = false;
    if (stopped_ && release_on_stop_) release();
    if (config_.on_stopped_leading) config_.on_stopped_leading();
  }
}

}  // namespace kctl::api
