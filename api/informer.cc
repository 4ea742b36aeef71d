// Informer: the watch thread that keeps the cache and indexes, the handlers, periodic resync, the sync barrier,
// and the factory that shares informers.
#include "api/informer.h"

namespace kctl::api {

using nlohmann::json;

Informer::Informer(Transport& transport, const KindInfo& kind, std::string ns, ListOptions opts,
                   std::chrono::seconds resync)
    : transport_(transport), kind_(kind), ns_(std::move(ns)), opts_(std::move(opts)), resync_(resync) {}

Informer::~Informer() { stop(); }

void Informer::add_handler(EventHandler handler) {
  std::lock_guard hl(handlers_mutex_);
  // Catch up: a late handler is told about what is already cached.
  if (handler.on_add) {
    std::shared_lock lock(cache_mutex_);
    for (const auto& [key, obj] : cache_) handler.on_add(obj);
  }
  handlers_.push_back(std::move(handler));
}

void Informer::start() {
  opts_.resource_version = "";
  watch_ = std::make_unique<ResumableWatch>(transport_, kind_, ns_, opts_);
  thread_ = std::thread([this] { run(); });
  if (resync_.count() > 0) resync_thread_ = std::thread([this] { resync_loop(); });
}

void Informer::stop() {
  {
    std::lock_guard lock(sync_mutex_);
    if (stopping_) return;
    stopping_ = true;
    sync_cv_.notify_all();
  }
  if (watch_) watch_->stop();
  if (thread_.joinable()) thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::has_synced() const {
  std::lock_guard lock(sync_mutex_);
  return synced_;
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(sync_mutex_);
  return sync_cv_.wait_for(lock, timeout, [&] { return synced_ || stopping_; }) && synced_;
}

void Informer::run() {
  WatchEvent ev;
  while (watch_->next(ev)) {
    if (ev.type == WatchEvent::Type::Synced) {
      std::lock_guard lock(sync_mutex_);
      synced_ = true;
      sync_cv_.notify_all();
      continue;
    }
    apply(ev);
  }
}

std::vector<std::pair<std::string, std::string>> Informer::index_values(const json& obj) {
  std::vector<std::pair<std::string, std::string>> out;
  const json& m = obj.contains("metadata") ? obj["metadata"] : json::object();
  if (m.contains("namespace") && m["namespace"].is_string()) out.emplace_back(index::kNamespace, m["namespace"]);
  if (obj.contains("/spec/nodeName"_json_pointer) && obj["spec"]["nodeName"].is_string())
    out.emplace_back(index::kNodeName, obj["spec"]["nodeName"]);
  if (m.contains("ownerReferences") && m["ownerReferences"].is_array())
    for (const auto& o : m["ownerReferences"])
      if (o.contains("uid") && o["uid"].is_string()) out.emplace_back(index::kOwner, o["uid"]);
  if (m.contains("labels") && m["labels"].is_object())
    for (auto it = m["labels"].begin(); it != m["labels"].end(); ++it)
      if (it->is_string()) out.emplace_back(index::kLabel, it.key() + "=" + it->get<std::string>());
  return out;
}

void Informer::index_add(const std::string& key, const json& obj) {
  for (auto& iv : index_values(obj)) indexes_[iv].insert(key);
}

void Informer::index_remove(const std::string& key, const json& obj) {
  for (auto& iv : index_values(obj)) {
    auto it = indexes_.find(iv);
    if (it == indexes_.end()) continue;
    it->second.erase(key);
    if (it->second.empty()) indexes_.erase(it);
  }
}

void Informer::apply(const WatchEvent& ev) {
  std::string key = object_key(ev.object);
  auto obj = std::make_shared<const json>(ev.object);
  ObjectPtr old;
  {
    std::unique_lock lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      old = it->second;
      index_remove(key, *old);
    }
    if (ev.type == WatchEvent::Type::Deleted) {
      cache_.erase(key);
    } else {
      cache_[key] = obj;
      index_add(key, *obj);
    }
  }
  std::lock_guard hl(handlers_mutex_);
  for (const auto& h : handlers_) {
    if (ev.type == WatchEvent::Type::Deleted) {
      if (h.on_delete) h.on_delete(old ? old : obj);
    } else if (old) {
      if (h.on_update) h.on_update(old, obj);
    } else if (h.on_add) {
      h.on_add(obj);
    }
  }
}

void Informer::resync_loop() {
  std::unique_lock lock(sync_mutex_);
  while (!sync_cv_.wait_for(lock, resync_, [&] { return stopping_; })) {
    lock.unlock();
    // A resync re-delivers every cached object as an update, so level-driven controllers re-check everything.
    std::vector<ObjectPtr> all = list();
    {
      std::lock_guard hl(handlers_mutex_);
      for (const auto& obj : all)
        for (const auto& h : handlers_)
          if (h.on_update) h.on_update(obj, obj);
    }
    lock.lock();
  }
}

ObjectPtr Informer::get(const std::string& key) const {
  std::shared_lock lock(cache_mutex_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::list() const {
  std::shared_lock lock(cache_mutex_);
  std::vector<ObjectPtr> out;
  out.reserve(cache_.size());
  for (const auto& [k, v] : cache_) out.push_back(v);
  return out;
}

std::vector<ObjectPtr> Informer::by_index(const std::string& index_name, const std::string& value) const {
  std::shared_lock lock(cache_mutex_);
  std::vector<ObjectPtr> out;
  auto it = indexes_.find({index_name, value});
  if (it == indexes_.end()) return out;
  for (const auto& key : it->second)
    if (auto c = cache_.find(key); c != cache_.end()) out.push_back(c->second);
  return out;
}

size_t Informer::size() const {
  std::shared_lock lock(cache_mutex_);
  return cache_.size();
}

// ---------------------------------------------------------------------------------------------------------------

InformerFactory::~InformerFactory() { stop(); }

Informer& InformerFactory::informer(const KindInfo& kind, const std::string& ns, const ListOptions& opts) {
  std::string id = kind.qualified_plural() + "|" + ns + "|" + opts.label_selector + "|" + opts.field_selector;
  std::lock_guard lock(mutex_);
  auto& slot = informers_[id];
  if (!slot) slot = std::make_unique<Informer>(transport_, kind, ns, opts, resync_);
  return *slot;
}

void InformerFactory::start() {
  std::lock_guard lock(mutex_);
  for (auto& [id, inf] : informers_)
    if (started_.insert(inf.get()).second) inf->start();
}

void InformerFactory::stop() {
  std::lock_guard lock(mutex_);
  for (auto& [id, inf] : informers_) inf->stop();
}

bool InformerFactory::wait_for_sync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Informer*> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, inf] : informers_) all.push_back(inf.get());
  }
  for (auto* inf : all) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !inf->wait_for_sync(left)) return false;
  }
  return true;
}

}  // namespace kctl::api
