// Pod volumes on the node: emptyDir (a directory of the pod), hostPath (with its type checks), configMap and
// secret (their keys written as files, refreshed on every sync); and the mounts a container's volumeMounts ask for.
#pragma once

#include <map>
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

 private:
  void write_keys(const std::string& dir, const nlohmann::json& data, bool base64, const nlohmann::json& items,
                  int default_mode);

  api::Transport& transport_;
  std::string pod_dir_;
  std::map<std::string, std::string> paths_;  // volume name -> node path
};

}  // namespace kctl::kubelet
