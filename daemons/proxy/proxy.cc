// Proxy: the informers' events become dirty Service keys; the sync thread waits for the caches, then syncs what is
// dirty as it comes (a partial sync), and everything at start, every sync period and after any failure (a full
// sync), with a back-off while syncs keep failing.
#include "daemons/proxy/proxy.h"

#include <algorithm>

#include "api/registry.h"
#include "daemons/common/daemon.h"
#include "daemons/common/rtnetlink.h"

namespace kctl::proxy {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A sync that failed is retried after this, doubling up to the sync period.
constexpr auto kFirstRetry = std::chrono::milliseconds(500);
// How often a missing bridge is looked for again (the kubelet makes it once the node has a podCIDR).
constexpr auto kRouteRetry = std::chrono::seconds(1);

std::string object_key(const json& obj) {
  const json& m = obj.value("metadata", json::object());
  return m.value("namespace", "") + "/" + m.value("name", "");
}

// The Service an EndpointSlice belongs to, by its kubernetes.io/service-name label.
std::string slice_service_key(const json& slice) {
  const json& m = slice.value("metadata", json::object());
  const json& labels = m.value("labels", json::object());
  auto it = labels.find(kServiceNameLabel);
  if (it == labels.end() || !it->is_string()) return "";
  return m.value("namespace", "") + "/" + it->get<std::string>();
}

}  // namespace

Proxy::Proxy(api::Transport& transport, nft::Writer& writer, ProxyOptions options)
    : transport_(transport), options_(std::move(options)), proxier_(writer, options_.rules) {
  const auto& reg = api::Registry::builtin();
  services_ = std::make_unique<api::Informer>(transport_, *reg.by_kind("", "Service"));
  slices_ = std::make_unique<api::Informer>(transport_, *reg.by_kind("discovery.k8s.io", "EndpointSlice"));
  services_->add_handler({[this](const api::ObjectPtr& o) { mark_dirty(object_key(*o)); },
                          [this](const api::ObjectPtr& old_obj, const api::ObjectPtr& o) {
                            if (old_obj != o) mark_dirty(object_key(*o));
                          },
                          [this](const api::ObjectPtr& o) { mark_dirty(object_key(*o)); }});
  auto slice_changed = [this](const api::ObjectPtr& o) {
    if (std::string key = slice_service_key(*o); !key.empty()) mark_dirty(key);
  };
  slices_->add_handler({slice_changed,
                        [this, slice_changed](const api::ObjectPtr& old_obj, const api::ObjectPtr& o) {
                          if (old_obj == o) return;
                          // A slice relabelled to another Service changes both.
                          slice_changed(old_obj);
                          slice_changed(o);
                        },
                        slice_changed});
}

Proxy::~Proxy() { stop(); }

void Proxy::start() {
  services_->start();
  slices_->start();
  thread_ = std::thread([this] { run(); });
}

void Proxy::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  done_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  services_->stop();
  slices_->stop();
}

void Proxy::mark_dirty(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    dirty_.insert(key);
  }
  cv_.notify_one();
}

ServiceMap Proxy::desired(const std::set<std::string>& keys) const {
  ServiceMap out;
  auto add = [&](const std::string& key, const api::ObjectPtr& svc) {
    auto& ports = out[key];
    if (!svc) return;  // deleted: no ports
    const json& m = svc->value("metadata", json::object());
    std::string ns = m.value("namespace", ""), name = m.value("name", "");
    std::vector<api::ObjectPtr> slices;
    for (const auto& s : slices_->by_index(api::index::kLabel, std::string(kServiceNameLabel) + "=" + name))
      if (s->value("/metadata/namespace"_json_pointer, std::string()) == ns) slices.push_back(s);
    ports = service_ports(*svc, slices, options_.node_name);
  };
  if (keys.empty()) {
    for (const auto& svc : services_->list()) add(object_key(*svc), svc);
  } else {
    for (const auto& key : keys) add(key, services_->get(key));
  }
  return out;
}

void Proxy::ensure_route() {
  if (route_done_ || options_.bridge.empty() || !options_.rules.service_cidr) return;
  try {
    rtnl::Socket sock;
    int index = sock.link_index(options_.bridge);
    if (!index) return;  // not yet
    sock.replace_link_route(options_.rules.service_cidr->address, options_.rules.service_cidr->length, index,
                            kServiceRouteProtocol);
    route_done_ = true;
    log(LogLevel::Info, "routing the service range " + options_.rules.service_cidr->to_string() + " onto " +
                            options_.bridge + " for the node's own connections");
  } catch (const std::exception& e) {
    log(LogLevel::Warning, std::string("cannot route the service range onto ") + options_.bridge + ": " + e.what());
  }
}

