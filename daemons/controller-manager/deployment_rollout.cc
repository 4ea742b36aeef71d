// What one Deployment sync does, as kube's sync.go, rolling.go, recreate.go and progress.go: paused conditions,
// proportional scaling, the rolling and recreate rollouts, history cleanup, and the status with its conditions.
#include "daemons/controller-manager/controller_utils.h"
#include "daemons/controller-manager/deployment_controller.h"

#include <algorithm>

namespace kctl::controllers {

using nlohmann::json;
using namespace deployment;

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

void set_count(json& status, const char* field, int64_t n) {
  if (n != 0)
    status[field] = n;
  else
    status.erase(field);
}

std::string uid_of(const json& obj) { return obj.value("/metadata/uid"_json_pointer, std::string()); }

}  // namespace

void DeploymentController::check_paused_conditions(State& s) {
  json& d = s.d;
  if (!has_progress_deadline(d)) return;
  const json* cond = get_condition(status_of(d), kProgressing);
  // A deadline already exceeded is not hidden behind a paused condition.
  if (cond && cond->value("reason", "") == kTimedOutReason) return;
  bool paused = d.value("/spec/paused"_json_pointer, false);
  bool paused_cond = cond && cond->value("reason", "") == kPausedReason;
  if (paused && !paused_cond)
    set_condition(d["status"],
                  new_condition(kProgressing, "Unknown", kPausedReason, "Deployment is paused", SysClock::now()));
  else if (!paused && paused_cond)
    set_condition(d["status"],
                  new_condition(kProgressing, "Unknown", kResumedReason, "Deployment is resumed", SysClock::now()));
  else
    return;
  write_deployment(s);
}

bool DeploymentController::is_scaling_event(State& s) {
  auto [new_rs, old_rss] = all_replica_sets(s, false);
  for (const json* rs : active(with(old_rss, new_rs))) {
    std::string desired = annotation(*rs, kDesiredReplicasAnnotation);
    if (desired.empty()) continue;
    if (desired != std::to_string(spec_replicas(s.d))) return true;
  }
  return false;
}

void DeploymentController::sync_scaling(State& s) {
  auto [new_rs, old_rss] = all_replica_sets(s, false);
  scale(s, new_rs, old_rss);
  if (s.d.value("/spec/paused"_json_pointer, false)) cleanup_deployment(s, old_rss);
  sync_deployment_status(s, with(old_rss, new_rs), new_rs);
}

void DeploymentController::sync_status_only(State& s) {
  auto [new_rs, old_rss] = all_replica_sets(s, false);
  sync_deployment_status(s, with(old_rss, new_rs), new_rs);
}

void DeploymentController::scale(State& s, json* new_rs, const RsList& old_rss) {
  const json& d = s.d;
  int32_t want = spec_replicas(d);
  // One active ReplicaSet (or none: then the newest) takes the whole count.
  if (json* only = find_active_or_latest(new_rs, old_rss)) {
    if (spec_replicas(*only) != want) scale_replica_set_and_record_event(s, *only, want);
    return;
  }
  // The new ReplicaSet has it all and is available: the old ones go.
  if (is_saturated(d, new_rs)) {
    for (json* rs : active(old_rss)) scale_replica_set_and_record_event(s, *rs, 0);
    return;
  }
  if (!is_rolling_update(d)) return;
  // Mid-rollout: spread the difference over the active ReplicaSets in proportion to their size, the leftover to
  // the largest (kube's proportional scaling).
  RsList all = active(with(old_rss, new_rs));
  int32_t allowed = want > 0 ? want + max_surge(d) : 0;
  int32_t to_add = allowed - replica_count(all);
  auto created = [](const json* rs) { return time_of(rs->value("/metadata/creationTimestamp"_json_pointer, json())); };
  if (to_add != 0) {
    bool newer_first = to_add > 0;
    std::stable_sort(all.begin(), all.end(), [&](const json* a, const json* b) {
      if (spec_replicas(*a) != spec_replicas(*b)) return spec_replicas(*a) > spec_replicas(*b);
      auto ta = created(a), tb = created(b);
      if (ta == tb) return newer_first ? name_of(*b) < name_of(*a) : name_of(*a) < name_of(*b);
      return newer_first ? tb < ta : ta < tb;
    });
  }
  int32_t added = 0;
  std::vector<int32_t> sizes;
  for (const json* rs : all) {
    int32_t p = to_add != 0 ? proportion(*rs, d, to_add, added) : 0;
    sizes.push_back(spec_replicas(*rs) + p);
    added += p;
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (i == 0 && to_add != 0) sizes[0] = std::max(0, sizes[0] + to_add - added);
    scale_replica_set(s, *all[i], sizes[i]);
  }
}

