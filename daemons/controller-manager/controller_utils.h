// What the controllers that own pods share, as kube's pkg/controller/controller_utils.go and
// controller_ref_manager.go: pod predicates (active, ready, available), the ranking of pods for deletion,
// slow-start batches of writes, pods made from a template, and claiming (adopting and releasing) dependents.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "api/informer.h"
#include "api/selector.h"
#include "daemons/controller-manager/node_predicates.h"

namespace kctl::controllers {

using SysClock = std::chrono::system_clock;

// kube's SlowStartInitialBatchSize: the first batch of creates is one pod, so that a template the server rejects
// costs one failed request, not hundreds.
inline constexpr int kSlowStartInitialBatchSize = 1;
// At most this many writes of one batch are in flight at once (kube starts a goroutine each; threads cost more).
inline constexpr int kMaxParallelWrites = 32;

// Not Succeeded, not Failed, not being deleted (kube's IsPodActive). pod_ready, pod_available and format_time come
// with node_predicates.h.
bool pod_active(const nlohmann::json& pod);
// A metav1.Time (a JSON string) as a time point; the epoch when absent or unreadable.
SysClock::time_point time_of(const nlohmann::json& value);
std::map<std::string, std::string> labels_of(const nlohmann::json& obj);

// Sorts `pods` so that those to delete first come first (kube's ActivePodsWithRanks): unscheduled before
// scheduled, Pending < Unknown < Running, not ready before ready, lower pod-deletion-cost first, more related pods
// on the same node first, ready for less time first, more restarts first, newer first (the two times compared in
// logarithmic buckets, ties broken by uid). ranks[i] belongs to pods[i].
void rank_pods_for_deletion(std::vector<api::ObjectPtr>& pods, std::vector<int> ranks, SysClock::time_point now);
// The first `count` of `pods` to delete, each ranked by how many of `related` (active) share its node.
std::vector<api::ObjectPtr> pods_to_delete(std::vector<api::ObjectPtr> pods, const std::vector<api::ObjectPtr>& related,
                                           size_t count, SysClock::time_point now);

// Calls fn(0) ... fn(count - 1), at most kMaxParallelWrites at once; returns the first exception, if any.
std::exception_ptr parallel_for(int count, const std::function<void(int)>& fn);
// Calls fn `count` times in batches of initial, 2*initial, 4*initial... (each batch in parallel), stopping after a
// batch in which a call threw. Returns how many calls succeeded; `error` gets the first exception.
int slow_start_batch(int count, int initial, const std::function<void()>& fn, std::exception_ptr& error);

// An ownerReference to `owner` with controller: true and blockOwnerDeletion: true (kube's NewControllerRef).
nlohmann::json make_controller_ref(const nlohmann::json& owner, const std::string& api_version, const std::string& kind);
// A pod to create from `tmpl` (a PodTemplateSpec) for `owner`: generateName "<owner>-", the template's labels,
// annotations and finalizers, the controller reference (kube's GetPodFromTemplate).
nlohmann::json pod_from_template(const nlohmann::json& tmpl, const nlohmann::json& owner, const nlohmann::json& ref);

// Claiming, as kube's ControllerRefManager: which of `objects` (from a cache) `owner` controls once orphans that
// its selector matches are adopted and objects it controls but no longer matches are released, both by a strategic
// merge patch of metadata.ownerReferences through `client`.
struct ClaimOptions {
  const nlohmann::json& owner;
  nlohmann::json ref;  // make_controller_ref(owner, ...)
  api::LabelSelector selector;
  // Throws when the owner may not adopt anything now (it is being deleted or was replaced); asked once, and only
  // when there is an orphan to adopt.
  std::function<void()> can_adopt;
};
std::vector<api::ObjectPtr> claim_objects(const api::ResourceClient& client, const ClaimOptions& options,
                                          const std::vector<api::ObjectPtr>& objects);
// can_adopt for ClaimOptions: a fresh read of the owner must show the same uid and no deletionTimestamp (kube's
// RecheckDeletionTimestamp).
std::function<void()> recheck_deletion_timestamp(const api::ResourceClient& owners, const nlohmann::json& owner);

}  // namespace kctl::controllers
