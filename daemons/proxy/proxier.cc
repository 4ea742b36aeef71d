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

// What service ports share, counted: the number of ports that use each pick chain and each key of a shared set.
struct SharedRefs {
  std::map<std::string, int> chains;
  std::map<std::string, std::map<nft::Key, int>> elements;
  std::map<std::string, ServicePortObjects::Chain> definitions;  // the chains' rules, for those to be written
};

void count_shared(ServicePortObjects& o, int delta, SharedRefs& refs) {
  for (auto& c : o.shared_chains) {
    refs.chains[c.name] += delta;
    if (delta > 0) refs.definitions.emplace(c.name, std::move(c));
  }
  for (const auto& [set, keys] : o.shared_elements)
    for (const auto& k : keys) refs.elements[set][k] += delta;
}

// Everything a set of service ports puts in the table, merged (what they share counted into `shared`).
struct Objects {
  std::vector<ServicePortObjects::Chain> chains;
  std::map<std::string, nft::Set> sets;
  std::map<std::string, std::map<nft::Key, nft::Element>> elements;  // map -> key -> element
};

void collect(const std::vector<ServicePort>& ports, const ProxyConfig& config, Objects& out, SharedRefs& shared,
             int delta) {
  for (const auto& p : ports) {
    ServicePortObjects o = service_port_objects(p, config);
    for (auto& c : o.chains) out.chains.push_back(std::move(c));
    for (auto& s : o.sets) out.sets.emplace(s.name, std::move(s));
    for (auto& [map, elements] : o.elements)
      for (auto& e : elements) out.elements[map].emplace(e.key, std::move(e));
    count_shared(o, delta, shared);
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
  SharedRefs shared;
  for (const auto& [key, ports] : services) {
    for (const auto& p : ports) {
      ServicePortObjects o = service_port_objects(p, config_);
      count_shared(o, 1, shared);
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
  for (const auto& [name, c] : shared.definitions) {
    write_chain(tx, c, existing_chains.count(name) > 0);
    wanted.insert(name);
  }
  for (const auto& [map, list] : elements) tx.add_elements(Family::Ipv4, kTable, map, list);
  for (const auto& [set, keys] : shared.elements) {
    std::vector<nft::Element> list;
    for (const auto& [k, refs] : keys) list.push_back({k});
    tx.add_elements(Family::Ipv4, kTable, set, list);
  }

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
  shared_chains_ = std::move(shared.chains);
  shared_elements_ = std::move(shared.elements);
  initialized_ = true;
  count();
  return std::nullopt;
}

std::optional<nft::Error> Proxier::partial_sync(const ServiceMap& changed) {
  if (!initialized_) return nft::Error{EAGAIN, "no full sync yet"};
  Objects before, after;
  SharedRefs shared;  // the changes to the counts (copying the counts would cost more than the whole batch)
  for (const auto& [key, ports] : changed) {
    auto it = applied_.find(key);
    if (it != applied_.end()) collect(it->second, config_, before, shared, -1);
    collect(ports, config_, after, shared, 1);
  }
  auto refs_of = [](const auto& counts, const auto& key) {
    auto it = counts.find(key);
    return it == counts.end() ? 0 : it->second;
  };

  nft::Transaction tx;
  // 1. sets the new chains use; 2. the changed Services' chains that differ, rewritten (the ones they had are
  // emptied first).
  std::set<std::string> old_chains, new_chains;
  for (const auto& c : before.chains) old_chains.insert(c.name);
  for (const auto& [name, s] : after.sets)
    if (!before.sets.count(name)) tx.add_set(s);
  // The pick chains a port now needs that none did.
  auto chain_refs = [&](const std::string& name) { return refs_of(shared_chains_, name); };
  auto element_refs = [&](const std::string& set, const nft::Key& k) {
    auto was = shared_elements_.find(set);
    return was == shared_elements_.end() ? 0 : refs_of(was->second, k);
  };
  for (const auto& [name, delta] : shared.chains)
    if (chain_refs(name) <= 0 && chain_refs(name) + delta > 0) write_chain(tx, shared.definitions.at(name), false);
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
  for (const auto& [set, keys] : shared.elements) {
    std::vector<nft::Key> gone;
    std::vector<nft::Element> added;
    for (const auto& [k, delta] : keys) {
      int had = element_refs(set, k);
      if (had > 0 && had + delta <= 0) gone.push_back(k);
      if (had <= 0 && had + delta > 0) added.push_back({k});
    }
    if (!gone.empty()) tx.delete_elements(Family::Ipv4, kTable, set, gone);
    if (!added.empty()) tx.add_elements(Family::Ipv4, kTable, set, added);
  }
  // 4. chains and sets no longer wanted: nothing refers to them any more.
  std::vector<std::string> stale;
  for (const auto& c : old_chains)
    if (!new_chains.count(c)) stale.push_back(c);
  for (const auto& [name, delta] : shared.chains)
    if (chain_refs(name) > 0 && chain_refs(name) + delta <= 0) stale.push_back(name);
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
  for (const auto& [name, delta] : shared.chains)
    if ((shared_chains_[name] += delta) <= 0) shared_chains_.erase(name);
  for (const auto& [set, keys] : shared.elements)
    for (const auto& [k, delta] : keys)
      if ((shared_elements_[set][k] += delta) <= 0) shared_elements_[set].erase(k);
  count();
  return std::nullopt;
}

void Proxier::count() {
  endpoints_ = 0;
  for (const auto& [key, ports] : applied_)
    for (const auto& p : ports) endpoints_ += p.endpoints.size();
}

}  // namespace kctl::proxy
