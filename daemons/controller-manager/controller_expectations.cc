// ControllerExpectations: counts per controller key, lowered by the informer's events, expiring after kTimeout.
#include "daemons/controller-manager/controller_expectations.h"

namespace kctl::controllers {

bool ControllerExpectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  const Record& r = it->second;
  if (r.adds <= 0 && r.dels <= 0) return true;
  return now_() - r.timestamp > kTimeout;
}

void ControllerExpectations::expect_creations(const std::string& key, int adds) {
  std::lock_guard lock(mutex_);
  Record& r = records_[key];
  r = Record{};
  r.adds = adds;
  r.timestamp = now_();
}

void ControllerExpectations::expect_deletions(const std::string& key, const std::vector<std::string>& pod_keys) {
  std::lock_guard lock(mutex_);
  Record& r = records_[key];
  r = Record{};
  r.deleting.insert(pod_keys.begin(), pod_keys.end());
  r.dels = static_cast<int>(r.deleting.size());
  r.timestamp = now_();
}

void ControllerExpectations::creation_observed(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = records_.find(key);
  if (it != records_.end()) --it->second.adds;
}

void ControllerExpectations::deletion_observed(const std::string& key, const std::string& pod_key) {
  std::lock_guard lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end() || !it->second.deleting.erase(pod_key)) return;
  --it->second.dels;
}

void ControllerExpectations::delete_expectations(const std::string& key) {
  std::lock_guard lock(mutex_);
  records_.erase(key);
}

bool ControllerExpectations::pending(const std::string& key, int& adds, int& dels) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return false;
  adds = it->second.adds;
  dels = it->second.dels;
  return true;
}

}  // namespace kctl::controllers
