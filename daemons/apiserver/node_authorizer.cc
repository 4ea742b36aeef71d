// The node authorizer: a kubelet reads what the pods bound to its node need and writes what belongs to its node.
// kube answers the relationships from a graph it keeps; kctl reads the store for the one pod or namespace a request
// is about.
#include "daemons/apiserver/node_authorizer.h"

#include "api/status.h"
#include "daemons/apiserver/node_restriction.h"
#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/rbac_bootstrap.h"

namespace kctl::apiserver {

using nlohmann::json;

namespace {

constexpr const char* kNodeLeaseNamespace = "kube-node-lease";

bool is_read(const std::string& verb) { return verb == "get" || verb == "list" || verb == "watch"; }

std::string name_at(const json& obj, const char* field) {
  return obj.is_object() && obj.contains(field) && obj[field].is_string() ? obj[field].get<std::string>() : "";
}

// Every container of every kind (containers, initContainers, ephemeralContainers).
template <typename F>
void for_each_container(const json& spec, F f) {
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"})
    for (const auto& c : spec.value(list, json::array()))
      if (c.is_object()) f(c);
}

}  // namespace

bool pod_references(const json& pod, const std::string& resource, const std::string& name) {
  json spec = pod.value("spec", json::object());
  if (!spec.is_object()) return false;
  if (resource == "serviceaccounts") return spec.value("serviceAccountName", "default") == name;
  bool found = false;
  auto hit = [&](const std::string& n) { found = found || n == name; };
  for (const auto& v : spec.value("volumes", json::array())) {
    if (!v.is_object()) continue;
    if (resource == "secrets") hit(name_at(v.value("secret", json::object()), "secretName"));
    if (resource == "configmaps") hit(name_at(v.value("configMap", json::object()), "name"));
    if (resource == "persistentvolumeclaims") hit(name_at(v.value("persistentVolumeClaim", json::object()), "claimName"));
    for (const auto& src : v.value("/projected/sources"_json_pointer, json::array())) {
      if (resource == "secrets") hit(name_at(src.value("secret", json::object()), "name"));
      if (resource == "configmaps") hit(name_at(src.value("configMap", json::object()), "name"));
    }
  }
  if (resource == "secrets")
    for (const auto& s : spec.value("imagePullSecrets", json::array())) hit(name_at(s, "name"));
  if (resource == "secrets" || resource == "configmaps") {
    const char* key_ref = resource == "secrets" ? "secretKeyRef" : "configMapKeyRef";
    const char* env_from_ref = resource == "secrets" ? "secretRef" : "configMapRef";
    for_each_container(spec, [&](const json& c) {
      for (const auto& e : c.value("env", json::array()))
        if (e.is_object()) hit(name_at(e.value("valueFrom", json::object()).value(key_ref, json::object()), "name"));
      for (const auto& e : c.value("envFrom", json::array()))
        if (e.is_object()) hit(name_at(e.value(env_from_ref, json::object()), "name"));
    });
  }
  return found;
}

NodeAuthorizer::NodeAuthorizer(const ObjectService& objects) : objects_(objects) {
  for (const auto& role : bootstrap_cluster_roles())
    if (role.value("/metadata/name"_json_pointer, std::string()) == "system:node")
      for (const auto& r : role.value("rules", json::array())) node_rules_.push_back(PolicyRule::from_json(r));
}

Decision NodeAuthorizer::authorize(const RequestAttributes& a) const {
  auto node = node_identity(a.user);
  if (!node) return Decision::no_opinion();
  if (node->empty()) return Decision::deny("unknown node for user \"" + a.user.name + "\"");
  if (a.resource_request && a.api_group.empty()) {
    if (a.resource == "secrets" || a.resource == "configmaps" || a.resource == "persistentvolumeclaims" ||
        (a.resource == "serviceaccounts" && a.subresource == "token"))
      return authorize_referenced(*node, a);
    if (a.resource == "pods") return authorize_pod(*node, a);
    if (a.resource == "nodes") return authorize_node(*node, a);
  }
  if (a.resource_request && a.api_group == "coordination.k8s.io" && a.resource == "leases")
    return authorize_lease(*node, a);
  for (const auto& rule : node_rules_)
    if (rule_allows(a, rule)) return Decision::allow("");
  return Decision::no_opinion();
}

Decision NodeAuthorizer::authorize_referenced(const std::string& node, const RequestAttributes& a) const {
  bool token = a.resource == "serviceaccounts";
  if (token ? a.verb != "create" : !is_read(a.verb))
    return Decision::no_opinion(token ? "can only create tokens for individual service accounts"
                                      : "can only read resources of this type");
  if (!token && !a.subresource.empty()) return Decision::no_opinion("cannot read subresource");
  if (a.name.empty() || a.ns.empty()) return Decision::no_opinion("can only get individual resources of this type");
  if (!token && a.verb != "get") return Decision::no_opinion("can only get individual resources of this type");
  const api::KindInfo* pods = objects_.registry().by_kind("", "Pod");
  int64_t rev = 0;
  // The namespace's pods, filtered here: the store's field index is the apiserver's to configure.
  for (const auto& rec : objects_.list(*pods, a.ns, Selectors{}, &rev)) {
    json pod = json::parse(rec->value, nullptr, false);
    if (pod.value("/spec/nodeName"_json_pointer, std::string()) == node && pod_references(pod, a.resource, a.name))
      return Decision::allow("");
  }
  return Decision::no_opinion("no relationship found between node '" + node + "' and this object");
}

Decision NodeAuthorizer::authorize_pod(const std::string& node, const RequestAttributes& a) const {
  bool writes_bound_pod = (a.subresource == "status" && (a.verb == "update" || a.verb == "patch")) ||
                          (a.subresource.empty() && a.verb == "delete");
  if (writes_bound_pod) {
    if (a.name.empty()) return Decision::no_opinion("can only modify individual pods");
    const api::KindInfo* pods = objects_.registry().by_kind("", "Pod");
    RecordPtr rec;
    try {
      rec = objects_.get(*pods, a.ns, a.name);
    } catch (const api::StatusError&) {
      return Decision::no_opinion("");  // not there: the request gets its 404
    }
    json pod = json::parse(rec->value, nullptr, false);
    if (pod.value("/spec/nodeName"_json_pointer, std::string()) == node) return Decision::allow("");
    return Decision::deny("node '" + node + "' can only modify pods with spec.nodeName set to itself");
  }
  for (const auto& rule : node_rules_)
    if (rule_allows(a, rule)) return Decision::allow("");
  return Decision::no_opinion();
}

Decision NodeAuthorizer::authorize_node(const std::string& node, const RequestAttributes& a) const {
  if (is_read(a.verb) || a.verb == "create") {
    if (a.subresource.empty() || a.subresource == "status") return Decision::allow("");
    return Decision::no_opinion();
  }
  if (a.verb == "delete") return Decision::deny("node '" + node + "' is not allowed to delete nodes");
  bool write = a.verb == "update" || a.verb == "patch";
  if (!write || !(a.subresource.empty() || a.subresource == "status")) return Decision::no_opinion();
  if (a.name == node) return Decision::allow("");
  return Decision::deny("node '" + node + "' is not allowed to modify node '" + a.name + "'");
}

Decision NodeAuthorizer::authorize_lease(const std::string& node, const RequestAttributes& a) const {
  static const std::vector<std::string> verbs = {"get", "create", "update", "patch", "delete"};
  if (std::find(verbs.begin(), verbs.end(), a.verb) == verbs.end())
    return Decision::no_opinion("can only get, create, update, patch, or delete a node lease");
  if (a.ns != kNodeLeaseNamespace)
    return Decision::no_opinion(std::string("can only access leases in the ") + kNodeLeaseNamespace + " namespace");
  if (a.verb != "create" && a.name != node)
    return Decision::no_opinion("can only access node lease with the same name as the requesting node");
  return Decision::allow("");
}

}  // namespace kctl::apiserver
