// ControllerExpectations: counters of creations and sets of UIDs of deletions still to be observed, per controller key.
#include "daemons/controller-manager/expectations.h"

namespace kctl::controllers {

void ControllerExpectations::expect(const std::string& key, int adds, std::set<std::string> delete_uids) {
  std::lock_guard lock(mutex_);
  pending_[key] = Pending{adds, std::move(delete_uids), Clock::now()};
}

void ControllerExpectations::creation_observed(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(key);
  if (it != pending_.end() && it->second.adds > 0) --it->second.adds;
}

void ControllerExpectations::lower_creations(const std::string& key, int n) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(key);
  if (it != pending_.end()) it->second.adds = std::max(0, it->second.adds - n);
}

void ControllerExpectations::deletion_observed(const std::string& key, const std::string& uid) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(key);
  if (it != pending_.end()) it->second.deletes.erase(uid);
}

bool ControllerExpectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(key);
  if (it == pending_.end()) return true;
  const Pending& p = it->second;
  return (p.adds <= 0 && p.deletes.empty()) || Clock::now() - p.since > kExpectationsTimeout;
}

void ControllerExpectations::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  pending_.erase(key);
}

}  // namespace kctl::controllers
