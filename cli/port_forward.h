// kctl port-forward's local side: the LOCAL:REMOTE arguments, listeners on the local addresses, and one relay per
// accepted connection through a SPDY port-forward session (api/spdy.h), printing kubectl's lines.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "api/spdy.h"

namespace kctl::cli {

struct PortMapping {
  uint16_t local = 0;  // 0: any free port (":REMOTE")
  uint16_t remote = 0;
};

// "8080:80", "80" (the same port locally) and ":80" (a free local port); throws CliError as kubectl words it.
std::vector<PortMapping> parse_port_mappings(const std::vector<std::string>& args);

// Listens on `addresses` ("localhost" is 127.0.0.1 and ::1) for every mapping, prints "Forwarding from ..." for
// each listener, and relays each connection until the session with the server ends. Returns kctl's exit code.
int forward_ports(spdy::PortForwardClient& client, std::vector<PortMapping> mappings,
                  const std::vector<std::string>& addresses, std::ostream& out, std::ostream& err);

}  // namespace kctl::cli
