// The default RBAC policy kube-apiserver keeps at every start (plugin/pkg/auth/authorizer/rbac/bootstrappolicy and
// its reconciliation), with what kctl's own components need added, and the ClusterRole aggregation step.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/apiserver/object_service.h"

namespace kctl::apiserver {

// The user kctl-dns authenticates as (kube's CoreDNS runs as service account kube-system/kube-dns instead).
inline constexpr const char* kKctlDnsUser = "system:kctl-dns";
// kubeadm's Role (and RoleBinding to system:anonymous) in kube-public that lets anyone read cluster-info.
inline constexpr const char* kClusterInfoRole = "kubeadm:bootstrap-signer-clusterinfo";

// The default objects, labelled kubernetes.io/bootstrapping=rbac-defaults and annotated
// rbac.authorization.kubernetes.io/autoupdate=true; rules as kube writes them (each list sorted).
std::vector<nlohmann::json> bootstrap_cluster_roles();
std::vector<nlohmann::json> bootstrap_cluster_role_bindings();
// Namespaced defaults (kube-system): kctl-dns's Role and RoleBinding for the Service, Endpoints and EndpointSlice
// it writes.
std::vector<nlohmann::json> bootstrap_namespace_roles();
std::vector<nlohmann::json> bootstrap_namespace_role_bindings();

// Creates the default roles and bindings that are missing; into existing ones whose autoupdate annotation is not
// "false" adds missing rules, aggregation selectors, subjects, labels and annotations (never removes anything; a
// binding whose roleRef differs is recreated), as kube-apiserver's reconciliation does; then aggregates ClusterRoles.
// Idempotent. Call after ObjectService::bootstrap (kube-system must exist). Returns one sentence per change, for the
// daemon to log; throws api::StatusError or StoreError when the store fails.
std::vector<std::string> ensure_bootstrap_rbac(ObjectService& objects);

// What kctl-controller-manager's clusterrole-aggregation controller keeps doing, done once: every ClusterRole with an
// aggregationRule gets the rules of the ClusterRoles its selectors match (in name order, without duplicates).
// Returns the names of the roles it rewrote. kube-apiserver leaves this to the controller alone; kctl's apiserver
// also does it at start so that admin, edit and view grant something in a cluster without a controller manager
// (an apiserver alone, as many tests and `kctl-apiserver` on a workstation run). Both compute the same rules, so
// they never undo each other's writes.
std::vector<std::string> aggregate_cluster_roles(ObjectService& objects);

}  // namespace kctl::apiserver
