// Defaulting and validation of a PodSpec, shared by Pod and every kind with a pod template (ReplicationController,
// ReplicaSet, Deployment, DaemonSet).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace kctl::api::kinds {

// SetDefaults_PodSpec, SetDefaults_Container, ... of k8s.io/kubernetes/pkg/apis/core/v1/defaults.go.
void default_pod_spec(nlohmann::json& spec);
// The pod template of a controller: defaults its spec; labels stay as given.
void default_pod_template(nlohmann::json& template_);
// Validates a PodSpec; `path` is the JSON path of the spec ("spec" or "spec.template.spec").
void validate_pod_spec(const nlohmann::json& spec, const std::string& path, std::vector<StatusCause>& causes);
// A controller's template: labels must select, restartPolicy must be Always (for controllers).
void validate_pod_template(const nlohmann::json& template_, const std::string& path, bool require_always,
                           std::vector<StatusCause>& causes);

}  // namespace kctl::api::kinds
