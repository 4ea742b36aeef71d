// DbusControllerManager: the controllers' queue depths and last syncs as properties, Resync and ListControllers.
#include "daemons/controller-manager/dbus_controller_manager.h"

#include "daemons/common/dbus_service.h"
#include "daemons/controller-manager/controller_manager.h"
#include "dbus/org.kctl.ControllerManager1_adaptor.h"

namespace kctl::controllers {

namespace {
constexpr const char* kName = "org.kctl.ControllerManager1";
constexpr const char* kPath = "/org/kctl/ControllerManager1";
using State = sdbus::Struct<uint32_t, std::string>;
}  // namespace

class DbusControllerManager::Object final : public DbusObject<org::kctl::ControllerManager1_adaptor> {
 public:
  Object(DbusService& service, ControllerManager& manager) : DbusObject(service, kPath), manager_(manager) {
    publish();
  }
  ~Object() { withdraw(); }

 private:
  State state(const std::string& name) {
    const Controller* c = manager_.controller(name);
    return c ? State{uint32_t(c->queue_depth()), c->last_sync()} : State{0, ""};
  }
  void Resync(const std::string& name) override {
    Controller* c = manager_.controller(name);
    if (!c)
      throw sdbus::Error(std::string(kName) + ".Error.NotFound",
                         "no controller \"" + name + "\" runs here" + (manager_.leading() ? "" : " (not the leader)"));
    c->resync();
  }
  std::vector<sdbus::Struct<std::string, uint32_t, std::string>> ListControllers() override {
    std::vector<sdbus::Struct<std::string, uint32_t, std::string>> out;
    for (const Controller* c : manager_.controllers())
      out.emplace_back(c->name(), uint32_t(c->queue_depth()), c->last_sync());
    return out;
  }
  bool Leader() override { return manager_.leading(); }
  State ReplicationController() override { return state("replicationcontroller"); }
  State ReplicaSet() override { return state("replicaset"); }
  State Deployment() override { return state("deployment"); }
  State DaemonSet() override { return state("daemonset"); }
  State Endpoints() override { return state("endpoint"); }
  State Namespace() override { return state("namespace"); }
  State GarbageCollector() override { return state("garbagecollector"); }
  State NodeLifecycle() override { return state("nodelifecycle"); }
  State NodeIpam() override { return state("nodeipam"); }

  ControllerManager& manager_;
};

DbusControllerManager::DbusControllerManager(ControllerManager& manager, const std::string& bus_address,
                                             std::function<void(const std::string&)> failed)
    : service_(std::make_unique<DbusService>(bus_address)) {
  object_ = std::make_unique<Object>(*service_, manager);
  service_->own_name(kName);
  service_->start(std::move(failed));
}

DbusControllerManager::~DbusControllerManager() {
  object_.reset();
  service_->stop();
}

std::string DbusControllerManager::unique_name() const { return service_->unique_name(); }

}  // namespace kctl::controllers
