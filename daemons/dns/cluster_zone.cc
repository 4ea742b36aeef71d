// ClusterZone: Services and Endpoints filed by (namespace, name), a reverse index for PTR, and the names of the
// cluster domain resolved as kube-dns and CoreDNS resolve them: services, headless endpoints by hostname, SRV per
// named port, pods by dashed IP, the SOA and NS of the zone, and NXDOMAIN with the SOA for everything else.
#include "daemons/dns/cluster_zone.h"

#include <arpa/inet.h>

#include <ctime>
#include <mutex>
#include <set>
#include <sstream>

namespace kctl::dns {

using nlohmann::json;

namespace {

// The SOA's timers (refresh, retry, expire) as CoreDNS sets them; nobody transfers this zone, but resolvers read
// the minimum (the negative-caching TTL, RFC 2308), which is the zone's TTL.
constexpr uint32_t kSoaRefresh = 7200, kSoaRetry = 1800, kSoaExpire = 86400;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// 10.244.1.5 -> 10-244-1-5: the name of an endpoint without a hostname, as CoreDNS makes it.
std::string dashed(std::string ip) {
  for (auto& c : ip)
    if (c == '.' || c == ':') c = '-';
  return ip;
}

}  // namespace

ClusterZone::ClusterZone(std::string domain, uint32_t ttl)
    : domain_(lower(std::move(domain))), ttl_(ttl), serial_(uint32_t(std::time(nullptr))) {
  while (!domain_.empty() && domain_.back() == '.') domain_.pop_back();
}

void ClusterZone::touch() { serial_ = std::max(serial_ + 1, uint32_t(std::time(nullptr))); }

size_t ClusterZone::services() const {
  std::shared_lock lock(mutex_);
  return services_.size();
}

void ClusterZone::set_service(const json& svc) {
  Service s;
  const json& meta = svc.contains("metadata") ? svc["metadata"] : json::object();
  const json& spec = svc.contains("spec") ? svc["spec"] : json::object();
  s.ns = lower(str(meta, "namespace"));
  s.name = lower(str(meta, "name"));
  if (s.ns.empty() || s.name.empty()) return;
  s.type = str(spec, "type");
  if (s.type.empty()) s.type = "ClusterIP";
  s.cluster_ip = str(spec, "clusterIP");
  s.external_name = lower(str(spec, "externalName"));
  if (spec.contains("ports") && spec["ports"].is_array())
    for (const auto& p : spec["ports"]) {
      if (!p.is_object() || !p.contains("port") || !p["port"].is_number_integer()) continue;
      std::string proto = str(p, "protocol");
      s.ports.push_back({lower(str(p, "name")), lower(proto.empty() ? "TCP" : proto), p["port"].get<int>()});
    }
  Key key{s.ns, s.name};
  std::unique_lock lock(mutex_);
  if (!services_.count(key)) ++namespaces_[s.ns];
  services_[key] = std::move(s);
  reindex_reverse(key);
  touch();
}

void ClusterZone::remove_service(const std::string& ns, const std::string& name) {
  Key key{lower(ns), lower(name)};
  std::unique_lock lock(mutex_);
  if (!services_.erase(key)) return;
  if (--namespaces_[key.first] == 0) namespaces_.erase(key.first);
  reindex_reverse(key);
  touch();
}

void ClusterZone::set_endpoints(const json& ep) {
  const json& meta = ep.contains("metadata") ? ep["metadata"] : json::object();
  Key key{lower(str(meta, "namespace")), lower(str(meta, "name"))};
  if (key.first.empty() || key.second.empty()) return;
  std::vector<Subset> subsets;
  if (ep.contains("subsets") && ep["subsets"].is_array())
    for (const auto& sub : ep["subsets"]) {
      if (!sub.is_object()) continue;
      Subset s;
      if (sub.contains("addresses") && sub["addresses"].is_array())
        for (const auto& a : sub["addresses"]) {
          if (!a.is_object()) continue;
          std::string ip = str(a, "ip"), host = lower(str(a, "hostname"));
          if (!is_ipv4(ip) && !is_ipv6(ip)) continue;
          s.ready.push_back({ip, host.empty() ? dashed(ip) : host, !host.empty()});
        }
      if (sub.contains("ports") && sub["ports"].is_array())
        for (const auto& p : sub["ports"]) {
          if (!p.is_object() || !p.contains("port") || !p["port"].is_number_integer()) continue;
          std::string proto = str(p, "protocol");
          s.ports.push_back({lower(str(p, "name")), lower(proto.empty() ? "TCP" : proto), p["port"].get<int>()});
        }
      subsets.push_back(std::move(s));
    }
  std::unique_lock lock(mutex_);
  endpoints_[key] = std::move(subsets);
  reindex_reverse(key);
  touch();
}

void ClusterZone::remove_endpoints(const std::string& ns, const std::string& name) {
  Key key{lower(ns), lower(name)};
  std::unique_lock lock(mutex_);
  if (!endpoints_.erase(key)) return;
  reindex_reverse(key);
  touch();
}

std::string ClusterZone::fqdn(const Service& s) const { return s.name + "." + s.ns + ".svc." + domain_; }

// The PTR names one Service contributes: its ClusterIP, and the endpoints of a headless Service with hostnames.
void ClusterZone::reindex_reverse(const Key& key) {
  auto drop = [&](const std::string& ip, const std::string& name) {
    auto it = reverse_.find(ip);
    if (it == reverse_.end()) return;
    std::erase(it->second, name);
    if (it->second.empty()) reverse_.erase(it);
  };
  for (const auto& entry : reverse_of_[key]) {
    auto bar = entry.find('|');
    drop(entry.substr(0, bar), entry.substr(bar + 1));
  }
  reverse_of_.erase(key);
  auto svc = services_.find(key);
  if (svc == services_.end()) return;
  std::vector<std::string> filed;
  auto file = [&](const std::string& ip, const std::string& name) {
    reverse_[ip].push_back(name);
    filed.push_back(ip + "|" + name);
  };
  const Service& s = svc->second;
  if (is_ipv4(s.cluster_ip)) file(s.cluster_ip, fqdn(s));
  if (s.cluster_ip == "None")
    if (auto ep = endpoints_.find(key); ep != endpoints_.end())
      for (const auto& sub : ep->second)
        for (const auto& a : sub.ready)
          if (a.has_hostname) file(a.ip, a.hostname + "." + fqdn(s));
  if (!filed.empty()) reverse_of_[key] = std::move(filed);
}

Record ClusterZone::soa() const {
  return {domain_, type::kSOA, kClassIN, ttl_,
          "ns.dns." + domain_ + " hostmaster." + domain_ + " " + std::to_string(serial_) + " " +
              std::to_string(kSoaRefresh) + " " + std::to_string(kSoaRetry) + " " + std::to_string(kSoaExpire) + " " +
              std::to_string(ttl_)};
}

// NXDOMAIN (no such name) or NODATA (NOERROR, nothing of that type): the SOA in the authority section tells
// resolvers how long to remember that (RFC 2308).
ZoneAnswer ClusterZone::negative(uint8_t rc) const {
  ZoneAnswer a;
  a.rcode = rc;
  a.authority.push_back(soa());
  return a;
}

ZoneAnswer ClusterZone::answer(const Question& q) const {
  std::string name = lower(q.name);
  while (!name.empty() && name.back() == '.') name.pop_back();
  bool in_zone = name == domain_ || (name.size() > domain_.size() && name.ends_with("." + domain_));
  std::shared_lock lock(mutex_);
  if (in_zone) {
    if (q.klass != kClassIN && q.klass != type::kANY) {
      ZoneAnswer a;
      a.rcode = rcode::kRefused;
      return a;
    }
    std::string rest = name.size() > domain_.size() ? name.substr(0, name.size() - domain_.size() - 1) : "";
    return answer_in_zone(q, rest.empty() ? std::vector<std::string>{} : split(rest, '.'));
  }
  if (name.ends_with(".in-addr.arpa") && q.klass == kClassIN) return answer_reverse(q, name);
  ZoneAnswer fwd;
  fwd.kind = ZoneAnswer::Kind::Forward;
  return fwd;
}

// `labels`: the name's labels before the cluster domain ("web", "default", "svc").
ZoneAnswer ClusterZone::answer_in_zone(const Question& q, const std::vector<std::string>& labels) const {
  const size_t n = labels.size();
  const uint16_t t = q.type;
  auto want = [&](uint16_t rr) { return t == rr || t == type::kANY; };
  ZoneAnswer a;
  if (n == 0) {  // the apex: SOA and NS
    if (want(type::kSOA)) a.answers.push_back(soa());
    if (want(type::kNS)) a.answers.push_back({domain_, type::kNS, kClassIN, ttl_, "ns.dns." + domain_});
    return a.answers.empty() ? negative(rcode::kNoError) : a;
  }
  const std::string& top = labels[n - 1];
  if (top == "dns-version" && n == 1) {
    if (!want(type::kTXT)) return negative(rcode::kNoError);
    a.answers.push_back({q.name, type::kTXT, kClassIN, ttl_, std::string("\"") + kSchemaVersion + "\""});
    return a;
  }
  if (top == "dns" && n <= 2) {
    if (n == 2 && labels[0] != "ns") return negative(rcode::kNXDomain);
    // ns.dns.<zone>: the name server of the zone, at the cluster DNS Service's address.
    if (n == 2 && want(type::kA))
      if (auto it = services_.find({"kube-system", "kube-dns"}); it != services_.end() && is_ipv4(it->second.cluster_ip))
        a.answers.push_back({q.name, type::kA, kClassIN, ttl_, it->second.cluster_ip});
    return a.answers.empty() ? negative(rcode::kNoError) : a;
  }
  if (top == "pod") {
    if (n == 1 || n == 2) return negative(rcode::kNoError);
    if (n != 3) return negative(rcode::kNXDomain);
    // <a-b-c-d>.<ns>.pod.<zone>: "pods insecure", as the Corefile Kubernetes ships answers (kube-dns did too).
    std::string ip = labels[0];
    for (auto& c : ip)
      if (c == '-') c = '.';
    if (!is_ipv4(ip)) return negative(rcode::kNXDomain);
    if (!want(type::kA)) return negative(rcode::kNoError);
    a.answers.push_back({q.name, type::kA, kClassIN, ttl_, ip});
    return a;
  }
  if (top != "svc") return negative(rcode::kNXDomain);
  if (n == 1) return negative(rcode::kNoError);
  if (n == 2) return negative(namespaces_.count(labels[0]) ? rcode::kNoError : rcode::kNXDomain);
  auto svc = services_.find({labels[n - 2], labels[n - 3]});
  if (svc == services_.end()) return negative(rcode::kNXDomain);
  const Service& s = svc->second;
  if (n == 3) {
    service_records(q, s, a);
    return a.answers.empty() ? negative(rcode::kNoError) : a;
  }
  if (n == 4 && labels[0].starts_with("_")) {  // _<proto>.<service>...: an empty non-terminal of the SRV names
    for (const auto& p : s.ports)
      if (!p.name.empty() && "_" + p.protocol == labels[0]) return negative(rcode::kNoError);
    return negative(rcode::kNXDomain);
  }
  if (n == 4) {  // <hostname>.<service>...: an endpoint of a headless Service
    if (s.cluster_ip != "None") return negative(rcode::kNXDomain);
    std::set<std::string> seen;
    bool found = false;
    if (auto ep = endpoints_.find(svc->first); ep != endpoints_.end())
      for (const auto& sub : ep->second)
        for (const auto& addr : sub.ready) {
          if (addr.hostname != labels[0]) continue;
          found = true;
          bool v4 = is_ipv4(addr.ip);
          if ((v4 ? want(type::kA) : want(type::kAAAA)) && seen.insert(addr.ip).second)
            a.answers.push_back({q.name, v4 ? type::kA : type::kAAAA, kClassIN, ttl_, addr.ip});
        }
    if (!found) return negative(rcode::kNXDomain);
    return a.answers.empty() ? negative(rcode::kNoError) : a;
  }
  if (n == 5 && labels[0].starts_with("_") && labels[1].starts_with("_")) {
    srv_records(q, s, labels[0].substr(1), labels[1].substr(1), a);
    if (a.rcode != rcode::kNoError) return negative(a.rcode);
    return a.answers.empty() ? negative(rcode::kNoError) : a;
  }
  return negative(rcode::kNXDomain);
}

void ClusterZone::service_records(const Question& q, const Service& s, ZoneAnswer& a) const {
  const uint16_t t = q.type;
  auto want = [&](uint16_t rr) { return t == rr || t == type::kANY; };
  if (s.type == "ExternalName") {
    // A CNAME answers every type; the client follows it to the external name.
    if (!s.external_name.empty()) a.answers.push_back({q.name, type::kCNAME, kClassIN, ttl_, s.external_name});
    return;
  }
  if (want(type::kA) || want(type::kAAAA)) {
    auto add = [&](const std::string& ip) {
      bool v4 = is_ipv4(ip);
      if (v4 ? want(type::kA) : want(type::kAAAA)) a.answers.push_back({q.name, v4 ? type::kA : type::kAAAA, kClassIN, ttl_, ip});
    };
    if (s.cluster_ip != "None") {
      if (is_ipv4(s.cluster_ip) || is_ipv6(s.cluster_ip)) add(s.cluster_ip);
    } else if (auto ep = endpoints_.find({s.ns, s.name}); ep != endpoints_.end()) {
      std::set<std::string> seen;  // one record per address, however many subsets list it
      for (const auto& sub : ep->second)
        for (const auto& addr : sub.ready)
          if (seen.insert(addr.ip).second) add(addr.ip);
    }
  }
  if (t == type::kSRV) srv_records(q, s, "", "", a);
}

// SRV records for the named ports matching `port` and `proto` (both "" for every named port): for a Service with a
// ClusterIP one per port naming the Service; for a headless one, one per ready endpoint and port, naming the
// endpoint, with the endpoint's port. The addresses of the targets go in the additional section.
void ClusterZone::srv_records(const Question& q, const Service& s, const std::string& port, const std::string& proto,
                              ZoneAnswer& a) const {
  bool any_port = port.empty() && proto.empty();
  auto matches = [&](const Port& p) { return !p.name.empty() && (any_port || (p.name == port && p.protocol == proto)); };
  bool exists = false;
  for (const auto& p : s.ports) exists = exists || matches(p);
  if (!exists) {
    if (!any_port) a.rcode = rcode::kNXDomain;
    return;
  }
  if (q.type != type::kSRV && q.type != type::kANY) return;
  struct Target {
    int port;
    std::string name, ip;
  };
  std::vector<Target> targets;
  if (s.cluster_ip != "None") {
    for (const auto& p : s.ports)
      if (matches(p)) targets.push_back({p.port, fqdn(s), s.cluster_ip});
  } else if (auto ep = endpoints_.find({s.ns, s.name}); ep != endpoints_.end()) {
    for (const auto& sub : ep->second)
      for (const auto& p : sub.ports)
        if (matches(p))
          for (const auto& addr : sub.ready) targets.push_back({p.port, addr.hostname + "." + fqdn(s), addr.ip});
  }
  if (targets.empty()) return;
  // Equal priority; the weights share 100 as CoreDNS shares them, so clients pick evenly.
  int weight = std::max(1, int(100 / targets.size()));
  std::set<std::string> added;
  for (const auto& t : targets) {
    a.answers.push_back({q.name, type::kSRV, kClassIN, ttl_,
                         "0 " + std::to_string(weight) + " " + std::to_string(t.port) + " " + t.name});
    if ((is_ipv4(t.ip) || is_ipv6(t.ip)) && added.insert(t.name + "|" + t.ip).second)
      a.additional.push_back({t.name, is_ipv4(t.ip) ? type::kA : type::kAAAA, kClassIN, ttl_, t.ip});
  }
}

// d.c.b.a.in-addr.arpa: the Service (or headless endpoint) with that address; other addresses are not ours.
ZoneAnswer ClusterZone::answer_reverse(const Question& q, const std::string& lname) const {
  auto labels = split(lname, '.');
  ZoneAnswer fwd;
  fwd.kind = ZoneAnswer::Kind::Forward;
  if (labels.size() != 6) return fwd;
  std::string ip = labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0];
  auto it = reverse_.find(ip);
  if (it == reverse_.end() || !is_ipv4(ip)) return fwd;
  ZoneAnswer a;
  if (q.type != type::kPTR && q.type != type::kANY) return fwd;
  for (const auto& name : it->second) a.answers.push_back({q.name, type::kPTR, kClassIN, ttl_, name});
  return a;
}

}  // namespace kctl::dns