void Proxy::run() {
  while (!services_->wait_for_sync(std::chrono::milliseconds(200)) ||
         !slices_->wait_for_sync(std::chrono::milliseconds(200))) {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  auto next_full = Clock::now();
  auto retry = kFirstRetry;
  auto next_route_check = Clock::now();
  for (;;) {
    std::set<std::string> keys;
    bool full = false;
    {
      std::unique_lock lock(mu_);
      auto wake = next_full;
      if (!route_done_ && !options_.bridge.empty()) wake = std::min(wake, next_route_check);
      cv_.wait_until(lock, wake, [&] { return stopping_ || full_requested_ || !dirty_.empty() || Clock::now() >= wake; });
      if (stopping_) return;
      full = full_requested_ || Clock::now() >= next_full || !proxier_.initialized();
      if (!full && dirty_.empty()) {
        lock.unlock();
        if (Clock::now() >= next_route_check) {
          ensure_route();
          next_route_check = Clock::now() + kRouteRetry;
        }
        continue;
      }
      keys.swap(dirty_);
      full_requested_ = false;
    }
    if (Clock::now() >= next_route_check || full) {
      ensure_route();
      next_route_check = Clock::now() + kRouteRetry;
    }

    auto t0 = Clock::now();
    std::optional<nft::Error> err;
    if (full) err = proxier_.full_sync(desired({}));
    else err = proxier_.partial_sync(desired(keys));
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);

    std::lock_guard lock(mu_);
    stats_.last_sync_us = uint64_t(took.count());
    stats_.last_full = full;
    stats_.last_operations = proxier_.last_operations();
    if (err) {
      ++stats_.failed_syncs;
      stats_.last_error = err->message;
      log(LogLevel::Error, std::string(full ? "full" : "partial") + " sync of table ip " + kTable +
                               " failed: " + err->message + "; a full sync follows in " +
                               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(retry).count()) +
                               " ms");
      // Whatever was dirty is covered by the full sync that repairs the table.
      next_full = Clock::now() + retry;
      retry = std::min<std::chrono::milliseconds>(retry * 2, options_.sync_period);
      if (!full) full_requested_ = false;
    } else {
      ++stats_.sync_count;
      if (full) {
        ++stats_.full_syncs;
        next_full = Clock::now() + options_.sync_period;
      }
      retry = kFirstRetry;
      stats_.last_error.clear();
      stats_.services = proxier_.services();
      stats_.endpoints = proxier_.endpoints();
      log(LogLevel::Debug, std::string(full ? "full" : "partial") + " sync: " + std::to_string(stats_.last_operations) +
                               " operations in " + std::to_string(took.count()) + " us");
    }
    done_cv_.notify_all();
  }
}

bool Proxy::sync_now(std::chrono::milliseconds timeout, std::string* error) {
  std::unique_lock lock(mu_);
  uint64_t full_before = stats_.full_syncs, failed_before = stats_.failed_syncs;
  full_requested_ = true;
  cv_.notify_one();
  bool done = done_cv_.wait_for(lock, timeout, [&] {
    return stopping_ || stats_.full_syncs > full_before || stats_.failed_syncs > failed_before;
  });
  if (stats_.full_syncs > full_before) return true;
  if (error) *error = !done ? "the sync did not finish in time" : stopping_ ? "stopping" : stats_.last_error;
  return false;
}

bool Proxy::wait_for_first_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return done_cv_.wait_for(lock, timeout, [&] { return stopping_ || stats_.full_syncs > 0; }) &&
         stats_.full_syncs > 0;
}

ProxyStats Proxy::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::optional<nft::Error> Proxy::cleanup(nft::Writer& writer, const ProxyConfig& config) {
  if (config.service_cidr) {
    try {
      rtnl::Socket sock;
      sock.delete_route(config.service_cidr->address, config.service_cidr->length, kServiceRouteProtocol);
    } catch (const std::exception& e) {
      return nft::Error{EIO, std::string("cannot remove the service-range route: ") + e.what()};
    }
  }
  return Proxier::delete_table(writer);
}

}  // namespace kctl::proxy
