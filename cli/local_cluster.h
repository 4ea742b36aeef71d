// `kctl local up|down|status`: a local cluster of the kctl daemons on one machine without systemd as PID 1.
// A supervisor process (what systemd would be) starts a private D-Bus daemon (the cluster's bus) and the daemons,
// reaps and restarts them, and stops them in reverse order; everything lives under one directory: state, logs,
// pid files, the bus socket and its configuration, kubeconfig.
#pragma once

#include <string>
#include <vector>

#include "cli/local_network.h"

namespace kctl::cli {

struct LocalClusterOptions {
  std::string dir = "/var/lib/kctl-local";
  int api_port = 8080;     // plain HTTP, on 127.0.0.1 only: the master's own superuser port
  int secure_port = 6443;  // HTTPS, where the workers' daemons and pods reach the API, each as itself
  std::string examples_dir;  // default: examples/ of the source tree the binaries were built from
  bool apply_examples = true;
  int start_timeout_seconds = 30;
  int workers = 2;            // worker nodes, each in its own network namespace running a kubelet
  std::string name = "kctl";  // prefix of the network names and node names (kctl-worker-1, ...)
  // How long a node may go silent before the controller manager calls it NotReady (kube's default 40s); shorter
  // to watch a node failure play out quickly.
  std::string node_monitor_grace_period = "40s";
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options);

  int up();         // starts the supervisor (if not running), waits, writes the kubeconfig, applies examples
  int down();       // stops everything and removes the directory
  int status();     // 0 when everything that should run does
  int supervise();  // the supervisor's main loop (hidden subcommand `kctl local supervise`)

  struct Component {
    std::string name;  // the binary, e.g. kctl-apiserver; also its pid file and log
    std::vector<std::string> args;
    std::string ready_path;  // when set, the next component starts once this exists (a socket it listens on)
    std::string binary;      // when the binary is not `name` (the kubelets: kctl-kubelet)
    std::string netns;       // a network namespace to run in (/run/netns/...), for a worker's daemons
  };

 private:
  std::vector<Component> components() const;
  LocalNetwork network() const;
  void save_config() const;   // the options `down` and `status` need later (DIR/cluster.json)
  // The cluster CA (made here at the first `up`, as kubeadm's certs phase does; the apiserver makes the rest of its
  // PKI from it) and a kubeconfig per worker daemon with its own client certificate: the kubelet as
  // system:node:NAME, the proxy as system:kube-proxy. Returns non-zero (after saying why) when they cannot be made.
  int prepare_credentials();
  void load_config();
  int prepare_workers();      // node network, system bus, images of each worker; 0 when done
  // Every worker Ready, and the default ServiceAccount there (the controller manager leads).
  bool wait_for_nodes(std::string& error) const;
  void wait_for_example_pods() const;
  void delete_pods_and_wait() const;  // so the kubelets clean their nodes
  void clean_leftovers() const;       // what kubelets that died left: processes, mounts, pod namespaces
  std::string path(const std::string& rel) const;
  int supervisor_pid() const;
  bool wait_until_serving(std::string& error) const;
  int apply_examples() const;
  void write_kubeconfig() const;
  std::string api_url() const;
  std::string bus_address() const;  // unix:path=DIR/dbus/bus
  std::string bus_status() const;
  // Writes the bus configuration (with the kctl D-Bus policy); false when the policy file cannot be found.
  bool write_bus_config(std::string& error) const;

  LocalClusterOptions options_;
};

// The directory of the running executable (to find the daemons built beside it).
std::string executable_dir();
// Looks for a binary beside kctl, then on PATH; returns "" when missing.
std::string find_binary(const std::string& name);
// units/org.kctl.conf of the source tree kctl was built from, else the installed policy; "" when neither exists.
std::string find_dbus_policy();
// The pid in a pid file if that process is alive (not a zombie), else 0.
int live_pid_from_file(const std::string& pid_file);

}  // namespace kctl::cli
