// NamespaceController: the deletion of a Terminating namespace's content (kube's NamespacedResourcesDeleter, with
// the ordered deletion of 1.33: pods go first and the rest only once no pod is left), its status conditions, and
// the finalize call that hands the namespace back to the apiserver.
#include "daemons/controller-manager/namespace_controller.h"

#include <algorithm>
#include <ctime>

#include "api/go_json.h"
#include "daemons/common/daemon.h"

namespace kctl::controllers {

using api::KindInfo;
using api::ObjectPtr;
using nlohmann::json;

namespace {

struct ConditionText {
  const char* type;
  const char* ok_reason;
  const char* ok_message;
};
// kube's okReasons / okMessages (pkg/controller/namespace/deletion/status_condition_utils.go).
constexpr ConditionText kConditions[] = {
    {"NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"},
    {"NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"},
    {"NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"},
    {"NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"},
    {"NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"},
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string now_rfc3339() { return api::format_rfc3339(std::time(nullptr), 0, false).value_or(""); }

bool terminal(const json& pod) {
  std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

bool update_namespace_conditions(json& conditions, const NamespaceContent& content, const std::string& now) {
  if (!conditions.is_array()) conditions = json::array();
  std::map<std::string, std::pair<std::string, std::string>> failing;  // type -> reason, message
  if (!content.errors.empty()) {
    std::vector<std::string> errs = content.errors;
    std::sort(errs.begin(), errs.end());
    failing["NamespaceDeletionContentFailure"] = {
        "ContentDeletionFailed",
        "Failed to delete all resource types, " + std::to_string(errs.size()) + " remaining: " + join(errs, ", ")};
  }
  std::vector<std::string> parts;
  for (const auto& [resource, n] : content.remaining)
    if (n > 0) parts.push_back(resource + " has " + std::to_string(n) + " resource instances");
  if (!parts.empty()) failing["NamespaceContentRemaining"] = {"SomeResourcesRemain", "Some resources are remaining: " + join(parts, ", ")};
  parts.clear();
  for (const auto& [finalizer, n] : content.finalizers_remaining)
    if (n > 0) parts.push_back(finalizer + " in " + std::to_string(n) + " resource instances");
  if (!parts.empty())
    failing["NamespaceFinalizersRemaining"] = {"SomeFinalizersRemain",
                                               "Some content in the namespace has finalizers remaining: " + join(parts, ", ")};

  bool changed = false;
  for (const auto& c : kConditions) {
    auto f = failing.find(c.type);
    std::string status = f != failing.end() ? "True" : "False";
    std::string reason = f != failing.end() ? f->second.first : c.ok_reason;
    std::string message = f != failing.end() ? f->second.second : c.ok_message;
    auto it = std::find_if(conditions.begin(), conditions.end(), [&](const json& x) { return x.value("type", "") == c.type; });
    if (it == conditions.end()) {
      conditions.push_back({{"type", c.type}, {"status", status}, {"lastTransitionTime", now}, {"reason", reason},
                            {"message", message}});
      changed = true;
    } else if (it->value("status", "") != status || it->value("reason", "") != reason ||
               it->value("message", "") != message) {
      if (it->value("status", "") != status) (*it)["lastTransitionTime"] = now;
      (*it)["status"] = status;
      (*it)["reason"] = reason;
      (*it)["message"] = message;
      changed = true;
    }
  }
  return changed;
}

NamespaceController::NamespaceController(ControllerContext& context)
    : Controller("namespace", context), namespaces_(context.informer("namespaces")) {
  auto maybe = [this](const ObjectPtr& ns) {
    if (being_deleted(*ns)) enqueue(key_of(*ns));
  };
  namespaces_.add_handler({maybe, [maybe](const ObjectPtr&, const ObjectPtr& ns) { maybe(ns); }, nullptr});
  for (const auto& kind : api::Registry::builtin().kinds()) {
    if (!kind.namespaced) continue;
    const auto& verbs = kind.verbs;
    if (std::find(verbs.begin(), verbs.end(), "delete") == verbs.end() ||
        std::find(verbs.begin(), verbs.end(), "list") == verbs.end())
      continue;
    kinds_.push_back(&kind);
    // What a deletion waits for is objects going away (pods their kubelet stops, objects whose finalizers are
    // removed): their delete events wake it, rather than a timer. Events go at once when deleted: never waited for.
    if (kind.group.empty() && kind.plural == "events") continue;
    context.informers.informer(kind).add_handler({nullptr, nullptr, [this](const ObjectPtr& obj) {
                                                    std::string ns = obj->value("/metadata/namespace"_json_pointer, std::string());
                                                    ObjectPtr n = namespaces_.get(ns);
                                                    if (n && being_deleted(*n)) enqueue(ns);
                                                  }});
  }
  // Ordered namespace deletion (KEP-5080, on by default in 1.33): pods before everything else, so that nothing a
  // running pod relies on (its ConfigMaps, Secrets, ServiceAccount) goes before it has stopped.
  std::stable_partition(kinds_.begin(), kinds_.end(), [](const KindInfo* k) { return k->group.empty() && k->plural == "pods"; });
}

void NamespaceController::resync() {
  for (const auto& ns : namespaces_.list())
    if (being_deleted(*ns)) enqueue(key_of(*ns));
}

void NamespaceController::sync(const std::string& name) {
  const KindInfo& ns_kind = *api::Registry::builtin().by_kind("", "Namespace");
  auto client = api::ResourceClient(context_.transport, ns_kind);
  // The latest state, not the cache's: another controller may have finalized it already.
  json ns;
  try {
    ns = client.get(name);
  } catch (const api::StatusError& e) {
    if (e.status().code == 404) return;
    throw;
  }
  if (!being_deleted(ns)) return;
  json finalizers = ns.value("/spec/finalizers"_json_pointer, json::array());
  if (std::find(finalizers.begin(), finalizers.end(), kNamespaceFinalizer) == finalizers.end()) return;

  NamespaceContent content = delete_content(name);

  json updated = ns;
  if (updated.value("/status/phase"_json_pointer, std::string()) != "Terminating") {
    updated["status"]["phase"] = "Terminating";
  }
  json conditions = updated.value("/status/conditions"_json_pointer, json::array());
  bool changed = update_namespace_conditions(conditions, content, now_rfc3339());
  updated["status"]["conditions"] = conditions;
  if (changed || updated["status"]["phase"] != ns.value("/status/phase"_json_pointer, json())) {
    ns = client.update_status(updated);  // 409: retried with the namespace read again
  }
  if (!content.errors.empty())
    throw std::runtime_error("deleting the content of namespace " + name + ": " + content.errors.front());
  if (content.estimate_seconds > 0) {
    // Woken earlier by the deletions it waits for; this is the fallback kube uses alone.
    enqueue_after(name, std::chrono::seconds(content.estimate_seconds / 2 + 1));
    return;
  }
  // Empty: hand it back to the apiserver, which deletes it once spec.finalizers is empty.
  json fin = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", ns["metadata"]}, {"spec", ns["spec"]}};
  json kept = json::array();
  for (const auto& f : fin.value("/spec/finalizers"_json_pointer, json::array()))
    if (f != kNamespaceFinalizer) kept.push_back(f);
  fin["spec"]["finalizers"] = kept;
  try {
    context_.transport.update(ns_kind, "", name, fin, "finalize");
    log(LogLevel::Info, "namespace: " + name + " is empty, finalized");
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;
  }
}

NamespaceContent NamespaceController::delete_content(const std::string& ns) {
  NamespaceContent content;
  for (const KindInfo* kind : kinds_) {
    bool pods = kind->group.empty() && kind->plural == "pods";
    // Pods still stopping hold back everything else (ordered deletion).
    if (!pods && content.remaining.count("pods.") && content.remaining["pods."] > 0) break;
    delete_kind(*kind, ns, content);
  }
  return content;
}

void NamespaceController::delete_kind(const KindInfo& kind, const std::string& ns, NamespaceContent& content) {
  api::ResourceClient client(context_.transport, kind, ns);
  std::string resource = kind.plural + "." + kind.group;
  try {
    for (const auto& item : client.list().items) {
      if (being_deleted(item)) continue;  // on its way out already
      try {
        // Background: the collector deletes dependents; the namespace controller must not wait on them here,
        // they are in this namespace and go through this loop anyway.
        client.remove(item["metadata"]["name"], {{"propagationPolicy", "Background"}});
      } catch (const api::StatusError& e) {
        if (e.status().code != 404) throw;
      }
    }
    auto left = client.list().items;
    if (left.empty()) return;
    content.remaining[resource] = int(left.size());
    bool any_finalizer = false;
    for (const auto& item : left) {
      for (const auto& f : item.value("/metadata/finalizers"_json_pointer, json::array())) {
        content.finalizers_remaining[f.get<std::string>()]++;
        any_finalizer = true;
      }
      // A pod being stopped by its kubelet: its grace period is how long that should take.
      if (kind.group.empty() && kind.plural == "pods" && !terminal(item))
        content.estimate_seconds =
            std::max(content.estimate_seconds,
                     item.value("/spec/terminationGracePeriodSeconds"_json_pointer, int64_t(30)));
    }
    if (any_finalizer) content.estimate_seconds = std::max(content.estimate_seconds, kFinalizerEstimateSeconds);
    if (content.estimate_seconds == 0)
      content.errors.push_back("unexpected items still remain in namespace: " + ns + " for gvr: " + kind.group +
                               "/" + kind.version + ", Resource=" + kind.plural);
  } catch (const api::StatusError& e) {
    content.errors.push_back(resource + ": " + e.what());
  }
}

}  // namespace kctl::controllers
