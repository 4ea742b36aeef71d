// Expectations as kube's ControllerExpectations (with UIDTrackingControllerExpectations' deletion keys): what a
// controller is waiting to see in its informer after creating or deleting pods, so that a cache that lags behind
// its own writes never makes it create or delete the same pods twice. Shared by the controllers that own pods.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace kctl::controllers {

class ControllerExpectations {
 public:
  using Clock = std::chrono::steady_clock;
  // kube's ExpectationsTimeout: a creation or deletion the informer never reports (a lost watch event) holds a
  // controller back for this long at most, after which it trusts its cache again.
  static constexpr std::chrono::minutes kTimeout{5};

  // True when the controller may act on `key` again: nothing is expected of it, everything expected was seen, or
  // the expectations expired. A key never seen is satisfied (a new controller).
  bool satisfied(const std::string& key) const;
  // Replaces the expectations of `key`: `adds` creations to be observed.
  void expect_creations(const std::string& key, int adds);
  // Replaces the expectations of `key`: the deletion of each of these pods ("ns/name") to be observed.
  void expect_deletions(const std::string& key, const std::vector<std::string>& pod_keys);
  // A creation by `key` was seen (or will never be: a failed or skipped create).
  void creation_observed(const std::string& key);
  // The pod `pod_key` was seen going away; counts only if `key` was waiting for it, so that one deletion seen
  // twice (deletionTimestamp, then the delete itself) lowers the count once.
  void deletion_observed(const std::string& key, const std::string& pod_key);
  void delete_expectations(const std::string& key);  // the controller object is gone

  // What is still expected of `key`, for tests and logs; false when nothing is recorded.
  bool pending(const std::string& key, int& adds, int& dels) const;

  // For tests: the clock that expiry is measured with.
  void set_clock(Clock::time_point (*now)()) { now_ = now; }

 private:
  struct Record {
    int adds = 0, dels = 0;
    Clock::time_point timestamp;
    std::set<std::string> deleting;  // pod keys whose deletion is awaited
  };

  mutable std::mutex mutex_;
  std::map<std::string, Record> records_;  // guarded by mutex_
  Clock::time_point (*now_)() = &Clock::now;
};

}  // namespace kctl::controllers
