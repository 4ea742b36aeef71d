// The ReplicaSet controller, which also serves ReplicationControllers (as kube's ReplicationManager wraps it): keeps
// spec.replicas active pods matching the selector, creating them from the template in slow-start batches and
// deleting the surplus in kube's order, adopting orphans and releasing pods that stopped matching, and reports
// replicas / fullyLabeledReplicas / readyReplicas / availableReplicas / observedGeneration through the status.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/event_recorder.h"
#include "api/selector.h"
#include "daemons/controller-manager/controller.h"
#include "daemons/controller-manager/expectations.h"

namespace kctl::controllers {

// kube's BurstReplicas: at most this many pods are created or deleted by one sync, so that one huge scale-up
// cannot monopolize the apiserver; the rest follows once these were observed.
inline constexpr int kBurstReplicas = 500;

// What differs between the two kinds one controller serves.
struct ReplicaSetKind {
  std::string resource;     // "replicasets", "replicationcontrollers"
  std::string api_version;  // of the controller references it writes
  std::string kind;
  std::string component;  // the events' source
  bool map_selector;      // spec.selector is a plain label map (ReplicationController), not a LabelSelector
};

class ReplicaSetController : public Controller {
 public:
  ReplicaSetController(std::string name, ControllerContext& context, ReplicaSetKind kind);
  ~ReplicaSetController() override;
  static ControllerPtr for_replica_sets(ControllerContext& context);
  static ControllerPtr for_replication_controllers(ControllerContext& context);

  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  api::LabelSelector selector_of(const nlohmann::json& rs) const;  // throws StatusError on a bad selector
  api::ObjectPtr resolve_controller_ref(const std::string& ns, const nlohmann::json& ref) const;
  std::vector<api::ObjectPtr> replica_sets_matching(const nlohmann::json& pod) const;
  void enqueue_obj(const nlohmann::json& rs) { enqueue(key_of(rs)); }

  void on_pod_add(const api::ObjectPtr& pod);
  void on_pod_update(const api::ObjectPtr& old_pod, const api::ObjectPtr& cur_pod);
  void on_pod_delete(const api::ObjectPtr& pod);

  void manage_replicas(const std::vector<api::ObjectPtr>& pods, const nlohmann::json& rs, const std::string& key);
  void create_pods(int count, const nlohmann::json& rs, const std::string& key);
  void delete_pods(std::vector<api::ObjectPtr> pods, const nlohmann::json& rs, const std::string& key);
  std::vector<api::ObjectPtr> related_pods(const nlohmann::json& rs) const;
  nlohmann::json calculate_status(const nlohmann::json& rs, const std::vector<api::ObjectPtr>& pods,
                                  const std::string& manage_error) const;
  nlohmann::json update_status(const nlohmann::json& rs, nlohmann::json status);
  void record(const nlohmann::json& rs, api::EventType type, const std::string& reason, const std::string& message);

  ReplicaSetKind kind_;
  api::Informer& replica_sets_;
  api::Informer& pods_;
  api::ResourceClient rs_client_;
  api::ResourceClient pod_client_;
  ControllerExpectations expectations_;
  api::EventRecorderPtr events_;
};

}  // namespace kctl::controllers
