// kctl-kubelet on D-Bus: org.kctl.Kubelet1 at /org/kctl/Kubelet1 (api/dbus/org.kctl.Kubelet1.xml).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace kctl {
class DbusService;
}

namespace kctl::kubelet {

class Kubelet;

class DbusKubelet {
 public:
  // Connects to `bus_address` ("" for the system bus), exports the object, owns org.kctl.Kubelet1 and serves on
  // a thread of its own. Throws when the bus cannot be reached or the name cannot be owned.
  DbusKubelet(Kubelet& kubelet, const std::string& bus_address, std::function<void(const std::string&)> failed = {});
  ~DbusKubelet();
  DbusKubelet(const DbusKubelet&) = delete;
  DbusKubelet& operator=(const DbusKubelet&) = delete;
  std::string unique_name() const;

 private:
  class Object;
  std::unique_ptr<DbusService> service_;
  std::unique_ptr<Object> object_;
};

}  // namespace kctl::kubelet
