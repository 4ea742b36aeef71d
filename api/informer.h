// Shared informers, as in client-go: one list-and-watch per kind keeps an in-memory cache with indexes and tells
// event handlers what changed. Controllers read the cache, never the server, and never mutate cached objects.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "api/resumable_watch.h"

namespace kctl::api {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

struct EventHandler {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;  // also on resync (old == new)
  std::function<void(const ObjectPtr&)> on_delete;
};

// The built-in indexes: what an object is filed under in each.
namespace index {
inline constexpr const char* kNamespace = "namespace";  // metadata.namespace
inline constexpr const char* kNodeName = "nodeName";    // spec.nodeName
inline constexpr const char* kOwner = "owner";          // metadata.ownerReferences[].uid
inline constexpr const char* kLabel = "label";          // "key=value" of every label
}  // namespace index

class Informer {
 public:
  // ns "": all namespaces. opts: label/field selectors narrowing what is cached (e.g. spec.nodeName=NODE).
  Informer(Transport& transport, const KindInfo& kind, std::string ns = "", ListOptions opts = {},
           std::chrono::seconds resync = std::chrono::seconds(0));
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added before start() see every object as an add; later ones get adds for what is cached then.
  void add_handler(EventHandler handler);
  void start();
  void stop();
  // True once the first list has been delivered to the handlers.
  bool has_synced() const;
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  ObjectPtr get(const std::string& key) const;  // "ns/name" or "name"
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> by_index(const std::string& index_name, const std::string& value) const;
  const KindInfo& kind() const { return kind_; }
  size_t size() const;

 private:
  void run();
  void apply(const WatchEvent& ev);
  void resync_loop();
  static std::vector<std::pair<std::string, std::string>> index_values(const nlohmann::json& obj);
  void index_add(const std::string& key, const nlohmann::json& obj);
  void index_remove(const std::string& key, const nlohmann::json& obj);

  Transport& transport_;
  const KindInfo& kind_;
  std::string ns_;
  ListOptions opts_;
  std::chrono::seconds resync_;

  mutable std::shared_mutex cache_mutex_;
  std::map<std::string, ObjectPtr> cache_;                                       // guarded by cache_mutex_
  std::map<std::pair<std::string, std::string>, std::set<std::string>> indexes_;  // guarded by cache_mutex_

  // Handlers run on the informer's thread, one event at a time, in order. Guarded by handlers_mutex_.
  std::mutex handlers_mutex_;
  std::vector<EventHandler> handlers_;

  mutable std::mutex sync_mutex_;
  mutable std::condition_variable sync_cv_;
  bool synced_ = false;  // guarded by sync_mutex_
  bool stopping_ = false;

  std::unique_ptr<ResumableWatch> watch_;
  std::thread thread_, resync_thread_;
};

// One informer per kind (and namespace and selector), shared by every controller of a daemon.
class InformerFactory {
 public:
  explicit InformerFactory(Transport& transport, std::chrono::seconds resync = std::chrono::seconds(0))
      : transport_(transport), resync_(resync) {}
  ~InformerFactory();
  Informer& informer(const KindInfo& kind, const std::string& ns = "", const ListOptions& opts = {});
  void start();  // starts every informer not started yet
  void stop();
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

 private:
  Transport& transport_;
  std::chrono::seconds resync_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Informer>> informers_;  // guarded by mutex_
  std::set<Informer*> started_;                                  // guarded by mutex_
};

}  // namespace kctl::api
