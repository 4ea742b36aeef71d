// The ClusterRole aggregation controller ("clusterrole-aggregation"), as kube's pkg/controller/clusterroleaggregation:
// a ClusterRole with an aggregationRule has as its rules those of the ClusterRoles its selectors match, kept so as
// roles are labelled, changed and deleted.
#pragma once

#include <string>
#include <vector>

#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

// The rules `role` should have: for each of its clusterRoleSelectors in turn, the rules of the ClusterRoles in `all`
// it matches (in name order, `role` itself left out), each rule once. Rules are compared as kube compares
// PolicyRules (an empty list is no list) and written with only their non-empty lists. Throws api::StatusError(400)
// for a selector that does not parse.
nlohmann::json aggregated_rules(const nlohmann::json& role, const std::vector<api::ObjectPtr>& all);

class ClusterRoleAggregationController : public Controller {
 public:
  explicit ClusterRoleAggregationController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& name) override;  // the key is the aggregating ClusterRole's name

 private:
  // Any ClusterRole's change may change what any aggregating one gathers (kube keeps no dependency graph either:
  // the roles are few): every ClusterRole with an aggregationRule is queued.
  void enqueue_aggregating();

  api::Informer& cluster_roles_;
};

}  // namespace kctl::controllers
