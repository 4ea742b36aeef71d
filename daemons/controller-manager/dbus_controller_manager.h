// kctl-controller-manager on D-Bus: org.kctl.ControllerManager1 at /org/kctl/ControllerManager1
// (api/dbus/org.kctl.ControllerManager1.xml).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace kctl {
class DbusService;
}

namespace kctl::controllers {

class ControllerManager;

class DbusControllerManager {
 public:
  // Connects to `bus_address` ("" for the system bus), exports the object, owns org.kctl.ControllerManager1 and
  // serves on a thread of its own. Throws when the bus cannot be reached or the name cannot be owned.
  DbusControllerManager(ControllerManager& manager, const std::string& bus_address,
                        std::function<void(const std::string&)> failed = {});
  ~DbusControllerManager();
  DbusControllerManager(const DbusControllerManager&) = delete;
  DbusControllerManager& operator=(const DbusControllerManager&) = delete;
  std::string unique_name() const;

 private:
  class Object;
  std::unique_ptr<DbusService> service_;
  std::unique_ptr<Object> object_;
};

}  // namespace kctl::controllers
