// kctl-dns: the cluster DNS server (what CoreDNS is to Kubernetes): informers on Services and Endpoints feed the
// cluster zone; UDP and TCP on --port answer it, and forward other names to the node's resolvers. READY=1 once
// the caches are in, STATUS= with the counts, and a clean stop on SIGTERM.
#include <arpa/inet.h>

#include <csignal>
#include <iostream>
#include <sstream>

#include "api/informer.h"
#include "api/ipv4.h"
#include "api/registry.h"
#include "daemons/common/daemon.h"
#include "daemons/common/resolv_conf.h"
#include "daemons/dns/cluster_zone.h"
#include "daemons/dns/dns_server.h"
#include "daemons/dns/service_registration.h"

using namespace kctl;
using nlohmann::json;

namespace {

// How long the server waits for the first list of Services and Endpoints before answering anyway (CoreDNS's
// kubernetes plugin waits 5 s too): answers from an empty zone would be NXDOMAIN for names that exist.
constexpr auto kSyncGrace = std::chrono::seconds(5);

std::string meta(const json& obj, const char* key) {
  return obj.value("/metadata"_json_pointer, json::object()).value(key, "");
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  std::string apiserver = "dbus:", domain = "cluster.local", bind_address, upstream,
              resolv_conf = "/etc/resolv.conf", service_range = "10.96.0.0/12", cluster_ip, advertise_address;
  bool register_service = true;
  api::ClientOptions client;
  int port = 53;
  Flags flags("kctl-dns", "The kctl cluster DNS server: Services and Endpoints as DNS names, other names forwarded.");
  add_apiserver_flags(flags, &apiserver, &client);
  flags.add("cluster-domain", &domain, "the domain the cluster's names live under");
  flags.add("bind-address", &bind_address,
            "the address to answer on (UDP and TCP; default: this node's address, the default route's source; "
            "0.0.0.0 is every address, which a systemd-resolved stub on 127.0.0.53:53 refuses)");
  flags.add("port", &port, "the port to answer on (UDP and TCP)");
  flags.add("upstream", &upstream,
            "resolvers for names outside the cluster domain, IP[:port],...; default: the nameservers of --resolv-conf; "
            "\"none\" to answer them REFUSED");
  flags.add("resolv-conf", &resolv_conf, "the node's resolver configuration, read for the default --upstream");
  flags.add("register-service", &register_service,
            "keep the Service kube-system/kube-dns, its Endpoints and an EndpointSlice pointing at this server");
  flags.add("service-cluster-ip-range", &service_range,
            "the apiserver's service range: the kube-dns Service takes its tenth address unless --cluster-ip says");
  flags.add("cluster-ip", &cluster_ip,
            "the kube-dns Service's ClusterIP, what kubelets get as --cluster-dns (default: the tenth address of "
            "--service-cluster-ip-range, 10.96.0.10)");
  flags.add("advertise-address", &advertise_address,
            "this server's address in the kube-dns Endpoints and EndpointSlice, where the node proxies send "
            "ClusterIP:53 (default: --bind-address when that is one address)");
  flags.parse(argc, argv);
  set_log_identifier("kctl-dns");
  if (port < 0 || port > 65535) {
    std::cerr << "kctl-dns: --port must be 0 to 65535\n";
    return 2;
  }
  if (!dns::valid_name(domain) || domain.empty() || domain == ".") {
    std::cerr << "kctl-dns: --cluster-domain must be a domain name such as cluster.local, not \"" << domain << "\"\n";
    return 2;
  }

  if (cluster_ip.empty()) {
    auto tenth = dns::tenth_address(service_range);
    if (!tenth) {
      std::cerr << "kctl-dns: --service-cluster-ip-range must be an IPv4 CIDR of at least 16 addresses, not \""
                << service_range << "\"\n";
      return 2;
    }
    cluster_ip = *tenth;
  }
  in_addr parsed_ip{};
  if (inet_pton(AF_INET, cluster_ip.c_str(), &parsed_ip) != 1) {
    std::cerr << "kctl-dns: --cluster-ip must be an IPv4 address, not \"" << cluster_ip << "\"\n";
    return 2;
  }
  if (!advertise_address.empty() && inet_pton(AF_INET, advertise_address.c_str(), &parsed_ip) != 1) {
    std::cerr << "kctl-dns: --advertise-address must be an IPv4 address, not \"" << advertise_address << "\"\n";
    return 2;
  }
  if (bind_address.empty()) {
    bind_address = api::node_address(apiserver);
    if (bind_address.empty()) {
      std::cerr << "kctl-dns: no --bind-address, and this host has no default route to find its address by\n";
      return 2;
    }
  }
  // Any address (0.0.0.0, ::) says nothing about where others reach this server.
  if (advertise_address.empty() && inet_pton(AF_INET, bind_address.c_str(), &parsed_ip) == 1 &&
      parsed_ip.s_addr != htonl(INADDR_ANY))
    advertise_address = bind_address;

  dns::DnsServerOptions o;
  o.bind_address = bind_address;
  o.port = port;
  std::vector<std::string> upstreams;
  if (upstream == "none") {
  } else if (!upstream.empty()) {
    upstreams = split_commas(upstream);
  } else {
    std::string error;
    upstreams = read_resolv_conf(resolv_conf, &error).nameservers;
    if (!error.empty()) log(LogLevel::Warning, error + "; names outside " + domain + " will be REFUSED");
  }
  for (const auto& u : upstreams) {
    dns::Upstream parsed;
    if (!dns::parse_upstream(u, parsed)) {
      if (!upstream.empty()) {
        std::cerr << "kctl-dns: --upstream: not an IP address: " << u << "\n";
        return 2;
      }
      log(LogLevel::Warning, "ignoring nameserver " + u + " of " + resolv_conf + ": not an IP address");
      continue;
    }
    if (o.upstreams.size() == dns::kMaxUpstreams) {
      log(LogLevel::Warning, "using the first " + std::to_string(dns::kMaxUpstreams) + " upstream resolvers only");
      break;
    }
    o.upstreams.push_back(parsed);
  }

  api::TransportPtr transport;
  try {
    transport = api::make_transport(apiserver, client);
  } catch (const std::exception& e) {
    std::cerr << "kctl-dns: --apiserver: " << e.what() << "\n";
    return 2;
  }
  dns::ClusterZone zone(domain);
  const auto& reg = api::Registry::builtin();
  api::Informer services(*transport, *reg.by_kind("", "Service"));
  api::Informer endpoints(*transport, *reg.by_kind("", "Endpoints"));
  services.add_handler({[&](const api::ObjectPtr& o) { zone.set_service(*o); },
                        [&](const api::ObjectPtr&, const api::ObjectPtr& o) { zone.set_service(*o); },
                        [&](const api::ObjectPtr& o) { zone.remove_service(meta(*o, "namespace"), meta(*o, "name")); }});
  endpoints.add_handler(
      {[&](const api::ObjectPtr& o) { zone.set_endpoints(*o); },
       [&](const api::ObjectPtr&, const api::ObjectPtr& o) { zone.set_endpoints(*o); },
       [&](const api::ObjectPtr& o) { zone.remove_endpoints(meta(*o, "namespace"), meta(*o, "name")); }});
  // The registration looks again whenever one of its objects changes or goes, and at its own resync.
  std::unique_ptr<dns::ServiceRegistration> registration;
  std::unique_ptr<api::Informer> slices;
  if (register_service) {
    api::ListOptions kube_dns;
    kube_dns.label_selector = std::string("kubernetes.io/service-name=") + dns::kDnsServiceName;
    slices = std::make_unique<api::Informer>(*transport, *reg.by_kind("discovery.k8s.io", "EndpointSlice"),
                                             dns::kDnsServiceNamespace, kube_dns);
    // `registration` is made before any informer starts (below).
    auto about_kube_dns = [&](const api::ObjectPtr& o) {
      if (meta(*o, "namespace") == dns::kDnsServiceNamespace && meta(*o, "name") == dns::kDnsServiceName)
        registration->trigger();
    };
    auto changed = [=](const api::ObjectPtr&, const api::ObjectPtr& o) { about_kube_dns(o); };
    services.add_handler({about_kube_dns, changed, about_kube_dns});
    endpoints.add_handler({about_kube_dns, changed, about_kube_dns});
    slices->add_handler({about_kube_dns, changed, about_kube_dns});
  }

  std::unique_ptr<dns::DnsServer> server;
  try {
    server = std::make_unique<dns::DnsServer>(zone, o);
  } catch (const std::exception& e) {
    log(LogLevel::Error, e.what());
    return 1;
  }
  // Made before the informers start, whose handlers trigger it; its loop starts once the server answers.
  if (register_service)
    registration = std::make_unique<dns::ServiceRegistration>(
        *transport, dns::ServiceRegistrationOptions{cluster_ip, advertise_address, server->port()});
  services.start();
  endpoints.start();
  auto deadline = std::chrono::steady_clock::now() + kSyncGrace;
  bool synced = services.wait_for_sync(kSyncGrace) &&
                endpoints.wait_for_sync(std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration(0))));
  if (!synced)
    log(LogLevel::Warning, "the Services and Endpoints of " + apiserver + " are not in yet; answering meanwhile");
  server->start();
  std::string upstream_text;
  for (const auto& u : o.upstreams) upstream_text += (upstream_text.empty() ? "" : ", ") + u.text;
  log(LogLevel::Info, "answering for " + zone.domain() + " on " + bind_address + ":" + std::to_string(server->port()) +
                          " (UDP and TCP); other names go to " + (upstream_text.empty() ? "nobody (REFUSED)" : upstream_text));
  if (register_service) {
    log(LogLevel::Info, "registering behind Service kube-system/kube-dns at " + cluster_ip + " with endpoint " +
                            (advertise_address.empty() ? std::string("(none)") : advertise_address) + ":" +
                            std::to_string(server->port()));
    registration->start();
    slices->start();
  }
  notify_ready("Answering for " + zone.domain());
  start_watchdog([] { return true; });

  std::atomic<bool> stopping{false};
  std::mutex status_mutex;
  std::condition_variable status_cv;
  std::thread status([&] {
    std::string last;
    std::unique_lock lock(status_mutex);
    while (!stopping) {
      auto s = server->stats();
      std::string line = std::to_string(zone.services()) + " services; " + std::to_string(s.answered) + " answered, " +
                         std::to_string(s.forwarded) + " forwarded, " + std::to_string(s.failed) + " failed";
      if (line != last) notify_status(line);
      last = line;
      status_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping.load(); });
    }
  });
  int sig = wait_for_termination();
  notify_stopping();
  log(LogLevel::Info, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  {
    std::lock_guard lock(status_mutex);
    stopping = true;
  }
  status_cv.notify_all();
  status.join();
  stop_watchdog();
  if (registration) registration->stop();
  if (slices) slices->stop();
  server->stop();
  services.stop();
  endpoints.stop();
  return 0;
}
