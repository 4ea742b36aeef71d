// ControllerExpectations, as pkg/controller/controller_utils.go has them: what a controller is still waiting to see
// in its informer after creating or deleting pods, so that a sync running before the cache caught up does not
// create or delete the same pods again. Deletions are tracked by pod UID (UIDTrackingControllerExpectations), so a
// pod seen going twice (deletionTimestamp, then gone) counts once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace kctl::controllers {

// How long expectations may stay unmet before the controller acts anyway (ExpectationsTimeout): a watch event
// that was lost must not stall a controller for ever.
inline constexpr std::chrono::minutes kExpectationsTimeout{5};

class ControllerExpectations {
 public:
  using Clock = std::chrono::steady_clock;

  // Replaces what `key` expects: `adds` creations and the deletion of the pods whose UIDs are given.
  void expect(const std::string& key, int adds, std::set<std::string> delete_uids);
  // An informer saw a pod of `key` created / going (a UID that was not expected is ignored).
  void creation_observed(const std::string& key);
  void deletion_observed(const std::string& key, const std::string& uid);
  // A create that failed will never be observed: expect one less.
  void lower_creations(const std::string& key, int n = 1);
  // A delete that failed will never be observed.
  void lower_deletion(const std::string& key, const std::string& uid) { deletion_observed(key, uid); }
  // Nothing pending for `key`, or what is pending is older than kExpectationsTimeout.
  bool satisfied(const std::string& key) const;
  void forget(const std::string& key);  // the controller object is gone

 private:
  struct Pending {
    int adds = 0;
    std::set<std::string> deletes;
    Clock::time_point since;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Pending> pending_;  // guarded by mutex_
};

}  // namespace kctl::controllers
