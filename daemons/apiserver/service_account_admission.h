// The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a pod whose ServiceAccount lets it
// gets the projected volume kube-api-access-XXXXX (token, ca.crt, namespace) mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every container.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemons/apiserver/service_account_token.h"

namespace kctl::apiserver {

inline constexpr const char* kServiceAccountTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
inline constexpr const char* kServiceAccountVolumePrefix = "kube-api-access-";
inline constexpr const char* kRootCaConfigMap = "kube-root-ca.crt";
// The projected token's lifetime: an hour and a few seconds, so that kube can tell these tokens from others.
inline constexpr int64_t kProjectedTokenExpirationSeconds = 3607;

// The projected volume source kube's plugin adds (TokenVolumeSource).
nlohmann::json service_account_token_volume_source();

// Admits a pod being created (its spec already defaulted: serviceAccountName set). Mirror pods (the
// kubernetes.io/config.mirror annotation) are left alone. When the ServiceAccount exists and neither the pod's nor
// the ServiceAccount's automountServiceAccountToken is false (the pod's wins when set), adds the volume (unless one
// named kube-api-access-* is there) and the mount to every init and app container without a mount at that path.
// Deviation from kube, which refuses a pod whose ServiceAccount does not exist: such a pod is admitted, without the
// volume (the serviceaccount controller makes `default` only after the namespace exists).
// `suffix` makes the 5 random characters of the volume name.
void admit_service_account(nlohmann::json& pod, const ObjectGetter& get, const std::function<std::string()>& suffix);

}  // namespace kctl::apiserver
