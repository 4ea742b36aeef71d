// kctl-proxy: flags (named as kube-proxy names them where it has them), the Services and EndpointSlices informers,
// the sync loop over table ip kctl, org.kctl.Proxy1, READY=1 and STATUS= lines, and a clean stop on SIGTERM that
// leaves the table in place (traffic keeps flowing while the proxy restarts). --cleanup removes the table and
// exits.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "daemons/common/daemon.h"
#include "daemons/common/dbus_service.h"
#include "daemons/proxy/dbus_proxy.h"
#include "daemons/proxy/proxy.h"

using namespace kctl;

namespace {

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

bool parse_cidr(const std::string& flag, const std::string& value, std::optional<nft::Ipv4Prefix>& out) {
  if (value.empty()) return true;
  auto p = nft::Ipv4Prefix::parse(value);
  if (!p || value.find('/') == std::string::npos) {
    std::cerr << "kctl-proxy: --" << flag << " must be an IPv4 CIDR, not \"" << value << "\"\n";
    return false;
  }
  out = *p;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  std::string apiserver = "dbus:", dbus_address, dbus_mode = "on", hostname_override, cluster_cidr,
              service_cidr = "10.96.0.0/12";
  api::ClientOptions client;
  bool cleanup = false;
  proxy::ProxyOptions o;
  Flags flags("kctl-proxy", "The kctl proxy: programs this node's nftables table ip kctl for Services.");
  add_apiserver_flags(flags, &apiserver, &client);
  flags.add("hostname-override", &hostname_override, "the name of this node (default: the host name)");
  flags.add("cluster-cidr", &cluster_cidr,
            "the pods' address range: traffic to a ClusterIP from outside it is masqueraded (default: none is)");
  flags.add("service-cluster-ip-range", &service_cidr,
            "the ClusterIP range: addresses in it that are no ClusterIP are refused, and it is routed onto --bridge");
  flags.add("bridge", &o.bridge, "the node bridge the service range is routed onto (\"\": add no route)");
  flags.add("sync-period", &o.sync_period, "how often the whole table is rewritten, repairing any drift");
  flags.add("cleanup", &cleanup, "remove table ip kctl and the service-range route, then exit");
  flags.add("dbus-address", &dbus_address, "the bus to own org.kctl.Proxy1 on (default: the system bus)");
  flags.add("dbus", &dbus_mode, "on: export org.kctl.Proxy1 on D-Bus; none: do not");
  flags.parse(argc, argv);
  set_log_identifier("kctl-proxy");
  if (dbus_mode != "on" && dbus_mode != "none") {
    std::cerr << "kctl-proxy: --dbus must be on or none\n";
    return 2;
  }
  if (!parse_cidr("cluster-cidr", cluster_cidr, o.rules.cluster_cidr) ||
      !parse_cidr("service-cluster-ip-range", service_cidr, o.rules.service_cidr))
    return 2;
  if (o.sync_period.count() <= 0) {
    std::cerr << "kctl-proxy: --sync-period must be longer than 0\n";
    return 2;
  }
  o.node_name = hostname_override.empty() ? hostname() : hostname_override;

  nft::WriterPtr writer = nft::make_netlink_writer();
  if (cleanup) {
    if (auto err = proxy::Proxy::cleanup(*writer, o.rules)) {
      log(LogLevel::Error, "cleanup: " + err->message);
      return 1;
    }
    log(LogLevel::Info, std::string("removed table ip ") + proxy::kTable);
    return 0;
  }

  api::TransportPtr transport;
  try {
    transport = api::make_transport(apiserver, client);
  } catch (const std::exception& e) {
    std::cerr << "kctl-proxy: --apiserver: " << e.what() << "\n";
    return 2;
  }
  proxy::Proxy proxy(*transport, *writer, o);
  proxy.start();
  std::unique_ptr<proxy::DbusProxy> dbus;
  if (!serve_on_bus("org.kctl.Proxy1", dbus_address, dbus_mode, [&](auto failed) {
        dbus = std::make_unique<proxy::DbusProxy>(proxy, dbus_address, failed);
      })) {
    proxy.stop();
    return 1;
  }
  log(LogLevel::Info, "node " + o.node_name + ", Services from " + apiserver + ", table ip " + proxy::kTable);
  notify_ready("Waiting for the Services and EndpointSlices");
  start_watchdog([] { return true; });

  std::atomic<bool> stopping{false};
  std::thread status([&] {
    std::string last;
    while (!stopping) {
      auto s = proxy.stats();
      std::string line = s.sync_count == 0 ? std::string("Waiting for the first sync")
                                           : std::to_string(s.services) + " Services, " +
                                                 std::to_string(s.endpoints) + " endpoints, last sync " +
                                                 std::to_string(s.last_sync_us / 1000) + " ms" +
                                                 (s.last_error.empty() ? "" : " (failing: " + s.last_error + ")");
      if (line != last) notify_status(line);
      last = line;
      for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  int sig = wait_for_termination();
  notify_stopping();
  log(LogLevel::Info, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + "; table ip " +
                          proxy::kTable + " stays");
  stopping = true;
  stop_watchdog();
  proxy.stop();
  dbus.reset();
  status.join();
  return 0;
}
