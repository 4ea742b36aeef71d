// Lease-based leader election (client-go's leaderelection with a coordination.k8s.io/v1 Lease): several replicas of
// a scheduler or controller manager run, one holds the Lease and acts, the others wait to take over.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "api/client.h"

namespace kctl::api {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;
  std::string identity;  // unique per candidate (hostname_uuid in Kubernetes)
  // Kubernetes' defaults: a holder that has not renewed for lease_duration may be replaced; the holder gives up
  // when it could not renew for renew_deadline; everyone retries every retry_period.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
  // Why the Lease could not be read (the apiserver unreachable, refused), once per different reason: the library
  // does not log, the daemon does.
  std::function<void(const std::string& error)> on_error;
};

class LeaderElector {
 public:
  LeaderElector(Transport& transport, LeaderElectionConfig config);
  // Campaigns, leads while it can renew, campaigns again after losing the lease; returns after stop().
  void run();
  // release: give the lease up (holderIdentity cleared) so another candidate takes over at once; without it the
  // lease simply expires, as when the process is killed.
  void stop(bool release = true);
  bool is_leader() const { return leading_; }
  std::string leader() const;

 private:
  bool try_acquire_or_renew();
  bool wait(std::chrono::milliseconds d);  // false when stopped
  void release();
  void report(const std::string& error);

  Transport& transport_;
  LeaderElectionConfig config_;
  const KindInfo* leases_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopped_{false};
  bool release_on_stop_ = true;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  // What we last saw in the Lease and when (our clock): expiry is judged by our observation, not the holder's
  // renewTime, so clock skew between nodes does not matter. Guarded by mutex_.
  std::string observed_holder_, observed_renew_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::string last_error_;  // guarded by mutex_
};

// MicroTime as Kubernetes writes it: 2026-11-27T21:37:10.123456Z.
std::string now_micro_time();

}  // namespace kctl::api
