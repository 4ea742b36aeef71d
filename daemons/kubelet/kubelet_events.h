// The Events the kubelet records about pods, their containers and its Node, with the reasons and messages of
// Kubernetes' kubelet (pkg/kubelet/events), so that `kubectl describe` reads as it does on any cluster.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/event_recorder.h"

namespace kctl::kubelet {

struct ContainerRecord;

namespace reason {
inline constexpr const char* kPulled = "Pulled";
inline constexpr const char* kCreated = "Created";
inline constexpr const char* kStarted = "Started";
inline constexpr const char* kFailed = "Failed";
inline constexpr const char* kKilling = "Killing";
inline constexpr const char* kBackOff = "BackOff";
inline constexpr const char* kErrImageNeverPull = "ErrImageNeverPull";
inline constexpr const char* kUnhealthy = "Unhealthy";
inline constexpr const char* kStarting = "Starting";
}  // namespace reason

// The reference to one container of a pod: the pod, with fieldPath spec.containers{NAME} (spec.initContainers{NAME}).
nlohmann::json container_ref(const nlohmann::json& pod, const std::string& container, bool init = false);
// The kubelet's reference to its Node: kind and name, and the name as uid (what `kubectl describe node` searches).
nlohmann::json node_ref(const std::string& node);
// How the kubelet names a pod in messages: name_namespace(uid).
std::string pod_description(const nlohmann::json& pod);

void record_container_event(api::EventRecorder& events, const nlohmann::json& pod, const ContainerRecord& c,
                            api::EventType type, const char* reason, const std::string& message);
// Why a container could not be started, as the kubelet says it: the image (never pulled, or not here to pull:
// back-off), or "Error: ..." for a configuration that does not resolve or a container the runtime refused.
void record_start_failure(api::EventRecorder& events, const nlohmann::json& pod, const nlohmann::json& spec,
                          const ContainerRecord& c);
// A container in crash back-off, each time a sync finds it there.
void record_back_off(api::EventRecorder& events, const nlohmann::json& pod, const ContainerRecord& c);

}  // namespace kctl::kubelet
