// The D-Bus transport: the object API of org.kctl.ApiServer1 on the node's bus.
// Placeholder until the D-Bus interface lands: every endpoint "dbus:..." is refused with a clear error.
#include "api/client.h"

namespace kctl::api {

TransportPtr make_dbus_transport(const std::string& bus_address, const ClientOptions&) {
  throw std::invalid_argument("the D-Bus transport (dbus:" + bus_address + ") is not built yet");
}

}  // namespace kctl::api