void DeploymentController::rollout_rolling(State& s) {
  auto [new_rs, old_rss] = all_replica_sets(s, true);
  RsList all = with(old_rss, new_rs);
  if (reconcile_new_replica_set(s, all, *new_rs) || reconcile_old_replica_sets(s, active(old_rss), *new_rs)) {
    sync_rollout_status(s, all, new_rs);
    return;
  }
  if (deployment_complete(s.d, s.d.value("status", json::object()))) cleanup_deployment(s, old_rss);
  sync_rollout_status(s, all, new_rs);
}

bool DeploymentController::reconcile_new_replica_set(State& s, const RsList& all, json& new_rs) {
  int32_t want = spec_replicas(s.d);
  if (spec_replicas(new_rs) == want) return false;
  if (spec_replicas(new_rs) > want) return scale_replica_set_and_record_event(s, new_rs, want);
  return scale_replica_set_and_record_event(s, new_rs, new_rs_new_replicas(s.d, all, new_rs));
}

bool DeploymentController::reconcile_old_replica_sets(State& s, const RsList& old_active, json& new_rs) {
  if (replica_count(old_active) == 0) return false;  // nothing to scale down
  int32_t all_pods = replica_count(with(old_active, &new_rs));
  int32_t min_available = spec_replicas(s.d) - max_unavailable(s.d);
  int32_t new_unavailable = spec_replicas(new_rs) - status_count(new_rs, "availableReplicas");
  // What may go without dropping below minAvailable, counting the new pods that are not available yet as gone.
  int32_t max_scaled_down = all_pods - min_available - new_unavailable;
  if (max_scaled_down <= 0) return false;
  // Unhealthy old pods first: removing them costs no availability.
  int32_t cleaned = cleanup_unhealthy_replicas(s, old_active, max_scaled_down);
  int32_t scaled = scale_down_old_replica_sets_for_rolling_update(s, with(old_active, &new_rs), old_active);
  return cleaned + scaled > 0;
}

int32_t DeploymentController::cleanup_unhealthy_replicas(State& s, RsList old_rss, int32_t max_cleanup) {
  sort_by_creation(old_rss);
  int32_t total = 0;
  for (json* rs : old_rss) {
    if (total >= max_cleanup) break;
    int32_t replicas = spec_replicas(*rs), available = status_count(*rs, "availableReplicas");
    if (replicas == 0 || replicas == available) continue;
    int32_t n = std::min(max_cleanup - total, replicas - available);
    scale_replica_set_and_record_event(s, *rs, replicas - n);
    total += n;
  }
  return total;
}

int32_t DeploymentController::scale_down_old_replica_sets_for_rolling_update(State& s, const RsList& all,
                                                                            RsList old_rss) {
  int32_t min_available = spec_replicas(s.d) - max_unavailable(s.d);
  int32_t available = available_replica_count(all);
  if (available <= min_available) return 0;
  sort_by_creation(old_rss);
  int32_t total = 0, to_scale_down = available - min_available;
  for (json* rs : old_rss) {
    if (total >= to_scale_down) break;
    int32_t replicas = spec_replicas(*rs);
    if (replicas == 0) continue;
    int32_t n = std::min(replicas, to_scale_down - total);
    scale_replica_set_and_record_event(s, *rs, replicas - n);
    total += n;
  }
  return total;
}

