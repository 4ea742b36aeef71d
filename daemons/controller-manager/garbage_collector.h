// The garbage collector ("garbagecollector"), as kube's pkg/controller/garbagecollector behaves: objects whose
// owners (metadata.ownerReferences, by uid) are all gone are deleted; an owner deleted with propagationPolicy
// Foreground (finalizer foregroundDeletion) goes once its blocking dependents are gone; one deleted with Orphan
// (finalizer orphan) first has its dependents' references to it removed. Every kind of the registry takes part but
// Events, which kube's collector ignores too.
//
// Kube builds a dependency graph (GraphBuilder: a node per uid, virtual nodes for owners not yet seen). kctl's
// informers already index every cached object by its owners' uids, so the collector keeps no graph of its own:
// an object's dependents are a lookup of its uid in each kind's owner index, its owners are looked up by
// kind/namespace/name in the owner kind's cache and, when the cache does not have them, by a GET to the apiserver
// (what kube's virtual nodes amount to: absence is only believed when the server confirms it). One source of
// truth, no second copy of the cluster to keep consistent; the cost is a scan of ~15 owner indexes per lookup.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/event_recorder.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

// The finalizers the apiserver puts on an object deleted with propagationPolicy Orphan or Foreground.
inline constexpr const char* kOrphanFinalizer = "orphan";
inline constexpr const char* kForegroundFinalizer = "foregroundDeletion";
// Owner uids the server said are gone (uids are never reused, so they stay gone): the many dependents of one
// deleted owner cost one GET, not one each. Kube's absentOwnerCache holds as many.
inline constexpr size_t kAbsentOwnerCacheSize = 500;

class GarbageCollector : public Controller {
 public:
  explicit GarbageCollector(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  struct Item {
    const api::KindInfo* kind = nullptr;
    api::ObjectPtr obj;
  };
  enum class OwnerState { Solid, Absent, WaitingForDependents, Unresolvable };

  std::string item_key(const api::KindInfo& kind, const nlohmann::json& obj) const;
  void enqueue_item(const api::KindInfo& kind, const nlohmann::json& obj) { enqueue(item_key(kind, obj)); }
  void enqueue_owners(const nlohmann::json& obj);
  void enqueue_dependents(const nlohmann::json& owner);
  void on_update(const api::KindInfo& kind, const nlohmann::json& old_obj, const nlohmann::json& obj);

  // The cached objects that name `owner` (by uid) among their ownerReferences.
  std::vector<Item> dependents_of(const nlohmann::json& owner) const;
  OwnerState owner_state(const nlohmann::json& dependent, const api::KindInfo& dependent_kind,
                         const nlohmann::json& ref);

  void process_orphan(const api::KindInfo& kind, const nlohmann::json& owner);
  void process_foreground(const api::KindInfo& kind, const nlohmann::json& owner);
  void attempt_to_delete(const api::KindInfo& kind, const nlohmann::json& obj);
  void remove_finalizer(const api::KindInfo& kind, const nlohmann::json& obj, const std::string& finalizer);
  // A merge patch of metadata.ownerReferences, conditional on the object's resourceVersion (409 when it moved on).
  void patch_owner_references(const api::KindInfo& kind, const nlohmann::json& obj, const nlohmann::json& refs);

  std::map<std::string, api::Informer*> informers_;  // by qualified plural; filled in the constructor, then read-only
  std::mutex absent_mutex_;
  api::LruCache<bool> absent_owners_{kAbsentOwnerCacheSize};  // guarded by absent_mutex_
  api::EventRecorder recorder_;
};

}  // namespace kctl::controllers
