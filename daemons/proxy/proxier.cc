// Full and partial syncs of `ip kctl`: the order of operations within a batch is what keeps every reference valid
// when the kernel applies them one by one (sets and target chains before what names them, elements deleted before
// they are re-added, chains emptied before they are deleted).
#include "daemons/proxy/proxier.h"

#include <algorithm>
#include <cerrno>
#include <set>

namespace kctl::proxy {

namespace {

using nft::Family;

// Everything a set of service ports puts in the table, merged.
struct Objects {
  std::vector<ServicePortObjects::Chain> chains;
  std::map<std::string, nft::Set> sets;
  std::map<std::string, std::map<nft::Key, nft::Element>> elements;  // map -> key -> element
};

void collect(const std::vector<ServicePort>& ports, const ProxyConfig& config, Objects& out) {
  for (const auto& p : ports) {
    ServicePortObjects o = service_port_objects(p, config);
    for (auto& c : o.chains) out.chains.push_back(std::move(c));
    for (auto& s : o.sets) out.sets.emplace(s.name, std::move(s));
    for (auto& [map, elements] : o.elements)
      for (auto& e : elements) out.elements[map].emplace(e.key, std::move(e));
  }
}

void write_chain(nft::Transaction& tx, const ServicePortObjects::Chain& c, bool flush) {
  tx.add_chain({Family::Ipv4, kTable, c.name, std::nullopt});
  if (flush) tx.flush_chain(Family::Ipv4, kTable, c.name);
  for (const auto& r : c.rules) tx.add_rule(r);
}

// The chains of `changed` whose rules stay what they are in `applied`: every chain of a port that did not change,
// and the chains of the endpoints a changed port kept (an endpoint chain's rules depend only on the port's settings
// and the endpoint). A partial sync leaves those alone.
std::set<std::string> unchanged_chains(const ServiceMap& applied, const ServiceMap& changed, const ProxyConfig& config) {
  std::set<std::string> same;
  for (const auto& [key, ports] : changed) {
    auto it = applied.find(key);
    if (it == applied.end()) continue;
    for (const auto& now : ports)
      for (const auto& was : it->second) {
        if (was.key() != now.key() || was.protocol != now.protocol) continue;
        if (was == now) {
          for (const auto& c : service_port_objects(now, config).chains) same.insert(c.name);
          continue;
        }
        ServicePort settings_was = was, settings_now = now;
        settings_was.endpoints.clear();
        settings_now.endpoints.clear();
        if (!(settings_was == settings_now)) continue;
        for (const auto& e : now.endpoints)
          if (std::find(was.endpoints.begin(), was.endpoints.end(), e) != was.endpoints.end())
            same.insert(endpoint_chain_name(now, e));
      }
  }
  return same;
}

void add_cluster_ip_refs(const std::vector<ServicePort>& ports, std::map<uint32_t, int>& refs, int delta) {
  for (const auto& p : ports) refs[p.cluster_ip] += delta;
}

}  // namespace

std::optional<nft::Error> Proxier::delete_table(nft::Writer& writer) {
  nft::Error error;
  auto contents = writer.list_table(Family::Ipv4, kTable, &error);
  if (!contents) return error;
  if (!contents->exists) return std::nullopt;
  nft::Transaction tx;
  tx.delete_table(Family::Ipv4, kTable);
  return writer.commit(tx);
}

std::optional<nft::Error> Proxier::full_sync(const ServiceMap& services) {
  nft::Error error;
  auto existing = writer_.list_table(Family::Ipv4, kTable, &error);
  if (!existing) return error;
  std::set<std::string> existing_chains(existing->chains.begin(), existing->chains.end());

  nft::Transaction tx;
  add_fixed_objects(tx, config_, existing->exists);
  std::set<std::string> wanted;
  std::map<std::string, std::vector<nft::Element>> elements;
  std::map<uint32_t, int> cluster_ips;
  for (const auto& [key, ports] : services) {
    add_cluster_ip_refs(ports, cluster_ips, 1);
    for (const auto& p : ports) {
      ServicePortObjects o = service_port_objects(p, config_);
      // An affinity set already there keeps its elements (the clients' endpoints) across the resync.
      for (const auto& s : o.sets) {
        tx.add_set(s);
        wanted.insert(s.name);
      }
      for (const auto& c : o.chains) {
        write_chain(tx, c, existing_chains.count(c.name) > 0);
        wanted.insert(c.name);
      }
      for (auto& [map, list] : o.elements)
        for (auto& e : list) elements[map].push_back(std::move(e));
    }
  }
  for (const auto& [map, list] : elements) tx.add_elements(Family::Ipv4, kTable, map, list);
  std::vector<nft::Element> ips;
  for (const auto& [ip, refs] : cluster_ips) ips.push_back({nft::Key().ipv4(ip)});
  tx.add_elements(Family::Ipv4, kTable, names::kClusterIps, ips);

  // What an earlier run (or a Service deleted while we were down) left: emptied first, so that none still refers to
  // another when it is deleted, then deleted; the sets they used after them.
  std::vector<std::string> stale;
  for (const auto& c : existing->chains)
    if (is_service_port_object(c) && !wanted.count(c)) stale.push_back(c);
  for (const auto& c : stale) tx.flush_chain(Family::Ipv4, kTable, c);
  for (const auto& c : stale) tx.delete_chain(Family::Ipv4, kTable, c);
  for (const auto& s : existing->sets)
    if (is_service_port_object(s) && !wanted.count(s)) tx.delete_set(Family::Ipv4, kTable, s);

  last_operations_ = tx.size();
  if (auto err = writer_.commit(tx)) return err;
  applied_ = services;
  // Services without ports (headless, ExternalName) need no entry.
  for (auto it = applied_.begin(); it != applied_.end();) it = it->second.empty() ? applied_.erase(it) : std::next(it);
  cluster_ips_ = std::move(cluster_ips);
  initialized_ = true;
  count();
  return std::nullopt;
}

std::optional<nft::Error> Proxier::partial_sync(const ServiceMap& changed) {
  if (!initialized_) return nft::Error{EAGAIN, "no full sync yet"};
  Objects before, after;
  std::map<uint32_t, int> cluster_ips = cluster_ips_;
  for (const auto& [key, ports] : changed) {
    auto it = applied_.find(key);
    if (it != applied_.end()) {
      collect(it->second, config_, before);
      add_cluster_ip_refs(it->second, cluster_ips, -1);
    }
    collect(ports, config_, after);
    add_cluster_ip_refs(ports, cluster_ips, 1);
  }

  nft::Transaction tx;
  // 1. sets the new chains use; 2. the changed Services' chains that differ, rewritten (the ones they had are
  // emptied first).
  std::set<std::string> old_chains, new_chains;
  for (const auto& c : before.chains) old_chains.insert(c.name);
  for (const auto& [name, s] : after.sets)
    if (!before.sets.count(name)) tx.add_set(s);
  std::set<std::string> same = unchanged_chains(applied_, changed, config_);
  for (const auto& c : after.chains) {
    new_chains.insert(c.name);
    if (old_chains.count(c.name) && same.count(c.name)) continue;
    write_chain(tx, c, old_chains.count(c.name) > 0);
  }
  // 3. elements: gone or changed ones deleted, then new or changed ones added.
  std::set<std::string> maps;
  for (const auto& [m, _] : before.elements) maps.insert(m);
  for (const auto& [m, _] : after.elements) maps.insert(m);
  for (const auto& m : maps) {
    const auto& was = before.elements[m];
    const auto& now = after.elements[m];
    std::vector<nft::Key> remove;
    std::vector<nft::Element> add;
    for (const auto& [k, e] : was) {
      auto n = now.find(k);
      if (n == now.end() || !same_value(e, n->second)) remove.push_back(k);
    }
    for (const auto& [k, e] : now) {
      auto w = was.find(k);
      if (w == was.end() || !same_value(e, w->second)) add.push_back(e);
    }
    if (!remove.empty()) tx.delete_elements(Family::Ipv4, kTable, m, remove);
    if (!add.empty()) tx.add_elements(Family::Ipv4, kTable, m, add);
  }
  std::vector<nft::Key> ips_gone;
  std::vector<nft::Element> ips_new;
  for (const auto& [ip, refs] : cluster_ips) {
    int had = cluster_ips_.count(ip) ? cluster_ips_.at(ip) : 0;
    if (had > 0 && refs <= 0) ips_gone.push_back(nft::Key().ipv4(ip));
    if (had <= 0 && refs > 0) ips_new.push_back({nft::Key().ipv4(ip)});
  }
  if (!ips_gone.empty()) tx.delete_elements(Family::Ipv4, kTable, names::kClusterIps, ips_gone);
  if (!ips_new.empty()) tx.add_elements(Family::Ipv4, kTable, names::kClusterIps, ips_new);
  // 4. chains and sets no longer wanted: nothing refers to them any more.
  std::vector<std::string> stale;
  for (const auto& c : old_chains)
    if (!new_chains.count(c)) stale.push_back(c);
  for (const auto& c : stale) tx.flush_chain(Family::Ipv4, kTable, c);
  for (const auto& c : stale) tx.delete_chain(Family::Ipv4, kTable, c);
  for (const auto& [name, s] : before.sets)
    if (!after.sets.count(name)) tx.delete_set(Family::Ipv4, kTable, name);

  last_operations_ = tx.size();
  // Nothing differs (an update that changed nothing the rules depend on): no batch at all.
  if (!tx.empty())
    if (auto err = writer_.commit(tx)) return err;
  for (const auto& [key, ports] : changed) {
    if (ports.empty()) applied_.erase(key);
    else applied_[key] = ports;
  }
  for (auto it = cluster_ips.begin(); it != cluster_ips.end();) it = it->second <= 0 ? cluster_ips.erase(it) : std::next(it);
  cluster_ips_ = std::move(cluster_ips);
  count();
  return std::nullopt;
}

void Proxier::count() {
  endpoints_ = 0;
  for (const auto& [key, ports] : applied_)
    for (const auto& p : ports) endpoints_ += p.endpoints.size();
}

}  // namespace kctl::proxy