void DeploymentController::rollout_recreate(State& s) {
  auto [new_rs, old_rss] = all_replica_sets(s, false);
  RsList all = with(old_rss, new_rs);
  bool scaled_down = false;
  for (json* rs : active(old_rss)) scaled_down |= scale_replica_set_and_record_event(s, *rs, 0);
  if (scaled_down || old_pods_running(s, new_rs, old_rss)) {
    sync_rollout_status(s, all, new_rs);
    return;
  }
  if (!new_rs) {
    std::tie(new_rs, old_rss) = all_replica_sets(s, true);
    all = with(old_rss, new_rs);
  }
  if (scale_replica_set_and_record_event(s, *new_rs, spec_replicas(s.d))) {
    sync_rollout_status(s, all, new_rs);
    return;
  }
  if (deployment_complete(s.d, s.d.value("status", json::object()))) cleanup_deployment(s, old_rss);
  sync_rollout_status(s, all, new_rs);
}

bool DeploymentController::old_pods_running(const State& s, const json* new_rs, const RsList& old_rss) const {
  if (actual_replica_count(old_rss) > 0) return true;
  for (const auto& [uid, pods] : s.pods) {
    if (new_rs && uid == uid_of(*new_rs)) continue;
    for (const auto& p : pods) {
      std::string phase = p->value("/status/phase"_json_pointer, std::string());
      if (phase != "Failed" && phase != "Succeeded") return true;
    }
  }
  return false;
}

void DeploymentController::cleanup_deployment(State& s, const RsList& old_rss) {
  if (!has_revision_history_limit(s.d)) return;
  RsList cleanable;
  for (json* rs : old_rss)
    if (!being_deleted(*rs)) cleanable.push_back(rs);
  int64_t diff = static_cast<int64_t>(cleanable.size()) - s.d["spec"]["revisionHistoryLimit"].get<int64_t>();
  if (diff <= 0) return;
  sort_by_revision(cleanable);
  for (int64_t i = 0; i < diff; ++i) {
    const json& rs = *cleanable[i];
    // Only ReplicaSets that are scaled down, with no pods left and a status that saw that.
    if (status_count(rs, "replicas") != 0 || spec_replicas(rs) != 0 ||
        rs.value("/metadata/generation"_json_pointer, 0) > rs.value("/status/observedGeneration"_json_pointer, 0) ||
        being_deleted(rs))
      continue;
    try {
      rs_client_.in(rs["metadata"].value("namespace", "")).remove(name_of(rs));
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;
    }
  }
}

json DeploymentController::calculate_status(const State& s, const RsList& all, const json* new_rs) const {
  const json& d = s.d;
  json old = d.value("status", json::object());
  int32_t available = available_replica_count(all);
  int32_t unavailable = std::max(0, replica_count(all) - available);
  json st = json::object();
  set_count(st, "observedGeneration", d.value("/metadata/generation"_json_pointer, int64_t(0)));
  set_count(st, "replicas", actual_replica_count(all));
  set_count(st, "updatedReplicas", new_rs ? status_count(*new_rs, "replicas") : 0);
  set_count(st, "readyReplicas", ready_replica_count(all));
  set_count(st, "availableReplicas", available);
  set_count(st, "unavailableReplicas", unavailable);
  if (old.contains("collisionCount")) st["collisionCount"] = old["collisionCount"];
  if (old.contains("conditions")) st["conditions"] = old["conditions"];
  if (available >= spec_replicas(d) - max_unavailable(d))
    set_condition(st, new_condition(kAvailable, "True", kMinimumReplicasAvailable,
                                    "Deployment has minimum availability.", SysClock::now()));
  else
    set_condition(st, new_condition(kAvailable, "False", kMinimumReplicasUnavailable,
                                    "Deployment does not have minimum availability.", SysClock::now()));
  return st;
}

