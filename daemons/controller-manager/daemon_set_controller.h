// DaemonSet ("daemonset", pkg/controller/daemon): one pod of the template on every node that matches its
// nodeSelector and required node affinity and whose taints it tolerates (with the tolerations kube adds to every
// daemon pod), pinned there by a nodeAffinity matchFields term on metadata.name; pods added and removed as nodes come,
// go and change; RollingUpdate (maxUnavailable) and OnDelete updates told apart by the controller-revision-hash
// label; the status kubectl shows (desired, current, ready, up-to-date, available, misscheduled).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/event_recorder.h"
#include "daemons/controller-manager/controller.h"
#include "daemons/controller-manager/expectations.h"

namespace kctl::controllers {

// The label that says which template a daemon pod was made from (apps.ControllerRevisionHashLabelKey).
inline constexpr const char* kControllerRevisionHashLabel = "controller-revision-hash";

// kube's ComputeHash in spirit: FNV-1a of the template (its canonical JSON here) and the collision count, written
// with the alphabet of rand.SafeEncodeString so it is a valid label value without vowels.
std::string pod_template_hash(const nlohmann::json& pod_template, const nlohmann::json& collision_count);
// The node a daemon pod is for: spec.nodeName, else the metadata.name its node affinity pins it to ("" if neither).
std::string target_node_name(const nlohmann::json& pod);
// The tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations) added to a pod spec.
void add_daemon_pod_tolerations(nlohmann::json& pod_spec);

struct DaemonPlacement {
  bool should_run = false;       // a pod should be created here if there is none
  bool should_continue = false;  // a pod that is here may stay
};
// NodeShouldRunDaemonPod: the template's nodeName, nodeSelector and required node affinity, then its taints.
DaemonPlacement node_should_run_daemon_pod(const nlohmann::json& node, const nlohmann::json& daemon_set);

class DaemonSetController : public Controller {
 public:
  explicit DaemonSetController(ControllerContext& context);
  ~DaemonSetController() override;
  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  using PodsByNode = std::map<std::string, std::vector<api::ObjectPtr>>;
  PodsByNode pods_by_node(const nlohmann::json& ds) const;
  void manage(const nlohmann::json& ds, const std::vector<api::ObjectPtr>& nodes, const PodsByNode& by_node,
              const std::string& hash);
  void rolling_update(const nlohmann::json& ds, const std::vector<api::ObjectPtr>& nodes, const PodsByNode& by_node,
                      const std::string& hash);
  // Creates a pod on each of `nodes` and deletes `pods`, with expectations set first.
  void sync_nodes(const nlohmann::json& ds, const std::vector<api::ObjectPtr>& to_delete,
                  const std::vector<std::string>& nodes, const std::string& hash);
  void update_status(const nlohmann::json& ds, const std::vector<api::ObjectPtr>& nodes, const PodsByNode& by_node,
                     const std::string& hash, bool observed_generation);
  // Failed daemon pods are replaced with back-off per node (failedPodsBackoff): a kubelet that rejects them must
  // not make a hot loop. True when the pod may be deleted now.
  bool failed_pod_backoff_over(const std::string& key);
  void enqueue_owner(const api::ObjectPtr& pod);
  void enqueue_all();

  api::Informer& daemon_sets_;
  api::Informer& pods_;
  api::Informer& nodes_;
  api::EventRecorder events_;
  ControllerExpectations expectations_;
  std::mutex backoff_mutex_;
  struct Backoff {
    std::chrono::steady_clock::time_point until;
    std::chrono::seconds delay{0};
  };
  std::map<std::string, Backoff> failed_backoff_;  // guarded by backoff_mutex_
};

}  // namespace kctl::controllers
