// ControllerManager: building the enabled controllers (they register their informer handlers as they are built),
// starting the informers, waiting for their first lists, then the controllers' workers; under leader election all
// of it happens only once the Lease is ours.
#include "daemons/controller-manager/controller_manager.h"

#include <algorithm>

#include "daemons/common/daemon.h"
#include "daemons/controller-manager/certificate_controllers.h"
#include "daemons/controller-manager/clusterrole_aggregation_controller.h"
#include "daemons/controller-manager/daemon_set_controller.h"
#include "daemons/controller-manager/deployment_controller.h"
#include "daemons/controller-manager/endpoints_controller.h"
#include "daemons/controller-manager/endpointslice_controller.h"
#include "daemons/controller-manager/garbage_collector.h"
#include "daemons/controller-manager/namespace_controller.h"
#include "daemons/controller-manager/node_ipam_controller.h"
#include "daemons/controller-manager/node_lifecycle_controller.h"
#include "daemons/controller-manager/replica_set_controller.h"
#include "daemons/controller-manager/root_ca_cert_publisher.h"
#include "daemons/controller-manager/service_account_controller.h"
#include "daemons/controller-manager/taint_eviction_controller.h"

namespace kctl::controllers {

namespace {
// How long the informers get for their first list before the controllers start anyway (they then see a partial
// cache, which level-driven syncs repair at the next event or resync).
constexpr auto kCacheSyncTimeout = std::chrono::seconds(60);
}  // namespace

const std::vector<std::pair<std::string, ControllerFactory>>& known_controllers() {
  static const std::vector<std::pair<std::string, ControllerFactory>> all = {
      {"endpoint", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<EndpointsController>(c); }},
      {"endpointslice", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<EndpointSliceController>(c); }},
      {"garbagecollector", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<GarbageCollector>(c); }},
      {"namespace", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<NamespaceController>(c); }},
      {"daemonset", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<DaemonSetController>(c); }},
      {"nodeipam", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<NodeIpamController>(c); }},
      {"nodelifecycle", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<NodeLifecycleController>(c); }},
      {"taint-eviction-controller",
       [](ControllerContext& c) -> ControllerPtr { return std::make_unique<TaintEvictionController>(c); }},
      {"replicaset", ReplicaSetController::for_replica_sets},
      {"replicationcontroller", ReplicaSetController::for_replication_controllers},
      {"deployment", DeploymentController::create},
      {"serviceaccount", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<ServiceAccountsController>(c); }},
      {"root-ca-cert-publisher",
       [](ControllerContext& c) -> ControllerPtr { return std::make_unique<RootCaCertPublisher>(c); }},
      {"csrapproving", [](ControllerContext& c) -> ControllerPtr { return std::make_unique<CsrApprovingController>(c); }},
      // Without a CA to sign with, as kube-controller-manager without its signing files: not started.
      {"csrsigning",
       [](ControllerContext& c) -> ControllerPtr {
         if (c.options.cluster_signing_cert_file.empty() && c.options.cluster_signing_key_file.empty()) return nullptr;
         return std::make_unique<CsrSigningController>(c);
       }},
      {"clusterrole-aggregation",
       [](ControllerContext& c) -> ControllerPtr { return std::make_unique<ClusterRoleAggregationController>(c); }},
  };
  return all;
}

bool controller_enabled(const std::vector<std::string>& enabled, const std::string& name) {
  bool on = false;
  for (const auto& e : enabled) {
    if (e == "*" || e == name) on = true;
    if (e == "-" + name) return false;
  }
  return on;
}

ControllerManager::ControllerManager(ControllerManagerOptions options) : options_(std::move(options)) {
  for (const auto& e : options_.enabled) {
    std::string name = e.rfind('-', 0) == 0 ? e.substr(1) : e;
    bool known = name == "*" || std::any_of(known_controllers().begin(), known_controllers().end(),
                                            [&](const auto& c) { return c.first == name; });
    if (!known) throw std::invalid_argument("--controllers: unknown controller \"" + name + "\"");
  }
  transport_ = api::make_transport(options_.apiserver, options_.client);
  informers_ = std::make_unique<api::InformerFactory>(*transport_);
  context_ = std::make_unique<ControllerContext>(ControllerContext{*transport_, *informers_, options_.controllers});
}

ControllerManager::~ControllerManager() { stop(); }

void ControllerManager::start(std::function<void()> lost) {
  lost_ = std::move(lost);
  if (!options_.leader_elect) {
    start_controllers();
    return;
  }
  api::LeaderElectionConfig c = options_.election;
  c.on_started_leading = [this] {
    log(LogLevel::Info, "leading as " + options_.election.identity + ": starting the controllers");
    start_controllers();
  };
  c.on_stopped_leading = [this] {
    if (!leading_) return;
    log(LogLevel::Error, "lost the lease kube-system/" + options_.election.lease_name);
    if (lost_) lost_();
  };
  c.on_error = [](const std::string& error) { log(LogLevel::Warning, error); };
  c.on_new_leader = [this](const std::string& id) {
    if (id != options_.election.identity) log(LogLevel::Info, "the leader is " + id);
  };
  elector_ = std::make_unique<api::LeaderElector>(*transport_, c);
  election_thread_ = std::thread([this] { elector_->run(); });
}

void ControllerManager::start_controllers() {
  for (const auto& [name, make] : known_controllers()) {
    if (!controller_enabled(options_.enabled, name)) continue;
    if (ControllerPtr c = make(*context_)) controllers_.push_back(std::move(c));
    else log(LogLevel::Info, "not starting " + name + ": it has nothing to work with (see its flags)");
  }
  informers_->start();
  if (!informers_->wait_for_sync(kCacheSyncTimeout))
    log(LogLevel::Warning, "the informers did not list everything within 60 s; starting the controllers anyway");
  for (auto& c : controllers_) c->run();
  leading_ = true;
  notify_status("Running " + std::to_string(controllers_.size()) + " controllers");
}

void ControllerManager::stop() {
  leading_ = false;  // what follows is no loss of leadership
  for (auto& c : controllers_) c->stop();
  if (elector_) elector_->stop();
  if (election_thread_.joinable()) election_thread_.join();
  if (informers_) informers_->stop();
  controllers_.clear();
}

std::vector<Controller*> ControllerManager::controllers() const {
  std::vector<Controller*> out;
  if (!leading_) return out;
  for (const auto& c : controllers_) out.push_back(c.get());
  return out;
}

Controller* ControllerManager::controller(const std::string& name) const {
  for (auto* c : controllers())
    if (c->name() == name) return c;
  return nullptr;
}

}  // namespace kctl::controllers
