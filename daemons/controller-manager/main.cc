// kctl-controller-manager: flags (named as kube-controller-manager names them), leader election, READY=1, and a
// clean stop on SIGTERM. Losing the lease ends the process (exit 1) so that its service manager starts it afresh.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <random>
#include <sstream>

#include "daemons/common/daemon.h"
#include "daemons/common/dbus_service.h"
#include "daemons/controller-manager/controller_manager.h"
#include "daemons/controller-manager/dbus_controller_manager.h"

using namespace kctl;

namespace {
// Set when leadership was lost: the exit is then a failure, for the service manager to restart us.
std::atomic<bool> lost_lease{false};

std::string identity() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
  return std::string(host) + "_" + suffix;
}
}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  controllers::ControllerManagerOptions o;
  std::string enabled = "*", dbus_address, dbus_mode = "on";
  auto grace = std::chrono::milliseconds(o.controllers.node_monitor_grace_period);
  auto toleration = std::chrono::milliseconds(o.controllers.default_toleration_seconds);
  Flags flags("kctl-controller-manager",
              "The kctl controller manager: the control loops that make the cluster's state meet its objects.");
  add_apiserver_flags(flags, &o.apiserver, &o.client);
  flags.add("controllers", &enabled, "the controllers to run: * for all, NAME to pick one, -NAME to leave one out");
  flags.add("leader-elect", &o.leader_elect, "run only while holding the Lease kube-system/kube-controller-manager");
  flags.add("leader-elect-lease-duration", &o.election.lease_duration, "how long a leader's Lease is valid");
  flags.add("leader-elect-renew-deadline", &o.election.renew_deadline, "how long the leader tries to renew");
  flags.add("leader-elect-retry-period", &o.election.retry_period, "how often candidates try the Lease");
  flags.add("cluster-cidr", &o.controllers.cluster_cidr, "the pods' address range, cut into one podCIDR per node");
  flags.add("node-cidr-mask-size", &o.controllers.node_cidr_mask_size, "the prefix length of each node's podCIDR");
  flags.add("node-monitor-grace-period", &grace, "how long a node may go without renewing its Lease before it is "
                                                 "NotReady (Unknown)");
  flags.add("default-not-ready-toleration-seconds", &toleration,
            "how long pods without a toleration of their own stay on an unreachable or not-ready node");
  flags.add("root-ca-file", &o.controllers.root_ca_file,
            "PEM file of the CA published in every namespace as ConfigMap kube-root-ca.crt (key ca.crt); without it, "
            "ca.crt is empty");
  auto signing_duration = std::chrono::milliseconds(o.controllers.cluster_signing_duration);
  flags.add("cluster-signing-cert-file", &o.controllers.cluster_signing_cert_file,
            "PEM file of the CA that signs approved CertificateSigningRequests of kube's signers (csrsigning); "
            "without it and --cluster-signing-key-file, nothing is signed");
  flags.add("cluster-signing-key-file", &o.controllers.cluster_signing_key_file,
            "PEM file of the key of --cluster-signing-cert-file");
  flags.add("cluster-signing-duration", &signing_duration, "the longest a signed certificate is valid");
  flags.add("concurrent-syncs", &o.controllers.workers, "workers per controller");
  flags.add("dbus-address", &dbus_address,
            "the bus to own org.kctl.ControllerManager1 on, e.g. unix:path=/run/kctl/bus (default: the system bus)");
  flags.add("dbus", &dbus_mode, "on: export org.kctl.ControllerManager1 on D-Bus; none: do not");
  flags.parse(argc, argv);
  set_log_identifier("kctl-controller-manager");
  if (dbus_mode != "on" && dbus_mode != "none") {
    std::cerr << "kctl-controller-manager: --dbus must be on or none\n";
    return 2;
  }
  o.controllers.node_monitor_grace_period = std::chrono::duration_cast<std::chrono::seconds>(grace);
  o.controllers.default_toleration_seconds = std::chrono::duration_cast<std::chrono::seconds>(toleration);
  o.controllers.cluster_signing_duration = std::chrono::duration_cast<std::chrono::seconds>(signing_duration);
  if (o.controllers.cluster_signing_cert_file.empty() != o.controllers.cluster_signing_key_file.empty()) {
    std::cerr << "kctl-controller-manager: --cluster-signing-cert-file and --cluster-signing-key-file go together\n";
    return 2;
  }
  o.enabled.clear();
  std::stringstream ss(enabled);
  for (std::string name; std::getline(ss, name, ',');)
    if (!name.empty()) o.enabled.push_back(name);
  o.election.lease_name = "kube-controller-manager";
  o.election.identity = identity();

  std::unique_ptr<controllers::ControllerManager> manager;
  try {
    manager = std::make_unique<controllers::ControllerManager>(o);
    manager->start([] {
      // The caches and queues of a former leader are not to be trusted: start afresh.
      lost_lease = true;
      ::kill(::getpid(), SIGTERM);
    });
  } catch (const std::exception& e) {
    log(LogLevel::Error, std::string("cannot start: ") + e.what());
    return 1;
  }
  std::unique_ptr<controllers::DbusControllerManager> dbus;
  if (!serve_on_bus("org.kctl.ControllerManager1", dbus_address, dbus_mode, [&](auto failed) {
        dbus = std::make_unique<controllers::DbusControllerManager>(*manager, dbus_address, failed);
      })) {
    manager->stop();
    return 1;
  }
  log(LogLevel::Info, "started with " + o.apiserver + (o.leader_elect ? ", campaigning for the lease" : ""));
  notify_ready(o.leader_elect ? "Waiting for the lease" : "Running the controllers");
  start_watchdog([] { return true; });
  wait_for_termination();
  notify_stopping();
  stop_watchdog();
  dbus.reset();
  manager->stop();
  return lost_lease ? 1 : 0;
}
