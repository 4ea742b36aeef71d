// The kube-dns Service, Endpoints and EndpointSlice as kctl-dns keeps them (see service_registration.h): each pass
// reads what is there, compares what matters, and writes only what differs, so its own writes (which come back as
// watch events and trigger a pass) settle at once.
#include "daemons/dns/service_registration.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "api/ipv4.h"
#include "api/registry.h"
#include "daemons/common/daemon.h"

using nlohmann::json;

namespace kctl::dns {

namespace {

// The addresses a /n range must hold for its tenth: the network address, .1 (kubernetes) ... .10.
constexpr uint32_t kTenth = 10;

json dns_ports(int target, bool with_target) {
  json ports = json::array();
  for (const auto& [name, protocol] : {std::pair{"dns", "UDP"}, std::pair{"dns-tcp", "TCP"}}) {
    json p = {{"name", name}, {"protocol", protocol}, {"port", with_target ? 53 : target}};
    if (with_target) p["targetPort"] = target;
    ports.push_back(p);
  }
  return ports;
}

// Ports as (name, protocol, port, targetPort) whatever else defaulting added.
std::set<std::tuple<std::string, std::string, int, std::string>> port_set(const json& ports) {
  std::set<std::tuple<std::string, std::string, int, std::string>> out;
  if (!ports.is_array()) return out;
  for (const auto& p : ports)
    if (p.is_object())
      out.emplace(p.value("name", ""), p.value("protocol", "TCP"), p.value("port", 0),
                  p.contains("targetPort") ? p["targetPort"].dump() : "");
  return out;
}

bool has_labels(const json& obj, const json& want) {
  json have = obj.value("/metadata/labels"_json_pointer, json::object());
  for (auto it = want.begin(); it != want.end(); ++it)
    if (!have.is_object() || have.value(it.key(), json()) != it.value()) return false;
  return true;
}

void add_labels(json& obj, const json& want) {
  json& labels = obj["metadata"]["labels"];
  if (!labels.is_object()) labels = json::object();
  labels.update(want);
}

std::optional<json> get_or_null(const api::ResourceClient& client, const std::string& name) {
  try {
    return client.get(name);
  } catch (const api::StatusError& e) {
    if (e.status().code == 404) return std::nullopt;
    throw;
  }
}

const api::KindInfo& kind(const char* group, const char* k) { return *api::Registry::builtin().by_kind(group, k); }

}  // namespace

std::optional<std::string> tenth_address(const std::string& cidr) {
  uint32_t address = 0;
  int length = 0;
  // The tenth address and the broadcast address after it must fit: at least a /28.
  if (!api::parse_ipv4_cidr(cidr, address, length) || length > 28) return std::nullopt;
  return api::format_ipv4((address & api::ipv4_mask(length)) + kTenth);
}

json desired_dns_service(const ServiceRegistrationOptions& o) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", kDnsServiceName},
            {"namespace", kDnsServiceNamespace},
            {"labels", {{"k8s-app", "kube-dns"}, {"kubernetes.io/name", "kctl-dns"}}}}},
          // No selector: the Endpoints are this server's to write, not the endpoints controller's.
          {"spec", {{"type", "ClusterIP"}, {"clusterIP", o.cluster_ip}, {"ports", dns_ports(o.port, true)}}}};
}

