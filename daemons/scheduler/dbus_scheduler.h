// kctl-scheduler on D-Bus: org.kctl.Scheduler1 at /org/kctl/Scheduler1 (api/dbus/org.kctl.Scheduler1.xml).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace kctl {
class DbusService;
}

namespace kctl::scheduler {

class Scheduler;

class DbusScheduler {
 public:
  // Connects to `bus_address` ("" for the system bus), exports the object, owns org.kctl.Scheduler1 and serves on
  // a thread of its own. `leader` says whether this process holds the Lease. Throws when the bus cannot be reached
  // or the name cannot be owned.
  DbusScheduler(Scheduler& scheduler, std::function<bool()> leader, const std::string& bus_address,
                std::function<void(const std::string&)> failed = {});
  ~DbusScheduler();
  DbusScheduler(const DbusScheduler&) = delete;
  DbusScheduler& operator=(const DbusScheduler&) = delete;
  std::string unique_name() const;

 private:
  class Object;
  std::unique_ptr<DbusService> service_;
  std::unique_ptr<Object> object_;
};

}  // namespace kctl::scheduler
