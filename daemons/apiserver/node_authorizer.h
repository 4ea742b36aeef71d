// The node authorizer (kube's plugin/pkg/auth/authorizer/node, --authorization-mode=Node): what a kubelet, user
// system:node:NAME in group system:nodes, may do. Asked before RBAC; no opinion on anyone else.
#pragma once

#include <string>
#include <vector>

#include "daemons/apiserver/auth.h"
#include "daemons/apiserver/rbac.h"

namespace kctl::apiserver {

class ObjectService;

// For a node NAME:
//   - secrets, configmaps, persistentvolumeclaims: get only, and only when a pod bound to NAME references the object
//     (volumes, env, envFrom, imagePullSecrets); serviceaccounts/token create only for a bound pod's service account;
//   - leases (coordination.k8s.io): only kube-node-lease/NAME;
//   - pods: read; update/patch of pods/status and delete only of pods bound to NAME (otherwise denied);
//   - nodes: read; create; writes of node NAME and nodes/NAME/status only (another node's are denied);
//   - everything else: what the system:node ClusterRole's rules grant (events, services, endpoints, reviews, CSRs).
// Where it has no relationship to show it has no opinion, so that RBAC may still grant. Each decision reads the store
// at most once (a get of the pod, or a list of the namespace's pods).
class NodeAuthorizer : public Authorizer {
 public:
  explicit NodeAuthorizer(const ObjectService& objects);
  Decision authorize(const RequestAttributes& a) const override;

 private:
  Decision authorize_referenced(const std::string& node, const RequestAttributes& a) const;
  Decision authorize_pod(const std::string& node, const RequestAttributes& a) const;
  Decision authorize_node(const std::string& node, const RequestAttributes& a) const;
  Decision authorize_lease(const std::string& node, const RequestAttributes& a) const;

  const ObjectService& objects_;
  std::vector<PolicyRule> node_rules_;  // the system:node ClusterRole's
};

// Whether `pod` (a v1 Pod as JSON) references the object `resource` ("secrets", "configmaps",
// "persistentvolumeclaims", "serviceaccounts") named `name` in its own namespace.
bool pod_references(const nlohmann::json& pod, const std::string& resource, const std::string& name);

}  // namespace kctl::apiserver
