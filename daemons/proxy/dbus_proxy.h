// kctl-proxy on D-Bus: org.kctl.Proxy1 at /org/kctl/Proxy1 (api/dbus/org.kctl.Proxy1.xml).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace kctl {
class DbusService;
class MethodCallQueue;
}  // namespace kctl

namespace kctl::proxy {

class Proxy;

class DbusProxy {
 public:
  // Stop the proxy before destroying this: Sync calls in progress wait for it.
  // Connects to `bus_address` ("" for the system bus), exports the object, owns org.kctl.Proxy1 and serves on a
  // thread of its own. Throws when the bus cannot be reached or the name cannot be owned.
  DbusProxy(Proxy& proxy, const std::string& bus_address, std::function<void(const std::string&)> failed = {});
  ~DbusProxy();
  DbusProxy(const DbusProxy&) = delete;
  DbusProxy& operator=(const DbusProxy&) = delete;

 private:
  class Object;
  std::unique_ptr<MethodCallQueue> calls_;
  std::unique_ptr<DbusService> service_;
  std::unique_ptr<Object> object_;
};

}  // namespace kctl::proxy
