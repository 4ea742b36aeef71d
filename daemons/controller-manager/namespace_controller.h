// The namespace controller ("namespace"), as kube's pkg/controller/namespace: a namespace being deleted (the
// apiserver set its deletionTimestamp and phase Terminating, and it still has the `kubernetes` finalizer in
// spec.finalizers) has everything in it deleted, pods first, with its progress in status.conditions; then the
// finalizer is removed through the finalize subresource and the apiserver lets the namespace go.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

// The spec.finalizers token this controller owns (v1.FinalizerKubernetes).
inline constexpr const char* kNamespaceFinalizer = "kubernetes";
// What kube's deleter waits for objects that remain with finalizers before it looks again (finalizerEstimateSeconds).
inline constexpr int64_t kFinalizerEstimateSeconds = 15;

// One round of content deletion in a namespace: what remains, why, and how long that should take.
struct NamespaceContent {
  std::map<std::string, int> remaining;             // "pods." (resource.group) -> objects left
  std::map<std::string, int> finalizers_remaining;  // finalizer -> objects that carry it
  std::vector<std::string> errors;                  // deletions or lists that failed
  int64_t estimate_seconds = 0;                     // > 0: wait that long for what remains
};

// The five conditions kube's namespace deleter keeps (NamespaceDeletionDiscoveryFailure,
// NamespaceDeletionGroupVersionParsingFailure, NamespaceDeletionContentFailure, NamespaceContentRemaining,
// NamespaceFinalizersRemaining), each True with what went wrong or False with its "all is well" reason, merged
// into `conditions` (a transition time changes only when the status does). Returns true when anything changed.
bool update_namespace_conditions(nlohmann::json& conditions, const NamespaceContent& content, const std::string& now);

class NamespaceController : public Controller {
 public:
  explicit NamespaceController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  NamespaceContent delete_content(const std::string& ns);
  void delete_kind(const api::KindInfo& kind, const std::string& ns, NamespaceContent& content);

  api::Informer& namespaces_;
  std::vector<const api::KindInfo*> kinds_;  // every namespaced kind of the registry, pods first
};

}  // namespace kctl::controllers
