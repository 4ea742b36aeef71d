// kctl-scheduler on D-Bus: the org.kctl.Scheduler1 object (its counters, Leader, ScheduleNow) and the service
// that owns the name.
#include "daemons/scheduler/dbus_scheduler.h"

#include "daemons/common/dbus_service.h"
#include "daemons/scheduler/scheduler.h"
#include "dbus/org.kctl.Scheduler1_adaptor.h"

namespace kctl::scheduler {

namespace {
constexpr const char* kName = "org.kctl.Scheduler1";
constexpr const char* kPath = "/org/kctl/Scheduler1";
}  // namespace

class DbusScheduler::Object final : public DbusObject<org::kctl::Scheduler1_adaptor> {
 public:
  Object(DbusService& service, Scheduler& scheduler, std::function<bool()> leader)
      : DbusObject(service, kPath), scheduler_(scheduler), leader_(std::move(leader)) {
    publish();
  }
  ~Object() { withdraw(); }

 private:
  void ScheduleNow() override { scheduler_.schedule_now(); }
  uint32_t PendingPods() override { return uint32_t(scheduler_.stats().pending); }
  uint64_t ScheduledTotal() override { return scheduler_.stats().scheduled; }
  uint64_t FailedTotal() override { return scheduler_.stats().failed; }
  uint64_t LastCycleMicroseconds() override { return scheduler_.stats().last_cycle_us; }
  bool Leader() override { return leader_(); }

  Scheduler& scheduler_;
  std::function<bool()> leader_;
};

DbusScheduler::DbusScheduler(Scheduler& scheduler, std::function<bool()> leader, const std::string& bus_address,
                             std::function<void(const std::string&)> failed)
    : service_(std::make_unique<DbusService>(bus_address)) {
  object_ = std::make_unique<Object>(*service_, scheduler, std::move(leader));
  service_->own_name(kName);
  service_->start(std::move(failed));
}

DbusScheduler::~DbusScheduler() {
  object_.reset();
  service_->stop();
}

std::string DbusScheduler::unique_name() const { return service_->unique_name(); }

}  // namespace kctl::scheduler
