// URL paths of Kubernetes resources, from the registry: /api/v1/namespaces/NS/pods/NAME,
// /apis/apps/v1/namespaces/NS/deployments, /api/v1/nodes/NAME/status, ...
#pragma once

#include <string>

#include "api/registry.h"

namespace kctl::api {

// The collection: ns "" means all namespaces (or a cluster-scoped kind).
std::string collection_path(const KindInfo& kind, const std::string& ns);
// One object, optionally a subresource of it.
std::string object_path(const KindInfo& kind, const std::string& ns, const std::string& name,
                        const std::string& subresource = "");

}  // namespace kctl::api