json desired_dns_endpoints(const ServiceRegistrationOptions& o) {
  return {{"apiVersion", "v1"},
          {"kind", "Endpoints"},
          {"metadata",
           {{"name", kDnsServiceName},
            {"namespace", kDnsServiceNamespace},
            // The slice is written here too: the mirroring of selector-less Endpoints must not make another.
            {"labels", {{"k8s-app", "kube-dns"}, {"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
          {"subsets", json::array({{{"addresses", json::array({{{"ip", o.advertise_address}}})},
                                    {"ports", dns_ports(o.port, false)}}})}};
}

json desired_dns_slice(const ServiceRegistrationOptions& o, const std::string& service_uid) {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", kDnsServiceName},
            {"namespace", kDnsServiceNamespace},
            {"labels",
             {{"k8s-app", "kube-dns"},
              {"kubernetes.io/service-name", kDnsServiceName},
              {"endpointslice.kubernetes.io/managed-by", kDnsSliceManager}}},
            // Deleted with its Service by the garbage collector; the next pass makes both again.
            {"ownerReferences", json::array({{{"apiVersion", "v1"},
                                              {"kind", "Service"},
                                              {"name", kDnsServiceName},
                                              {"uid", service_uid},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"addressType", "IPv4"},
          {"endpoints", json::array({{{"addresses", json::array({o.advertise_address})},
                                      {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}}}})},
          {"ports", dns_ports(o.port, false)}};
}

ServiceRegistration::ServiceRegistration(api::Transport& transport, ServiceRegistrationOptions options)
    : transport_(transport), options_(std::move(options)) {}

ServiceRegistration::~ServiceRegistration() { stop(); }

std::string ServiceRegistration::ensure_service(std::vector<std::string>& changes, std::vector<std::string>& problems) {
  api::ResourceClient client(transport_, kind("", "Service"), kDnsServiceNamespace);
  json want = desired_dns_service(options_);
  auto have = get_or_null(client, kDnsServiceName);
  if (!have) {
    json made = client.create(want);
    changes.push_back("created Service kube-system/kube-dns at " + options_.cluster_ip);
    return made["metadata"]["uid"];
  }
  std::string ip = have->value("/spec/clusterIP"_json_pointer, "");
  if (ip != options_.cluster_ip)
    problems.push_back("Service kube-system/kube-dns has ClusterIP " + ip + ", not " + options_.cluster_ip +
                       " (--cluster-ip); a ClusterIP cannot change: delete the Service to have it made again");
  json selector = have->value("/spec/selector"_json_pointer, json());
  bool has_selector = selector.is_object() && !selector.empty();
  if (has_selector || !has_labels(*have, want["metadata"]["labels"]) ||
      port_set(have->value("/spec/ports"_json_pointer, json())) != port_set(want["spec"]["ports"])) {
    json updated = *have;
    updated["spec"].erase("selector");
    updated["spec"]["ports"] = want["spec"]["ports"];
    add_labels(updated, want["metadata"]["labels"]);
    client.update(updated);
    changes.push_back("updated Service kube-system/kube-dns (ports, labels, no selector)");
  }
  return have->value("/metadata/uid"_json_pointer, "");
}

void ServiceRegistration::ensure_endpoints(std::vector<std::string>& changes) {
  api::ResourceClient client(transport_, kind("", "Endpoints"), kDnsServiceNamespace);
  json want = desired_dns_endpoints(options_);
  auto have = get_or_null(client, kDnsServiceName);
  if (!have) {
    client.create(want);
    changes.push_back("created Endpoints kube-system/kube-dns: " + options_.advertise_address + ":" +
                      std::to_string(options_.port));
    return;
  }
  auto summary = [](const json& ep) {
    std::set<std::string> ips;
    std::set<std::tuple<std::string, std::string, int, std::string>> ports;
    for (const auto& s : ep.value("subsets", json::array())) {
      for (const auto& a : s.value("addresses", json::array())) ips.insert(a.value("ip", ""));
      auto p = port_set(s.value("ports", json::array()));
      ports.insert(p.begin(), p.end());
      if (s.contains("notReadyAddresses") && !s["notReadyAddresses"].empty()) ips.insert("not ready");
    }
    return std::pair{ips, ports};
  };
  if (summary(*have) == summary(want) && has_labels(*have, want["metadata"]["labels"])) return;
  json updated = *have;
  updated["subsets"] = want["subsets"];
  add_labels(updated, want["metadata"]["labels"]);
  client.update(updated);
  changes.push_back("updated Endpoints kube-system/kube-dns: " + options_.advertise_address + ":" +
                    std::to_string(options_.port));
}

void ServiceRegistration::ensure_slice(const std::string& service_uid, std::vector<std::string>& changes) {
  api::ResourceClient client(transport_, kind("discovery.k8s.io", "EndpointSlice"), kDnsServiceNamespace);
  json want = desired_dns_slice(options_, service_uid);
  auto have = get_or_null(client, kDnsServiceName);
  if (!have) {
    client.create(want);
    changes.push_back("created EndpointSlice kube-system/kube-dns");
    return;
  }
  auto summary = [](const json& s) {
    std::set<std::string> endpoints;
    for (const auto& e : s.value("endpoints", json::array()))
      for (const auto& a : e.value("addresses", json::array()))
        endpoints.insert(a.get<std::string>() + (e.value("/conditions/ready"_json_pointer, true) ? "" : " not ready"));
    std::set<std::string> owners;
    for (const auto& r : s.value("/metadata/ownerReferences"_json_pointer, json::array()))
      owners.insert(r.value("uid", ""));
    return std::tuple{s.value("addressType", ""), endpoints, port_set(s.value("ports", json::array())), owners};
  };
  if (summary(*have) == summary(want) && has_labels(*have, want["metadata"]["labels"])) return;
  json updated = *have;
  for (const char* field : {"addressType", "endpoints", "ports"}) updated[field] = want[field];
  updated["metadata"]["ownerReferences"] = want["metadata"]["ownerReferences"];
  add_labels(updated, want["metadata"]["labels"]);
  client.update(updated);
  changes.push_back("updated EndpointSlice kube-system/kube-dns");
}

std::vector<std::string> ServiceRegistration::ensure(std::vector<std::string>& problems) {
  std::vector<std::string> changes;
  std::string uid = ensure_service(changes, problems);
  if (options_.advertise_address.empty()) {
    problems.push_back("no --advertise-address (and --bind-address is not one address): the kube-dns Service has "
                       "no endpoints from this server");
    return changes;
  }
  ensure_endpoints(changes);
  ensure_slice(uid, changes);
  return changes;
}

void ServiceRegistration::start() { thread_ = std::thread([this] { loop(); }); }

void ServiceRegistration::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ServiceRegistration::trigger() {
  {
    std::lock_guard lock(mutex_);
    triggered_ = true;
  }
  cv_.notify_all();
}

void ServiceRegistration::loop() {
  std::chrono::steady_clock::duration retry = kRegistrationRetryMin;
  std::string last_problems;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    triggered_ = false;
    lock.unlock();
    std::chrono::steady_clock::duration wait = kRegistrationResync;
    try {
      std::vector<std::string> problems;
      for (const auto& change : ensure(problems)) log(LogLevel::Info, change);
      std::string text;
      for (const auto& p : problems) text += (text.empty() ? "" : "; ") + p;
      // Said once, not on every pass.
      if (!text.empty() && text != last_problems) log(LogLevel::Warning, text);
      last_problems = text;
      retry = kRegistrationRetryMin;
    } catch (const std::exception& e) {
      // 409: someone wrote in between; anything else: the apiserver away or refusing. Look again soon.
      log(LogLevel::Warning, std::string("cannot register behind the kube-dns Service: ") + e.what());
      wait = retry;
      retry = std::min<std::chrono::steady_clock::duration>(retry * 2, kRegistrationResync);
    }
    lock.lock();
    cv_.wait_for(lock, wait, [&] { return stopping_ || triggered_; });
  }
}

}  // namespace kctl::dns
