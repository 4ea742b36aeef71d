// kctl's answer to a dbus: endpoint: kubeconfig servers are http(s) URLs, and leaving the library's D-Bus
// transport out of this binary keeps sd-bus and its libraries out of every kctl start-up (kctl-local has it).
#include <stdexcept>

#include "api/client.h"

namespace kctl::api {

TransportPtr make_dbus_transport(const std::string& bus_address, const ClientOptions&) {
  throw std::invalid_argument("kctl reaches the API server over HTTP(S); the D-Bus endpoint \"dbus:" + bus_address +
                              "\" is for the daemons on a node");
}

}  // namespace kctl::api
