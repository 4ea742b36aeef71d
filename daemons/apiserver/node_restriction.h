// The NodeRestriction admission plugin's checks (plugin/pkg/admission/noderestriction): a kubelet's credentials
// (user system:node:NAME in system:nodes) write only its own Node, only pods bound to it, and never the
// node-restriction.kubernetes.io/ labels of its Node.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "daemons/apiserver/auth.h"

namespace kctl::apiserver {

inline constexpr const char* kNodesGroup = "system:nodes";
inline constexpr const char* kNodeUserPrefix = "system:node:";
inline constexpr const char* kNodeRestrictionLabelPrefix = "node-restriction.kubernetes.io/";

// The node a user is (kube's identifier.NodeIdentity): NAME for user system:node:NAME in group system:nodes, "" for
// a node user without a name; nullopt for anyone else.
std::optional<std::string> node_identity(const UserInfo& user);

// Throws api::StatusError(403) when `user` is a node that may not make this write: `obj` as it would be stored,
// `old` the stored object (null on create), `sub` the subresource written through. Anyone else passes.
void admit_node_restriction(const api::KindInfo& kind, const nlohmann::json& obj, const nlohmann::json* old,
                            const std::string& sub, const UserInfo* user);

}  // namespace kctl::apiserver
