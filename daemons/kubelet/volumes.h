// Pod volumes on the node: emptyDir (a directory of the pod), hostPath (with its type checks), configMap and
// secret (their keys written as files, refreshed on every sync), downwardAPI and projected (configMap, secret,
// downwardAPI and serviceAccountToken sources: a bound token from TokenRequest, renewed at 80% of its life); and
// the mounts a container's volumeMounts ask for.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "daemons/kubelet/container_runtime.h"

namespace kctl::kubelet {

class PodVolumes {
 public:
  // pod_dir: the pod's directory on the node (volumes live in pod_dir/volumes/<kind>/<name>).
  PodVolumes(api::Transport& transport, std::string pod_dir) : transport_(transport), pod_dir_(std::move(pod_dir)) {}
  // Makes every volume of the pod exist on the node. Throws std::runtime_error with a message fit for an Event
  // ("configmap \"web\" not found").
  void prepare(const nlohmann::json& pod);
  // The mounts for one container spec; throws when a volumeMount names an unknown volume.
  std::vector<Mount> mounts_for(const nlohmann::json& container) const;
  // Removes what prepare() made (never touches hostPath sources).
  void cleanup();
  // After prepare(): when the earliest projected ServiceAccount token is due for renewal (the pod should be synced
  // again then); nullopt when the pod has none.
  std::optional<std::chrono::system_clock::time_point> next_refresh() const { return next_refresh_; }

 private:
  // The files of a projected or downwardAPI volume: relative path -> content and mode.
  using Files = std::map<std::string, std::pair<std::string, int>>;
  void add_key_files(Files& files, const nlohmann::json& data, bool base64, const nlohmann::json& items,
                     int default_mode);
  void add_downward_files(Files& files, const nlohmann::json& pod, const nlohmann::json& items, int default_mode);
  // The token already in `path` while it is good for a while yet, else a new one from TokenRequest.
  std::string service_account_token(const nlohmann::json& pod, const nlohmann::json& source, const std::string& path);
  void project(const nlohmann::json& pod, const nlohmann::json& projected, const std::string& dir);
  void write_keys(const std::string& dir, const nlohmann::json& data, bool base64, const nlohmann::json& items,
                  int default_mode);

  api::Transport& transport_;
  std::string pod_dir_;
  std::map<std::string, std::string> paths_;  // volume name -> node path
  std::optional<std::chrono::system_clock::time_point> next_refresh_;
};

// The JWT's claims when `token` is one (no signature check: the kubelet only reads the times of its own tokens).
std::optional<nlohmann::json> token_claims(const std::string& token);
// When the kubelet renews a token issued at `iat` that expires at `exp` (seconds since the epoch): at 80% of its
// life, or after 24 hours, whichever comes first, as kubelet's token manager.
int64_t token_refresh_time(int64_t iat, int64_t exp);

}  // namespace kctl::kubelet