void DeploymentController::sync_deployment_status(State& s, const RsList& all, const json* new_rs) {
  json st = calculate_status(s, all, new_rs);
  if (st == s.d.value("status", json::object())) return;
  s.d["status"] = st;
  write_deployment(s);
}

void DeploymentController::sync_rollout_status(State& s, const RsList& all, const json* new_rs) {
  const json& d = s.d;
  json st = calculate_status(s, all, new_rs);
  if (!has_progress_deadline(d)) remove_condition(st, kProgressing);
  auto now = SysClock::now();
  const json* cur = get_condition(status_of(d), kProgressing);
  bool complete = st.value("replicas", 0) == st.value("updatedReplicas", 0) && cur &&
                  cur->value("reason", "") == kNewRSAvailableReason;
  if (has_progress_deadline(d) && !complete) {
    std::string subject = new_rs ? "ReplicaSet " + quoted(name_of(*new_rs)) : "Deployment " + quoted(name_of(d));
    if (deployment_complete(d, st)) {
      set_condition(st, new_condition(kProgressing, "True", kNewRSAvailableReason,
                                      subject + " has successfully progressed.", now));
    } else if (deployment_progressing(d, st)) {
      // Progress moves lastUpdateTime on (the deadline counts from it), not lastTransitionTime.
      json c = new_condition(kProgressing, "True", kRSUpdatedReason, subject + " is progressing.", now);
      if (cur) {
        if (cur->value("status", "") == "True") c["lastTransitionTime"] = cur->value("lastTransitionTime", json());
        remove_condition(st, kProgressing);
      }
      set_condition(st, c);
    } else if (deployment_timed_out(d, st, now)) {
      set_condition(st, new_condition(kProgressing, "False", kTimedOutReason,
                                      subject + " has timed out progressing.", now));
    }
  }
  // A ReplicaSet that cannot create or delete pods says so on the Deployment, the new one's failure first.
  std::vector<json> failures;
  auto collect = [&](const json& rs) {
    for (const auto& c : rs.value("/status/conditions"_json_pointer, json::array()))
      if (c.value("type", "") == kReplicaFailure)
        failures.push_back({{"type", kReplicaFailure},
                            {"status", c.value("status", "")},
                            {"reason", c.value("reason", "")},
                            {"message", c.value("message", "")},
                            {"lastUpdateTime", c.value("lastTransitionTime", json())},
                            {"lastTransitionTime", c.value("lastTransitionTime", json())}});
  };
  if (new_rs) collect(*new_rs);
  if (failures.empty())
    for (const json* rs : all) collect(*rs);
  if (!failures.empty())
    set_condition(st, failures.front());
  else
    remove_condition(st, kReplicaFailure);
  if (st.contains("conditions") && st["conditions"].empty()) st.erase("conditions");

  if (st == d.value("status", json::object())) {
    requeue_stuck_deployment(s, st);
    return;
  }
  s.d["status"] = st;
  write_deployment(s);
}

void DeploymentController::requeue_stuck_deployment(State& s, const json& new_status) {
  const json& d = s.d;
  const json* cur = get_condition(status_of(d), kProgressing);
  if (!has_progress_deadline(d) || !cur) return;
  if (deployment_complete(d, new_status) || cur->value("reason", "") == kTimedOutReason) return;
  // Nothing will happen to say the deadline passed: look again just after it does.
  auto deadline = time_of(cur->value("lastUpdateTime", json())) +
                  std::chrono::seconds(d["spec"]["progressDeadlineSeconds"].get<int64_t>());
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SysClock::now());
  enqueue_after(s.key, std::max(after, std::chrono::milliseconds(0)) + std::chrono::seconds(1));
}

}  // namespace kctl::controllers
