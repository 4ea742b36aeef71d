// kctl-dns: the cluster DNS server (what CoreDNS is to Kubernetes): informers on Services and Endpoints feed the
// cluster zone; UDP and TCP on --port answer it, and forward other names to the node's resolvers. READY=1 once
// the caches are in, STATUS= with the counts, and a clean stop on SIGTERM.
#include <csignal>
#include <iostream>
#include <sstream>

#include "api/informer.h"
#include "api/registry.h"
#include "daemons/common/daemon.h"
#include "daemons/common/resolv_conf.h"
#include "daemons/dns/cluster_zone.h"
#include "daemons/dns/dns_server.h"

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
  std::string apiserver = "dbus:", domain = "cluster.local", bind_address = "0.0.0.0", upstream,
              resolv_conf = "/etc/resolv.conf";
  api::ClientOptions client;
  int port = 53;
  Flags flags("kctl-dns", "The kctl cluster DNS server: Services and Endpoints as DNS names, other names forwarded.");
  add_apiserver_flags(flags, &apiserver, &client);
  flags.add("cluster-domain", &domain, "the domain the cluster's names live under");
  flags.add("bind-address", &bind_address, "the address to answer on (UDP and TCP)");
  flags.add("port", &port, "the port to answer on (UDP and TCP)");
  flags.add("upstream", &upstream,
            "resolvers for names outside the cluster domain, IP[:port],...; default: the nameservers of --resolv-conf; "
            "\"none\" to answer them REFUSED");
  flags.add("resolv-conf", &resolv_conf, "the node's resolver configuration, read for the default --upstream");
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

  std::unique_ptr<dns::DnsServer> server;
  try {
    server = std::make_unique<dns::DnsServer>(zone, o);
  } catch (const std::exception& e) {
    log(LogLevel::Error, e.what());
    return 1;
  }
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
  server->stop();
  services.stop();
  endpoints.stop();
  return 0;
}
