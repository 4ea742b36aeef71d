// The object API of kctl-apiserver, independent of the transport: create, get, list, update, patch, delete with
// Kubernetes semantics (defaulting, validation, admission, optimistic concurrency, graceful deletion, finalizers,
// subresources). The HTTP handlers (and later D-Bus) are thin layers over it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/patch.h"
#include "api/registry.h"
#include "api/selector.h"
#include "daemons/apiserver/service_allocator.h"
#include "daemons/apiserver/store.h"

namespace kctl::apiserver {

using api::KindInfo;

struct WriteOptions {
  bool dry_run = false;
  std::string field_manager;
  std::string field_validation;  // "Strict", "Warn" (default) or "Ignore"
  std::vector<std::string>* warnings = nullptr;  // receives the Warn-mode messages
};

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  std::string propagation_policy;  // Orphan, Background (default), Foreground
  std::string precondition_uid, precondition_resource_version;
  bool dry_run = false;
  // Parses a metav1.DeleteOptions body and/or query values; throws StatusError(400) on bad input.
  static DeleteOptions from_json(const nlohmann::json& body);
};

struct Selectors {
  std::string label_selector;
  std::string field_selector;
};

using api::PatchType;

class ServiceAccountTokenIssuer;
class RbacEscalationCheck;

class ObjectService {
 public:
  ObjectService(Store& store, const api::Registry& registry, ServiceAllocator& allocator);

  std::string key(const KindInfo& kind, const std::string& ns, const std::string& name) const;
  std::string prefix(const KindInfo& kind, const std::string& ns) const;  // "" ns: all namespaces

  RecordPtr get(const KindInfo& kind, const std::string& ns, const std::string& name) const;
  // Objects matching the selectors, and the revision of the list. Throws StatusError(400) on bad selectors.
  std::vector<RecordPtr> list(const KindInfo& kind, const std::string& ns, const Selectors& sel,
                              int64_t* revision) const;

  RecordPtr create(const KindInfo& kind, const std::string& ns, nlohmann::json obj, const WriteOptions& opts);
  // PUT of the object (subresource "") or of its status ("status").
  RecordPtr update(const KindInfo& kind, const std::string& ns, const std::string& name, const std::string& sub,
                   nlohmann::json obj, const WriteOptions& opts);
  // PATCH; `created` is set when an apply patch created the object.
  RecordPtr patch(const KindInfo& kind, const std::string& ns, const std::string& name, const std::string& sub,
                  PatchType type, const nlohmann::json& patch, const WriteOptions& opts, bool* created);

  struct DeleteResult {
    RecordPtr object;
    bool gone = false;  // false: marked for deletion (graceful or finalizers), still stored
  };
  DeleteResult remove(const KindInfo& kind, const std::string& ns, const std::string& name, const DeleteOptions& opts);

  // The scale subresource as an autoscaling/v1 Scale.
  nlohmann::json get_scale(const KindInfo& kind, const std::string& ns, const std::string& name) const;
  nlohmann::json update_scale(const KindInfo& kind, const std::string& ns, const std::string& name,
                              const nlohmann::json& scale, const WriteOptions& opts);
  nlohmann::json patch_scale(const KindInfo& kind, const std::string& ns, const std::string& name, PatchType type,
                             const nlohmann::json& patch, const WriteOptions& opts);
  // POST pods/NAME/binding: assigns the pod to the target node.
  void bind(const std::string& ns, const std::string& pod_name, const nlohmann::json& binding, const WriteOptions& opts);

  // POST serviceaccounts/NAME/token: a TokenRequest answered with a signed token (see service_account_token.h).
  // Throws StatusError(503) until the apiserver has set the issuer.
  nlohmann::json request_token(const std::string& ns, const std::string& sa_name, const nlohmann::json& request) const;
  void set_token_issuer(const ServiceAccountTokenIssuer* issuer) { token_issuer_ = issuer; }
  // Privilege-escalation prevention on writes of the RBAC kinds by the request's user (rbac_escalation.h): set once
  // at start, before serving, and cleared before it goes; without one, RBAC writes are not checked.
  void set_rbac_escalation_check(const RbacEscalationCheck* check) { rbac_escalation_ = check; }

  // Creates what a fresh cluster has: the system namespaces and the `kubernetes` Service and Endpoints.
  void bootstrap(const std::string& advertise_address, int port);
  Store& store() { return store_; }
  const api::Registry& registry() const { return registry_; }

 private:
  // Read-modify-write with retries on conflicting writers (GuaranteedUpdate): `mutate` changes the stored object;
  // a resourceVersion it leaves different from the stored one is the caller's precondition and fails with 409.
  RecordPtr guaranteed_update(const KindInfo& kind, const std::string& ns, const std::string& name,
                              const std::string& sub, const WriteOptions& opts,
                              const std::function<void(nlohmann::json&)>& mutate);
  void check_namespace_accepts(const KindInfo& kind, const std::string& ns) const;
  // Type errors (always 400) and unknown fields (per fieldValidation); with `old`, only those the write adds.
  void check_fields(const KindInfo& kind, const nlohmann::json& obj, const WriteOptions& opts,
                    const nlohmann::json* old = nullptr) const;
  // sub: "" for the object, or the subresource the write goes through (status, binding, scale, finalize).
  void validate(const KindInfo& kind, const nlohmann::json& obj, const nlohmann::json* old,
                const std::string& sub = "") const;
  RecordPtr delete_now(const KindInfo& kind, const std::string& key, const RecordPtr& current, nlohmann::json last,
                       bool dry_run);
  nlohmann::json to_scale(const KindInfo& kind, const nlohmann::json& obj) const;

  Store& store_;
  const api::Registry& registry_;
  ServiceAllocator& allocator_;
  const ServiceAccountTokenIssuer* token_issuer_ = nullptr;  // set once at start, before serving
  const RbacEscalationCheck* rbac_escalation_ = nullptr;    // likewise
};

// Refuses (400) field selectors on fields the kind does not index, as kube-apiserver does.
void check_field_selector(const KindInfo& kind, const api::FieldSelector& fields);

// RFC 3339 in UTC with seconds, as Kubernetes writes metav1.Time.
std::string now_rfc3339();
std::string format_rfc3339(int64_t epoch_seconds);
std::string new_uid();
// The kind's resource prefix in storage keys; keys are PREFIX/NAMESPACE/NAME or PREFIX/NAME.
std::string storage_prefix(const KindInfo& kind);

}  // namespace kctl::apiserver
