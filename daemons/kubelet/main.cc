// kctl-kubelet: flags (named as the kubelet names them where the meaning is the same), start, READY=1, and a stop on
// SIGTERM that leaves the node's pods running (a restarted kubelet re-adopts them).
#include <atomic>
#include <csignal>
#include <map>
#include <thread>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include "api/ipv4.h"
#include "api/pki.h"
#include "api/quantity.h"
#include "daemons/common/daemon.h"
#include "daemons/common/dbus_service.h"
#include "daemons/common/nftables.h"
#include "daemons/kubelet/dbus_kubelet.h"
#include "daemons/kubelet/kubelet.h"
#include "daemons/kubelet/kubelet_server.h"
#include "daemons/kubelet/tls_bootstrap.h"

using namespace kctl;

namespace {
std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h = buf;
  for (auto& c : h) c = char(std::tolower(c));
  return h;
}
}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  kubelet::KubeletOptions o;
  std::string node_labels, shim, dbus_address, dbus_mode = "on", log_max_size = "10Mi", cluster_dns;
  kubelet::KubeletServerOptions serving;
  std::string cert_dir;
  int port = o.node.kubelet_port, max_pods = o.node.max_pods, log_max_files = o.container_logs.max_files;
  Flags flags("kctl-kubelet", "The kctl node agent: registers the node and runs the pods bound to it.");
  add_apiserver_flags(flags, &o.apiserver, &o.client, /*kubeconfig_flag=*/false);
  std::string kubeconfig, bootstrap_kubeconfig;
  flags.add("kubeconfig", &kubeconfig,
            "kubeconfig file to reach the apiserver with (its current context: server, CA, client certificate); "
            "with --bootstrap-kubeconfig, written by the kubelet once it has its own certificate");
  flags.add("bootstrap-kubeconfig", &bootstrap_kubeconfig,
            "kubeconfig with a bootstrap token (`kctl node join` writes one): used, when --kubeconfig has no good "
            "client certificate, to request one for system:node:NAME with a CertificateSigningRequest");
  flags.add("hostname-override", &o.node.name, "the node's name (default: the host name)");
  flags.add("node-ip", &o.node.internal_ip,
            "the node's InternalIP address (default: the address this host reaches the apiserver from, or the "
            "default route's)");
  flags.add("node-labels", &node_labels, "labels to add to the node, key=value,...");
  flags.add("pod-cidr", &o.node.pod_cidr, "the pods' address range until the controller manager assigns spec.podCIDR");
  flags.add("cluster-cidr", &o.cluster_cidr,
            "the cluster's pod network; pod traffic to anything outside it is masqueraded to the node's address");
  flags.add("root-dir", &o.root_dir, "where images, pods and containers are kept");
  flags.add("bridge", &o.bridge, "the node bridge pods attach to");
  flags.add("cgroup-root", &o.cgroup_root, "the cgroup file system");
  flags.add("shim", &shim, "the container shim binary (default: kctl-shim beside this program)");
  flags.add("container-launcher", &o.container_launcher,
            "how containers are started: systemd (transient services, where systemd is PID 1), process (the "
            "kubelet's own cgroups) or auto");
  flags.add("port", &port, "the port the kubelet API (logs, exec, port-forward) is served on, over HTTPS");
  flags.add("tls-cert-file", &serving.tls.cert_file,
            "PEM file of the kubelet API's serving certificate (and its intermediates); without it and "
            "--tls-private-key-file, a self-signed one for the node's IP and name, kubelet.crt and kubelet.key in "
            "--cert-dir, made at the first start");
  flags.add("tls-private-key-file", &serving.tls.key_file, "PEM file of the private key of --tls-cert-file");
  flags.add("cert-dir", &cert_dir,
            "where the self-signed serving certificate and the bootstrapped client certificate are kept (default: "
            "ROOT_DIR/pki)");
  flags.add("client-ca-file", &serving.tls.client_ca_file,
            "PEM file of the CAs of client certificates: when given, every request to the kubelet API must come "
            "with a certificate they signed, of group system:masters or user kube-apiserver-kubelet-client (the "
            "apiserver's); without it the API serves anyone (for development)");
  flags.add("max-pods", &max_pods, "the node's pod capacity");
  flags.add("container-log-max-size", &log_max_size,
            "the size (a quantity such as 10Mi) at which a container's log file is rotated");
  flags.add("container-log-max-files", &log_max_files,
            "the most log files kept per container, the current one included (at least 2)");
  flags.add("cluster-dns", &cluster_dns,
            "the cluster DNS server's address(es), IP,...: the nameserver of pods with dnsPolicy ClusterFirst");
  flags.add("cluster-domain", &o.dns.cluster_domain,
            "the cluster's DNS domain (e.g. cluster.local): pods search <namespace>.svc.<domain> and below");
  flags.add("resolv-conf", &o.dns.resolv_conf,
            "the resolver configuration pods with dnsPolicy Default get (\"\": none, pods then use 127.0.0.1)");
  flags.add("dbus-address", &dbus_address, "the bus to own org.kctl.Kubelet1 on (default: the system bus)");
  flags.add("dbus", &dbus_mode, "on: export org.kctl.Kubelet1 on D-Bus; none: do not");
  flags.parse(argc, argv);
  set_log_identifier("kctl-kubelet");
  if (o.node.name.empty()) o.node.name = hostname();
  if (dbus_mode != "on" && dbus_mode != "none") {
    std::cerr << "kctl-kubelet: --dbus must be on or none\n";
    return 2;
  }
  if (!nft::Ipv4Prefix::parse(o.cluster_cidr) || o.cluster_cidr.find('/') == std::string::npos) {
    std::cerr << "kctl-kubelet: --cluster-cidr must be an IPv4 CIDR such as 10.244.0.0/16, not \"" << o.cluster_cidr
              << "\"\n";
    return 2;
  }
  auto size = api::Quantity::try_parse(log_max_size);
  if (!size || size->value() <= 0) {
    std::cerr << "kctl-kubelet: --container-log-max-size must be a positive quantity such as 10Mi, not \""
              << log_max_size << "\"\n";
    return 2;
  }
  if (log_max_files < kubelet::kMinContainerLogMaxFiles) {
    std::cerr << "kctl-kubelet: --container-log-max-files must be at least " << kubelet::kMinContainerLogMaxFiles
              << "\n";
    return 2;
  }
  o.container_logs = {size->value(), log_max_files};
  std::stringstream ss(node_labels);
  for (std::string kv; std::getline(ss, kv, ',');) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "kctl-kubelet: --node-labels wants key=value pairs, not " << kv << "\n";
      return 2;
    }
    o.node.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::stringstream dns_list(cluster_dns);
  for (std::string ip; std::getline(dns_list, ip, ',');) {
    if (ip.empty()) continue;
    if (!nft::Ipv4Prefix::parse(ip) || ip.find('/') != std::string::npos) {
      std::cerr << "kctl-kubelet: --cluster-dns wants IPv4 addresses, not \"" << ip << "\"\n";
      return 2;
    }
    o.dns.cluster_dns.push_back(ip);
  }
  if (auto upstream = resolv_conf_for_pods(o.dns.resolv_conf); !o.dns.resolv_conf.empty() && upstream != o.dns.resolv_conf) {
    log(LogLevel::Info, "--resolv-conf: " + o.dns.resolv_conf + " names only systemd-resolved's stub, which pods " +
                            "cannot reach; pods get " + upstream);
    o.dns.resolv_conf = upstream;
  }
  if (serving.tls.cert_file.empty() != serving.tls.key_file.empty()) {
    std::cerr << "kctl-kubelet: --tls-cert-file and --tls-private-key-file go together\n";
    return 2;
  }
  o.node.kubelet_port = port;
  o.node.max_pods = max_pods;
  if (shim.empty()) {
    char self[4096] = {};
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, size_t(n)) : "";
    shim = dir.substr(0, dir.rfind('/')) + "/kctl-shim";
  }
  o.shim = {shim};

  if (cert_dir.empty()) cert_dir = o.root_dir + "/pki";
  if (!bootstrap_kubeconfig.empty() && kubeconfig.empty()) {
    std::cerr << "kctl-kubelet: --bootstrap-kubeconfig needs --kubeconfig (where the kubelet's own goes)\n";
    return 2;
  }
  if (!kubeconfig.empty()) {
    std::string default_endpoint = kubelet::KubeletOptions{}.apiserver;
    try {
      kubelet::TlsBootstrapOptions b{kubeconfig, bootstrap_kubeconfig, cert_dir, o.node.name};
      b.cancelled = [] {
        sigset_t pending;
        sigpending(&pending);
        return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
      };
      b.progress = [](const std::string& what) {
        log(LogLevel::Info, what);
        notify_status(what);
      };
      std::string done = kubelet::ensure_kubelet_kubeconfig(b);
      if (!done.empty()) log(LogLevel::Info, done);
      apply_kubeconfig(kubeconfig, default_endpoint, &o.apiserver, &o.client);
    } catch (const std::exception& e) {
      log(LogLevel::Error, std::string("cannot reach the apiserver as this node: ") + e.what());
      return 1;
    }
  }

  if (o.node.internal_ip.empty()) {
    // As the kubelet without --node-ip: the address this host reaches the apiserver from, or the default route's.
    o.node.internal_ip = api::node_address(o.apiserver);
    if (o.node.internal_ip.empty()) {
      std::cerr << "kctl-kubelet: --node-ip is required: no route to the apiserver or default route gives one\n";
      return 2;
    }
    log(LogLevel::Info, "node IP " + o.node.internal_ip + " (the source address towards the apiserver; --node-ip sets it)");
  }
  serving.address = o.node.internal_ip;
  serving.port = port;
  if (serving.tls.cert_file.empty()) {
    // As the kubelet: a self-signed certificate for what the apiserver dials (the node IP) and the node's name.
    serving.tls.cert_file = cert_dir + "/kubelet.crt";
    serving.tls.key_file = cert_dir + "/kubelet.key";
    try {
      std::string made = pki::ensure_self_signed_serving(serving.tls.cert_file, serving.tls.key_file, o.node.name,
                                                         {{o.node.name}, {o.node.internal_ip}});
      if (!made.empty()) log(LogLevel::Info, made);
    } catch (const pki::PkiError& e) {
      log(LogLevel::Error, std::string("cannot make the kubelet API's serving certificate: ") + e.what());
      return 1;
    }
  }
  std::unique_ptr<kubelet::Kubelet> kubelet;
  try {
    kubelet = std::make_unique<kubelet::Kubelet>(o);
    kubelet->start();
  } catch (const std::exception& e) {
    log(LogLevel::Error, std::string("cannot start: ") + e.what());
    return 1;
  }
  std::unique_ptr<kubelet::KubeletServer> server;
  try {
    server = std::make_unique<kubelet::KubeletServer>(*kubelet, serving);
  } catch (const std::exception& e) {
    log(LogLevel::Error, std::string("cannot serve on port ") + std::to_string(port) + ": " + e.what());
    return 1;
  }
  std::unique_ptr<kubelet::DbusKubelet> dbus;
  if (!serve_on_bus("org.kctl.Kubelet1", dbus_address, dbus_mode, [&](auto failed) {
        dbus = std::make_unique<kubelet::DbusKubelet>(*kubelet, dbus_address, failed);
      }))
    return 1;
  log(LogLevel::Info, "node " + o.node.name + " registered with " + o.apiserver + (kubelet->ready() ? "; ready" : "; not ready"));
  notify_ready("Running the pods of node " + o.node.name);
  start_watchdog([] { return true; });
  // STATUS= for `systemctl status`: how many pods, and in which phases, this node runs.
  std::atomic<bool> stopping{false};
  std::thread status([&] {
    std::string last;
    while (!stopping) {
      std::map<std::string, int> phases;
      auto pods = kubelet->pods_summary();
      for (const auto& p : pods) ++phases[p.value("phase", "Unknown")];
      std::string line = std::to_string(pods.size()) + (pods.size() == 1 ? " pod" : " pods");
      std::string detail;
      for (const auto& [phase, n] : phases) detail += (detail.empty() ? "" : ", ") + std::to_string(n) + " " + phase;
      if (!detail.empty()) line += " (" + detail + ")";
      line += " on node " + o.node.name + (kubelet->ready() ? ", Ready" : ", not ready");
      if (line != last) notify_status(line);
      last = line;
      for (int i = 0; i < 20 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  wait_for_termination();
  notify_stopping();
  stopping = true;
  status.join();
  stop_watchdog();
  dbus.reset();
  server.reset();
  kubelet->stop();
  return 0;
}
