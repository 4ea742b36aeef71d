// The rules of kube's pkg/controller/deployment/util over JSON objects: the pod-template hash, revisions and the
// annotations that carry them, maxSurge / maxUnavailable with kube's rounding, the replica arithmetic of rolling
// updates and proportional scaling, and the Deployment's conditions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::controllers::deployment {

using SysClock = std::chrono::system_clock;
// ReplicaSets as a sync works on them: pointers into storage the sync owns, updated in place as the server answers.
using RsList = std::vector<nlohmann::json*>;

inline constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr const char* kRevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
inline constexpr const char* kDesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
inline constexpr const char* kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline constexpr const char* kUniqueLabelKey = "pod-template-hash";
// kube's MaxRevHistoryLengthInChars: the revision-history annotation of a ReplicaSet rolled back to many times
// keeps its newest entries within this length.
inline constexpr size_t kMaxRevisionHistoryChars = 2000;

// Condition types and reasons, as kubectl rollout status and describe know them.
inline constexpr const char* kProgressing = "Progressing";
inline constexpr const char* kAvailable = "Available";
inline constexpr const char* kReplicaFailure = "ReplicaFailure";
inline constexpr const char* kNewRSReason = "NewReplicaSetCreated";
inline constexpr const char* kFoundNewRSReason = "FoundNewReplicaSet";
inline constexpr const char* kRSUpdatedReason = "ReplicaSetUpdated";
inline constexpr const char* kNewRSAvailableReason = "NewReplicaSetAvailable";
inline constexpr const char* kTimedOutReason = "ProgressDeadlineExceeded";
inline constexpr const char* kPausedReason = "DeploymentPaused";
inline constexpr const char* kResumedReason = "DeploymentResumed";
inline constexpr const char* kFailedRSCreateReason = "ReplicaSetCreateError";
inline constexpr const char* kMinimumReplicasAvailable = "MinimumReplicasAvailable";
inline constexpr const char* kMinimumReplicasUnavailable = "MinimumReplicasUnavailable";

int32_t spec_replicas(const nlohmann::json& obj);  // spec.replicas (1 when absent, the API default)
int32_t status_count(const nlohmann::json& obj, const char* field);  // status.<field>, 0 when absent
std::string name_of(const nlohmann::json& obj);
std::string annotation(const nlohmann::json& obj, const std::string& key);  // "" when absent

// kube's ComputeHash: FNV-1a (32 bits) over the template, then the collision count (little-endian), printed in
// decimal and encoded with rand.SafeEncodeString's alphabet (no vowels, no look-alikes). The template is hashed as
// its canonical JSON (keys sorted), kctl's stable spelling of "the same template".
std::string compute_hash(const nlohmann::json& pod_template, std::optional<int32_t> collision_count);
// Templates equal but for the pod-template-hash label (kube's EqualIgnoreHash); empty maps equal absent ones.
bool equal_ignore_hash(const nlohmann::json& a, const nlohmann::json& b);

int64_t revision(const nlohmann::json& rs);  // 0 when absent or unreadable
int64_t max_revision(const RsList& rss);

// intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total rounded up or down. Throws
// std::invalid_argument for anything else.
int scaled_value(const nlohmann::json& int_or_percent, int total, bool round_up);
// maxSurge rounded up, maxUnavailable rounded down, and never both zero (then maxUnavailable is 1).
std::pair<int, int> resolve_fenceposts(const nlohmann::json& max_surge, const nlohmann::json& max_unavailable,
                                       int desired);
bool is_rolling_update(const nlohmann::json& d);
int32_t max_surge(const nlohmann::json& d);
int32_t max_unavailable(const nlohmann::json& d);  // at most spec.replicas

// Sums over ReplicaSets: spec.replicas, status.replicas, readyReplicas, availableReplicas.
int32_t replica_count(const RsList& rss);
int32_t actual_replica_count(const RsList& rss);
int32_t ready_replica_count(const RsList& rss);
int32_t available_replica_count(const RsList& rss);
RsList active(const RsList& rss);  // spec.replicas > 0
RsList with(const RsList& rss, nlohmann::json* rs);  // rss and rs (unless null)
void sort_by_creation(RsList& rss);  // oldest first, then by name
void sort_by_revision(RsList& rss);  // lowest first, then by creation

// The ReplicaSet whose template is the Deployment's (the oldest, when several are), or null.
nlohmann::json* find_new_replica_set(const nlohmann::json& d, const RsList& rss);
RsList find_old_replica_sets(const RsList& rss, const nlohmann::json* new_rs);

// How many replicas the new ReplicaSet may have now (RollingUpdate: within maxSurge; Recreate: all).
int32_t new_rs_new_replicas(const nlohmann::json& d, const RsList& all, const nlohmann::json& new_rs);

// The Deployment's annotations copied to its new ReplicaSet, and its revision (plus revision-history when a
// ReplicaSet comes back); desired- and max-replicas for one being created. True when something changed.
bool set_new_replica_set_annotations(const nlohmann::json& d, nlohmann::json& rs, const std::string& new_revision,
                                     bool exists);
bool set_replicas_annotations(nlohmann::json& rs, int32_t desired, int32_t max);
bool replicas_annotations_need_update(const nlohmann::json& rs, int32_t desired, int32_t max);
bool set_deployment_revision(nlohmann::json& d, const std::string& revision);  // true when it changed

// Proportional scaling: the ReplicaSet of the many active ones that takes a scale alone (else null), whether the
// new one is saturated, and a ReplicaSet's share of replicas to add (or remove).
nlohmann::json* find_active_or_latest(nlohmann::json* new_rs, RsList old_rss);
bool is_saturated(const nlohmann::json& d, const nlohmann::json* rs);
int32_t proportion(const nlohmann::json& rs, const nlohmann::json& d, int32_t to_add, int32_t added);

// obj.status, or an empty object: a reference that outlives the expression, unlike obj.value("status", ...).
const nlohmann::json& status_of(const nlohmann::json& obj);
// Conditions in status.conditions.
const nlohmann::json* get_condition(const nlohmann::json& status, const std::string& type);
nlohmann::json new_condition(const std::string& type, const std::string& status, const std::string& reason,
                             const std::string& message, SysClock::time_point now);
// kube's SetDeploymentCondition: same status and reason keep the old condition; same status keeps its
// lastTransitionTime.
void set_condition(nlohmann::json& status, nlohmann::json condition);
void remove_condition(nlohmann::json& status, const std::string& type);

bool has_progress_deadline(const nlohmann::json& d);
bool has_revision_history_limit(const nlohmann::json& d);
bool deployment_complete(const nlohmann::json& d, const nlohmann::json& status);
bool deployment_progressing(const nlohmann::json& d, const nlohmann::json& status);
bool deployment_timed_out(const nlohmann::json& d, const nlohmann::json& status, SysClock::time_point now);

}  // namespace kctl::controllers::deployment
