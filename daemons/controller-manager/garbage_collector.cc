// GarbageCollector: the informer handlers that say which objects to look at, and the three things kube's collector
// does with one: delete it when its owners are gone (attemptToDeleteItem), orphan its dependents when it is
// deleted with the orphan finalizer, and let it go once its blocking dependents are gone when it is deleted in
// the foreground (processDeletingDependentsItem).
#include "daemons/controller-manager/garbage_collector.h"

#include <algorithm>

#include "daemons/common/daemon.h"

namespace kctl::controllers {

using api::KindInfo;
using api::ObjectPtr;
using nlohmann::json;

namespace {

json owner_refs(const json& obj) {
  json refs = obj.value("/metadata/ownerReferences"_json_pointer, json::array());
  return refs.is_array() ? refs : json::array();
}

bool has_finalizer(const json& obj, const std::string& f) {
  json fs = obj.value("/metadata/finalizers"_json_pointer, json::array());
  return fs.is_array() && std::find(fs.begin(), fs.end(), f) != fs.end();
}

std::string uid_of(const json& obj) { return obj.value("/metadata/uid"_json_pointer, std::string()); }
std::string ns_of(const json& obj) { return obj.value("/metadata/namespace"_json_pointer, std::string()); }
std::string name_of(const json& obj) { return obj.value("/metadata/name"_json_pointer, std::string()); }

// The owner an object is waiting on or working for: worth a look by the collector.
bool interesting(const json& obj) {
  return !owner_refs(obj).empty() ||
         (being_deleted(obj) && (has_finalizer(obj, kOrphanFinalizer) || has_finalizer(obj, kForegroundFinalizer)));
}

std::string describe_ref(const json& ref) {
  return ref.value("apiVersion", "") + "/" + ref.value("kind", "") + ", name: " + ref.value("name", "") +
         ", uid: " + ref.value("uid", "");
}

}  // namespace

GarbageCollector::GarbageCollector(ControllerContext& context)
    : Controller("garbagecollector", context), recorder_(context.transport, {"garbage-collector-controller", ""}) {
  for (const auto& kind : api::Registry::builtin().kinds()) {
    auto verbs = kind.verbs;
    auto can = [&](const char* v) { return std::find(verbs.begin(), verbs.end(), v) != verbs.end(); };
    if (!can("list") || !can("watch") || !can("delete")) continue;
    // Events are never owners nor owned, and the most numerous objects there are: kube's default
    // GCIgnoredResources leaves them out, and so do we.
    if (kind.group.empty() && kind.plural == "events") continue;
    api::Informer& inf = context.informers.informer(kind);
    informers_[kind.qualified_plural()] = &inf;
    const KindInfo* k = &kind;
    inf.add_handler({[this, k](const ObjectPtr& o) {
                       if (interesting(*o)) enqueue_item(*k, *o);
                     },
                     [this, k](const ObjectPtr& old_obj, const ObjectPtr& o) { on_update(*k, *old_obj, *o); },
                     [this](const ObjectPtr& o) {
                       // Its dependents may now have no owner left; its owners, if waiting for it, may now go.
                       enqueue_dependents(*o);
                       enqueue_owners(*o);
                     }});
  }
}

void GarbageCollector::resync() {
  for (const auto& [plural, inf] : informers_)
    for (const auto& o : inf->list())
      if (interesting(*o)) enqueue_item(inf->kind(), *o);
}

std::string GarbageCollector::item_key(const KindInfo& kind, const json& obj) const {
  return kind.qualified_plural() + "|" + key_of(obj);
}

void GarbageCollector::on_update(const KindInfo& kind, const json& old_obj, const json& obj) {
  bool refs_changed = owner_refs(old_obj) != owner_refs(obj);
  bool deletion_changed = being_deleted(old_obj) != being_deleted(obj) ||
                          old_obj.value("/metadata/finalizers"_json_pointer, json()) !=
                              obj.value("/metadata/finalizers"_json_pointer, json());
  bool resync = &old_obj == &obj;
  if (refs_changed || deletion_changed || resync) {
    if (interesting(obj)) enqueue_item(kind, obj);
  }
  // A dependent that dropped (or stopped blocking on) an owner may be what that owner waits for.
  if (refs_changed) enqueue_owners(old_obj);
  // Foreground deletion begins: every dependent is to be deleted, not only the blocking ones.
  if (deletion_changed && being_deleted(obj) && has_finalizer(obj, kForegroundFinalizer)) enqueue_dependents(obj);
  // A dependent being deleted in the foreground blocks its owner until it is gone; nothing to do for the owner yet.
}

void GarbageCollector::enqueue_owners(const json& obj) {
  for (const auto& ref : owner_refs(obj)) {
    const KindInfo* kind = api::Registry::builtin().by_api_version_kind(ref.value("apiVersion", ""), ref.value("kind", ""));
    if (!kind) continue;
    std::string key = kind->namespaced ? ns_of(obj) + "/" + ref.value("name", "") : ref.value("name", "");
    enqueue(kind->qualified_plural() + "|" + key);
  }
}

void GarbageCollector::enqueue_dependents(const json& owner) {
  for (const auto& d : dependents_of(owner)) enqueue_item(*d.kind, *d.obj);
}

std::vector<GarbageCollector::Item> GarbageCollector::dependents_of(const json& owner) const {
  std::vector<Item> out;
  std::string uid = uid_of(owner);
  if (uid.empty()) return out;
  std::string ns = ns_of(owner);
  for (const auto& [plural, inf] : informers_)
    for (auto& d : inf->by_index(api::index::kOwner, uid))
      // A namespaced owner has dependents in its own namespace only (a reference from elsewhere names another
      // object, absent in that namespace).
      if (ns.empty() || ns_of(*d) == ns) out.push_back({&inf->kind(), d});
  return out;
}

GarbageCollector::OwnerState GarbageCollector::owner_state(const json& dependent, const KindInfo& dependent_kind,
                                                           const json& ref) {
  std::string uid = ref.value("uid", ""), name = ref.value("name", "");
  const KindInfo* kind = api::Registry::builtin().by_api_version_kind(ref.value("apiVersion", ""), ref.value("kind", ""));
  // A kind this apiserver does not serve cannot be checked: never a reason to delete.
  if (!kind || uid.empty() || name.empty()) return OwnerState::Unresolvable;
  if (kind->namespaced && !dependent_kind.namespaced) {
    recorder_.record(dependent, api::EventType::Warning, "OwnerRefInvalidNamespace",
                     "ownerRef [" + describe_ref(ref) + "] is namespaced, but a cluster-scoped dependent cannot "
                     "have a namespaced owner");
    return OwnerState::Unresolvable;
  }
  {
    std::lock_guard lock(absent_mutex_);
    if (absent_owners_.get(uid)) return OwnerState::Absent;
  }
  std::string ns = kind->namespaced ? ns_of(dependent) : "";
  auto state_of = [](const json& owner) {
    return being_deleted(owner) && has_finalizer(owner, kForegroundFinalizer) ? OwnerState::WaitingForDependents
                                                                              : OwnerState::Solid;
  };
  if (auto it = informers_.find(kind->qualified_plural()); it != informers_.end()) {
    ObjectPtr cached = it->second->get(ns.empty() ? name : ns + "/" + name);
    if (cached && uid_of(*cached) == uid) return state_of(*cached);
  }
  // Not in the cache (gone, or not seen yet): the server decides.
  json live;
  try {
    live = api::ResourceClient(context_.transport, *kind, ns).get(name);
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;
  }
  if (!live.is_null() && uid_of(live) == uid) return state_of(live);
  std::lock_guard lock(absent_mutex_);
  absent_owners_.put(uid, true);
  return OwnerState::Absent;
}

void GarbageCollector::sync(const std::string& key) {
  auto bar = key.find('|');
  if (bar == std::string::npos) return;
  auto it = informers_.find(key.substr(0, bar));
  if (it == informers_.end()) return;
  const KindInfo& kind = it->second->kind();
  ObjectPtr obj = it->second->get(key.substr(bar + 1));
  if (!obj) return;  // gone: its delete event queued its dependents
  if (being_deleted(*obj)) {
    // Orphan first: a dependent must lose its reference before the owner goes.
    if (has_finalizer(*obj, kOrphanFinalizer))
      process_orphan(kind, *obj);
    else if (has_finalizer(*obj, kForegroundFinalizer))
      process_foreground(kind, *obj);
    return;  // an object on its way out is not collected again
  }
  if (!owner_refs(*obj).empty()) attempt_to_delete(kind, *obj);
}

void GarbageCollector::process_orphan(const KindInfo& kind, const json& owner) {
  std::string uid = uid_of(owner);
  for (const auto& d : dependents_of(owner)) {
    json refs = json::array();
    for (const auto& r : owner_refs(*d.obj))
      if (r.value("uid", "") != uid) refs.push_back(r);
    try {
      patch_owner_references(*d.kind, *d.obj, refs);
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;  // 409: retried from a fresher cache
    }
  }
  remove_finalizer(kind, owner, kOrphanFinalizer);
}

void GarbageCollector::process_foreground(const KindInfo& kind, const json& owner) {
  std::string uid = uid_of(owner);
  bool blocked = false;
  for (const auto& d : dependents_of(owner)) {
    for (const auto& r : owner_refs(*d.obj))
      if (r.value("uid", "") == uid && r.value("blockOwnerDeletion", false)) blocked = true;
    if (!being_deleted(*d.obj)) enqueue_item(*d.kind, *d.obj);  // deleted in turn by attempt_to_delete
  }
  // Its dependents' deletions wake it again (their delete events queue their owners).
  if (!blocked) remove_finalizer(kind, owner, kForegroundFinalizer);
}

void GarbageCollector::attempt_to_delete(const KindInfo& kind, const json& obj) {
  json refs = owner_refs(obj);
  std::vector<json> solid, dangling, waiting;
  for (const auto& ref : refs) {
    switch (owner_state(obj, kind, ref)) {
      case OwnerState::Solid:
      case OwnerState::Unresolvable: solid.push_back(ref); break;
      case OwnerState::Absent: dangling.push_back(ref); break;
      case OwnerState::WaitingForDependents: waiting.push_back(ref); break;
    }
  }
  if (!solid.empty()) {
    // It stays, with a live owner: references to absent owners are dropped, and it no longer blocks owners that
    // are being deleted in the foreground.
    if (dangling.empty() && waiting.empty()) return;
    json kept = json::array();
    for (auto ref : refs) {
      std::string uid = ref.value("uid", "");
      if (std::any_of(dangling.begin(), dangling.end(), [&](const json& r) { return r.value("uid", "") == uid; }))
        continue;
      if (std::any_of(waiting.begin(), waiting.end(), [&](const json& r) { return r.value("uid", "") == uid; }))
        ref["blockOwnerDeletion"] = false;
      kept.push_back(ref);
    }
    if (kept != refs) patch_owner_references(kind, obj, kept);
    return;
  }
  // No live owner left. Its own finalizers say how it goes; a dependent of an owner waiting in the foreground
  // that has dependents itself goes in the foreground too, so the wait reaches down the whole chain.
  std::string policy = "Background";
  if (has_finalizer(obj, kOrphanFinalizer))
    policy = "Orphan";
  else if (has_finalizer(obj, kForegroundFinalizer) || (!waiting.empty() && !dependents_of(obj).empty()))
    policy = "Foreground";
  log(LogLevel::Info, "garbagecollector: deleting " + kind.kind + " " + key_of(obj) + " (" + policy +
                          "): its owners are " + (waiting.empty() ? "gone" : "being deleted in the foreground"));
  try {
    api::ResourceClient(context_.transport, kind, ns_of(obj))
        .remove(name_of(obj), {{"propagationPolicy", policy}, {"preconditions", {{"uid", uid_of(obj)}}}});
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;  // gone already; 409: another object of that name now
  }
}

void GarbageCollector::remove_finalizer(const KindInfo& kind, const json& obj, const std::string& finalizer) {
  json kept = json::array();
  for (const auto& f : obj.value("/metadata/finalizers"_json_pointer, json::array()))
    if (f != finalizer) kept.push_back(f);
  json patch = {{"metadata", {{"finalizers", kept}, {"resourceVersion", obj["metadata"]["resourceVersion"]}}}};
  try {
    api::ResourceClient(context_.transport, kind, ns_of(obj)).patch(name_of(obj), api::PatchType::Merge, patch);
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;
  }
}

void GarbageCollector::patch_owner_references(const KindInfo& kind, const json& obj, const json& refs) {
  json patch = {{"metadata", {{"ownerReferences", refs.empty() ? json(nullptr) : refs},
                              {"resourceVersion", obj["metadata"]["resourceVersion"]}}}};
  api::ResourceClient(context_.transport, kind, ns_of(obj)).patch(name_of(obj), api::PatchType::Merge, patch);
}

}  // namespace kctl::controllers
