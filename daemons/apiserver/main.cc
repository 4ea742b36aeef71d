// kctl-apiserver: flags (named as kube-apiserver names them), start, READY=1, and a clean stop on SIGTERM.
#include <csignal>
#include <iostream>

#include "daemons/apiserver/apiserver.h"
#include "daemons/common/daemon.h"

using namespace kctl;

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  apiserver::ApiServerOptions o;
  std::string node_ports = "30000-32767", sync = "full";
  int compaction = o.compaction_interval_seconds;
  Flags flags("kctl-apiserver", "The kctl API server: all cluster state, served over HTTP with the Kubernetes API.");
  flags.add("insecure-bind-address", &o.bind_address, "address to serve plain HTTP on");
  flags.add("insecure-port", &o.port, "port to serve plain HTTP on (0: any free port)");
  flags.add("advertise-address", &o.advertise_address, "address published in the `kubernetes` Endpoints");
  flags.add("data-dir", &o.data_dir, "directory of the SQLite store (state.db)");
  flags.add("service-cluster-ip-range", &o.service_cluster_ip_range, "CIDR from which Service ClusterIPs are allocated");
  flags.add("service-node-port-range", &node_ports, "port range for NodePort Services");
  flags.add("storage-sync", &sync,
            "full: every write is fsync'ed before it is acknowledged (survives power loss); normal: survives a "
            "crash of the process but a power loss can lose the last writes");
  flags.add("compaction-interval-seconds", &compaction, "how often history older than one interval is compacted");
  flags.parse(argc, argv);
  set_log_identifier("kctl-apiserver");

  auto dash = node_ports.find('-');
  try {
    if (dash == std::string::npos) throw std::invalid_argument("");
    o.node_port_min = std::stoi(node_ports.substr(0, dash));
    o.node_port_max = std::stoi(node_ports.substr(dash + 1));
  } catch (const std::exception&) {
    std::cerr << "kctl-apiserver: --service-node-port-range must look like 30000-32767, not " << node_ports << "\n";
    return 2;
  }
  if (sync != "full" && sync != "normal") {
    std::cerr << "kctl-apiserver: --storage-sync must be full or normal\n";
    return 2;
  }
  o.storage_sync = sync == "full" ? apiserver::SyncMode::Full : apiserver::SyncMode::Normal;
  if (compaction < 1) {
    std::cerr << "kctl-apiserver: --compaction-interval-seconds must be at least 1\n";
    return 2;
  }
  o.compaction_interval_seconds = compaction;

  apiserver::ApiServer server(o);
  try {
    server.start();
  } catch (const std::exception& e) {
    log(LogLevel::Error, std::string("cannot start: ") + e.what());
    return 1;
  }
  std::string where = o.bind_address + ":" + std::to_string(server.port());
  log(LogLevel::Info, "serving on http://" + where + " with state in " + o.data_dir);
  notify_ready("Serving the API on " + where);
  int sig = wait_for_termination();
  notify_stopping();
  log(LogLevel::Info, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  server.stop();
  return 0;
}
