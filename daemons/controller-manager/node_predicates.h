// What the node controllers ask of a Node and a pod spec, with the rules of k8s.io/component-helpers/scheduling/
// corev1 and pkg/apis/core/v1/helper: taints and tolerations, nodeSelector and required node affinity, and the
// node conditions and taints the node lifecycle controller manages.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kctl::controllers {

// The taint keys of v1 (k8s.io/api/core/v1 well_known_taints.go).
namespace taint {
inline constexpr const char* kNotReady = "node.kubernetes.io/not-ready";
inline constexpr const char* kUnreachable = "node.kubernetes.io/unreachable";
inline constexpr const char* kUnschedulable = "node.kubernetes.io/unschedulable";
inline constexpr const char* kMemoryPressure = "node.kubernetes.io/memory-pressure";
inline constexpr const char* kDiskPressure = "node.kubernetes.io/disk-pressure";
inline constexpr const char* kNetworkUnavailable = "node.kubernetes.io/network-unavailable";
inline constexpr const char* kPidPressure = "node.kubernetes.io/pid-pressure";
}  // namespace taint

// Toleration.ToleratesTaint: the effect matches (or the toleration names none), the key matches (or an empty key
// with Exists tolerates every key) and, for Equal, the value too.
bool tolerates(const nlohmann::json& toleration, const nlohmann::json& taint);
// The first taint with an effect `effect_filter` accepts that no toleration tolerates (FindMatchingUntoleratedTaint).
std::optional<nlohmann::json> find_untolerated_taint(const nlohmann::json& taints, const nlohmann::json& tolerations,
                                                     bool (*effect_filter)(const std::string& effect));
bool is_no_execute(const std::string& effect);
bool is_no_schedule_or_no_execute(const std::string& effect);

// A v1.NodeSelector (nodeSelectorTerms, ORed; each term's matchExpressions on labels and matchFields on
// metadata.name, ANDed) against a Node. No terms, or a term with no requirement, select nothing.
bool matches_node_selector(const nlohmann::json& node_selector, const nlohmann::json& node);
// spec.nodeSelector and spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution of a pod spec.
bool matches_required_node_affinity(const nlohmann::json& pod_spec, const nlohmann::json& node);

// The node's condition of `type`, or null.
const nlohmann::json* node_condition(const nlohmann::json& node, const std::string& type);
// The pod's Ready condition is True (podutil.IsPodReady).
bool pod_ready(const nlohmann::json& pod);
// Ready for at least min_ready_seconds (podutil.IsPodAvailable).
bool pod_available(const nlohmann::json& pod, int min_ready_seconds, std::chrono::system_clock::time_point now);

// metav1.Time of `t` (2025-01-02T03:04:05Z) and back (nullopt when unparsable).
std::string format_time(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& rfc3339);

}  // namespace kctl::controllers
