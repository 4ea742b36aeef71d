// The ServiceAccount admission plugin: automount decision, the kube-api-access-XXXXX projected volume and its mounts.
#include "daemons/apiserver/service_account_admission.h"

#include <set>

namespace kctl::apiserver {

using nlohmann::json;

namespace {

// A boolean field, or nullopt when unset (or not a boolean).
std::optional<bool> flag(const json& obj, const char* pointer) {
  json v = obj.value(json::json_pointer(pointer), json());
  if (!v.is_boolean()) return std::nullopt;
  return v.get<bool>();
}

// Adds the mount to each container of `list` that has nothing at the token path; whether any got it.
bool add_mounts(json& spec, const char* list, const std::string& volume) {
  if (!spec.contains(list) || !spec[list].is_array()) return false;
  bool added = false;
  for (auto& c : spec[list]) {
    if (!c.is_object()) continue;
    if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array()) c["volumeMounts"] = json::array();
    bool taken = false;
    for (const auto& m : c["volumeMounts"])
      if (m.is_object() && m.value("mountPath", "") == kServiceAccountTokenMountPath) taken = true;
    if (taken) continue;
    c["volumeMounts"].push_back({{"name", volume}, {"readOnly", true}, {"mountPath", kServiceAccountTokenMountPath}});
    added = true;
  }
  return added;
}

}  // namespace

json service_account_token_volume_source() {
  return {{"defaultMode", 0644},
          {"sources",
           {{{"serviceAccountToken", {{"expirationSeconds", kProjectedTokenExpirationSeconds}, {"path", "token"}}}},
            {{"configMap", {{"name", kRootCaConfigMap}, {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}},
            {{"downwardAPI",
              {{"items",
                {{{"path", "namespace"},
                  {"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}}}}}}}};
}

void admit_service_account(json& pod, const ObjectGetter& get, const std::function<std::string()>& suffix) {
  if (!pod.contains("spec") || !pod["spec"].is_object()) return;
  json annotations = pod.value("/metadata/annotations"_json_pointer, json::object());
  if (annotations.is_object() && annotations.contains("kubernetes.io/config.mirror")) return;
  json& spec = pod["spec"];
  std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  std::string sa_name = spec.value("serviceAccountName", "");
  if (sa_name.empty()) return;
  auto sa = get("serviceaccounts", ns, sa_name);
  if (!sa) return;  // kube: 403 "error looking up service account"; see the header
  std::optional<bool> automount = flag(pod, "/spec/automountServiceAccountToken");
  if (!automount) automount = flag(*sa, "/automountServiceAccountToken");
  if (automount == false) return;

  std::set<std::string> names;
  std::string volume;
  bool had_volumes = spec.contains("volumes") && spec["volumes"].is_array();
  if (!had_volumes) spec["volumes"] = json::array();
  for (const auto& v : spec["volumes"]) {
    std::string name = v.is_object() ? v.value("name", "") : "";
    names.insert(name);
    if (volume.empty() && name.rfind(kServiceAccountVolumePrefix, 0) == 0) volume = name;
  }
  bool has_volume = !volume.empty();
  while (volume.empty() || (!has_volume && names.count(volume))) volume = kServiceAccountVolumePrefix + suffix();
  bool needed = add_mounts(spec, "initContainers", volume);
  needed = add_mounts(spec, "containers", volume) || needed;
  if (!has_volume && needed) spec["volumes"].push_back({{"name", volume}, {"projected", service_account_token_volume_source()}});
  if (!had_volumes && spec["volumes"].empty()) spec.erase("volumes");
}

}  // namespace kctl::apiserver
