// The Deployment controller, as kube's pkg/controller/deployment: a ReplicaSet per pod template (named
// <deployment>-<pod-template-hash>), rolled out by RollingUpdate (within maxSurge and maxUnavailable) or Recreate,
// scaled proportionally, paused, with revision annotations that kubectl rollout history / undo read and write,
// revisionHistoryLimit cleanup, and the Progressing / Available conditions that kubectl rollout status waits on.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/event_recorder.h"
#include "daemons/controller-manager/controller.h"
#include "daemons/controller-manager/deployment_util.h"

namespace kctl::controllers {

class DeploymentController : public Controller {
 public:
  explicit DeploymentController(ControllerContext& context);
  ~DeploymentController() override;
  static ControllerPtr create(ControllerContext& context) { return std::make_unique<DeploymentController>(context); }

  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  using RsList = deployment::RsList;
  // One sync's view of a Deployment: the object as last read or written, and its ReplicaSets (updated in place as
  // the server answers, so that later steps of the same sync see what earlier ones did).
  struct State {
    std::string key;
    nlohmann::json d;
    std::string server_revision;  // the revision annotation the server has
    std::deque<nlohmann::json> store;
    RsList rs_list;
    std::map<std::string, std::vector<api::ObjectPtr>> pods;  // by ReplicaSet uid
  };

  // Event handlers.
  api::ObjectPtr resolve_controller_ref(const std::string& ns, const nlohmann::json& ref) const;
  std::vector<api::ObjectPtr> deployments_for(const nlohmann::json& rs) const;
  void on_rs_add(const api::ObjectPtr& rs);
  void on_rs_update(const api::ObjectPtr& old_rs, const api::ObjectPtr& cur);
  void on_rs_delete(const api::ObjectPtr& rs);
  void on_pod_delete(const api::ObjectPtr& pod);

  // deployment_controller.cc: reading, claiming, the new ReplicaSet, writes.
  void claim_replica_sets(State& s);
  void map_pods(State& s);
  std::pair<nlohmann::json*, RsList> all_replica_sets(State& s, bool create);
  nlohmann::json* new_replica_set(State& s, const RsList& old_rss, bool create);
  nlohmann::json* create_new_replica_set(State& s, const RsList& old_rss, const std::string& new_revision);
  bool scale_replica_set_and_record_event(State& s, nlohmann::json& rs, int32_t new_scale);
  bool scale_replica_set(State& s, nlohmann::json& rs, int32_t new_scale);
  // The revision annotation if it changed, then the status (callers write only what changed).
  void write_deployment(State& s);
  void record(const nlohmann::json& d, api::EventType type, const std::string& reason, const std::string& message);

  // deployment_rollout.cc: what a sync does.
  void check_paused_conditions(State& s);
  bool is_scaling_event(State& s);
  void sync_scaling(State& s);  // kube's sync(): scale, clean up when paused, status
  void sync_status_only(State& s);
  void scale(State& s, nlohmann::json* new_rs, const RsList& old_rss);
  void rollout_rolling(State& s);
  bool reconcile_new_replica_set(State& s, const RsList& all, nlohmann::json& new_rs);
  bool reconcile_old_replica_sets(State& s, const RsList& old_active, nlohmann::json& new_rs);
  int32_t cleanup_unhealthy_replicas(State& s, RsList old_rss, int32_t max_cleanup);
  int32_t scale_down_old_replica_sets_for_rolling_update(State& s, const RsList& all, RsList old_rss);
  void rollout_recreate(State& s);
  bool old_pods_running(const State& s, const nlohmann::json* new_rs, const RsList& old_rss) const;
  void cleanup_deployment(State& s, const RsList& old_rss);
  nlohmann::json calculate_status(const State& s, const RsList& all, const nlohmann::json* new_rs) const;
  void sync_deployment_status(State& s, const RsList& all, const nlohmann::json* new_rs);
  void sync_rollout_status(State& s, const RsList& all, const nlohmann::json* new_rs);
  void requeue_stuck_deployment(State& s, const nlohmann::json& new_status);

  api::Informer& deployments_;
  api::Informer& replica_sets_;
  api::Informer& pods_;
  api::ResourceClient deployment_client_;
  api::ResourceClient rs_client_;
  api::EventRecorderPtr events_;
};

}  // namespace kctl::controllers
