// kctl-apiserver: flags (named as kube-apiserver names them), start (HTTP and HTTPS, then D-Bus), READY=1, and a
// clean stop on SIGTERM.
#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

#include <unistd.h>

#include "daemons/apiserver/apiserver.h"
#include "daemons/apiserver/dbus_api.h"
#include "daemons/common/daemon.h"

using namespace kctl;

namespace {

// Set when the bus connection fails after start: the daemon then exits non-zero so its service manager restarts it
// and it owns its name again on the new bus.
std::atomic<bool> bus_lost{false};

// Exports the API on D-Bus unless --dbus=none. Without --dbus-address, a system bus that is not there (or will not
// let us own the name) is no reason to stop serving HTTP: a warning, and no D-Bus.
bool start_dbus(apiserver::ApiServer& server, const std::string& mode, const std::string& address,
                std::unique_ptr<apiserver::DbusApi>& out) {
  if (mode == "none") return true;
  apiserver::DbusApiOptions o{address, server.storage_path(), server.listen_addresses(), apiserver::version_info()};
  // Root on the bus is the node's superuser, as on the plain HTTP port.
  o.review = [&server](const api::KindInfo& kind, const std::string& ns, const nlohmann::json& body) {
    return server.review(kind, ns, body, apiserver::ApiServer::local_superuser());
  };
  std::string bus = address.empty() ? std::string("the system bus") : address;
  try {
    out = std::make_unique<apiserver::DbusApi>(server.objects(), server.store(), o, [bus](const std::string& why) {
      log(LogLevel::Error, "lost the D-Bus connection to " + bus + ": " + why + "; exiting to be restarted");
      bus_lost = true;
      ::kill(::getpid(), SIGTERM);
    });
  } catch (const std::exception& e) {
    if (!address.empty()) {
      log(LogLevel::Error, "cannot serve on D-Bus at " + address + ": " + e.what());
      return false;
    }
    log(LogLevel::Warning, std::string("not serving on D-Bus: the system bus cannot be used (") + e.what() +
                               "): is it running, with org.kctl.conf in /usr/share/dbus-1/system.d/? "
                               "--dbus-address= names another bus, --dbus=none turns this off");
    return true;
  }
  log(LogLevel::Info, "serving org.kctl.ApiServer1 on " + bus + " as " + out->unique_name());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  apiserver::ApiServerOptions o;
  std::string node_ports = "30000-32767", sync = "full", dbus_address, dbus_mode = "on";
  int compaction = o.compaction_interval_seconds;
  Flags flags("kctl-apiserver", "The kctl API server: all cluster state, served over HTTP with the Kubernetes API.");
  flags.add("insecure-bind-address", &o.bind_address, "address to serve plain HTTP on");
  flags.add("insecure-port", &o.port, "port to serve plain HTTP on (0: any free port)");
  flags.add("bind-address", &o.secure_bind_address, "address to serve HTTPS on");
  flags.add("secure-port", &o.secure_port, "port to serve HTTPS on (0: no HTTPS)");
  flags.add("tls-cert-file", &o.tls_cert_file,
            "PEM file of the HTTPS serving certificate (and its intermediates); without it and "
            "--tls-private-key-file, the apiserver's own PKI in DATA_DIR/pki, made at the first start, and "
            "DATA_DIR/admin.kubeconfig");
  flags.add("tls-private-key-file", &o.tls_private_key_file, "PEM file of the private key of --tls-cert-file");
  flags.add("client-ca-file", &o.client_ca_file,
            "PEM file of the CAs that sign client certificates: HTTPS clients may present one signed by them "
            "(default with the apiserver's own PKI: its CA, DATA_DIR/pki/ca.crt)");
  flags.add("token-auth-file", &o.token_auth_file,
            "CSV file of static bearer tokens for HTTPS clients: token,user,uid[,\"group1,group2\"] per line");
  flags.add("basic-auth-file", &o.basic_auth_file,
            "CSV file of passwords for HTTP basic authentication (legacy, off unless given): "
            "password,user,uid[,\"group1,group2\"] per line");
  flags.add("max-requests-inflight", &o.max_requests_inflight,
            "read-only requests served at once (0: no bound); beyond, 429 with Retry-After");
  flags.add("max-mutating-requests-inflight", &o.max_mutating_requests_inflight,
            "mutating requests served at once (0: no bound); beyond, 429 with Retry-After");
  flags.add("max-watches-per-user", &o.max_watches_per_user,
            "watches one authenticated user may hold open over HTTPS (0: no bound); beyond, 429");
  flags.add("min-request-timeout", &o.min_request_timeout_seconds,
            "seconds: a watch ends after a random time between this and twice this, or its timeoutSeconds when "
            "shorter (0: only timeoutSeconds); clients then watch again");
  flags.add("kubelet-client-certificate", &o.kubelet_client_certificate,
            "PEM file of the client certificate shown to kubelets (default with the apiserver's own PKI: "
            "DATA_DIR/pki/apiserver-kubelet-client.crt; none without it)");
  flags.add("kubelet-client-key", &o.kubelet_client_key, "PEM file of the key of --kubelet-client-certificate");
  flags.add("kubelet-certificate-authority", &o.kubelet_certificate_authority,
            "PEM file of the CAs kubelets' serving certificates are checked against (unset: not checked)");
  flags.add("service-account-key-file", &o.service_account_key_file,
            "PEM files (comma-separated) of the public keys (or certificates, or private keys) that verify "
            "ServiceAccount tokens (default: the public half of --service-account-signing-key-file)");
  flags.add("service-account-signing-key-file", &o.service_account_signing_key_file,
            "PEM file of the private key (ECDSA P-256 or RSA) that signs ServiceAccount tokens; without it and "
            "--service-account-key-file, DATA_DIR/pki/sa.key (and sa.pub), made at the first start");
  flags.add("service-account-issuer", &o.service_account_issuer,
            "the \"iss\" of ServiceAccount tokens (comma-separated: the first is written, all are accepted)");
  flags.add("api-audiences", &o.api_audiences,
            "audiences (comma-separated) a token must carry one of to authenticate to the API (default: the issuers)");
  flags.add("advertise-address", &o.advertise_address, "address published in the `kubernetes` Endpoints");
  flags.add("data-dir", &o.data_dir, "directory of the SQLite store (state.db)");
  flags.add("service-cluster-ip-range", &o.service_cluster_ip_range, "CIDR from which Service ClusterIPs are allocated");
  flags.add("service-node-port-range", &node_ports, "port range for NodePort Services");
  flags.add("storage-sync", &sync,
            "full: every write is fsync'ed before it is acknowledged (survives power loss); normal: survives a "
            "crash of the process but a power loss can lose the last writes");
  flags.add("compaction-interval-seconds", &compaction, "how often history older than one interval is compacted");
  flags.add("dbus-address", &dbus_address,
            "the D-Bus bus to own org.kctl.ApiServer1 on, e.g. unix:path=/run/kctl/bus (default: the system bus)");
  flags.add("dbus", &dbus_mode, "on: serve the API on D-Bus too; none: HTTP only");
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
  if (o.secure_port < 0 || o.secure_port > 65535) {
    std::cerr << "kctl-apiserver: --secure-port must be between 0 (no HTTPS) and 65535\n";
    return 2;
  }
  for (auto [flag, value] : {std::pair{"max-requests-inflight", o.max_requests_inflight},
                              std::pair{"max-mutating-requests-inflight", o.max_mutating_requests_inflight},
                              std::pair{"max-watches-per-user", o.max_watches_per_user},
                              std::pair{"min-request-timeout", o.min_request_timeout_seconds}})
    if (value < 0) {
      std::cerr << "kctl-apiserver: --" << flag << " must be 0 (no bound) or more\n";
      return 2;
    }
  if (o.kubelet_client_certificate.empty() != o.kubelet_client_key.empty()) {
    std::cerr << "kctl-apiserver: --kubelet-client-certificate and --kubelet-client-key go together\n";
    return 2;
  }
  if (dbus_mode != "on" && dbus_mode != "none") {
    std::cerr << "kctl-apiserver: --dbus must be on or none\n";
    return 2;
  }

  apiserver::ApiServer server(o);
  try {
    server.start();
  } catch (const std::exception& e) {
    for (const auto& change : server.pki_changes()) log(LogLevel::Info, change);  // made before the failure
    log(LogLevel::Error, std::string("cannot start: ") + e.what());
    return 1;
  }
  for (const auto& change : server.pki_changes()) log(LogLevel::Info, change);
  if (!server.rbac_changes().empty())
    log(LogLevel::Info, "the default RBAC policy: " + std::to_string(server.rbac_changes().size()) +
                            " roles and bindings created or completed (" + server.rbac_changes().front() +
                            (server.rbac_changes().size() > 1 ? ", ..." : "") + ")");
  std::unique_ptr<apiserver::DbusApi> dbus;
  if (!start_dbus(server, dbus_mode, dbus_address, dbus)) {
    server.stop();
    return 1;
  }
  std::string where;
  for (const auto& url : server.listen_addresses()) where += (where.empty() ? "" : " and ") + url;
  log(LogLevel::Info, "serving on " + where + " with state in " + o.data_dir);
  if (!server.admin_kubeconfig_path().empty())
    log(LogLevel::Info, "the cluster admin's kubeconfig is " + server.admin_kubeconfig_path());
  notify_ready("Serving the API on " + where);
  start_watchdog([] { return true; });
  // STATUS= for `systemctl status`: what it holds, at which revision.
  std::atomic<bool> stopping{false};
  std::thread status([&] {
    std::string last;
    while (!stopping) {
      std::string line = "serving " + std::to_string(server.store().object_count()) + " objects at revision " +
                         std::to_string(server.store().current_revision()) + " on " + where;
      if (line != last) notify_status(line);
      last = line;
      for (int i = 0; i < 20 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  int sig = wait_for_termination();
  notify_stopping();
  stopping = true;
  status.join();
  stop_watchdog();
  log(LogLevel::Info, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  dbus.reset();
  server.stop();
  return bus_lost ? 1 : 0;
}
