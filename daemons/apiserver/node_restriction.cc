// NodeRestriction: what a node's credentials may write, checked on the object as it would be stored.
#include "daemons/apiserver/node_restriction.h"

#include "api/status.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

std::optional<std::string> node_identity(const UserInfo& user) {
  if (user.name.rfind(kNodeUserPrefix, 0) != 0 || !user.in_group(kNodesGroup)) return std::nullopt;
  return user.name.substr(std::string(kNodeUserPrefix).size());
}

namespace {

std::string str_at(const json& obj, const char* pointer) {
  json::json_pointer p(pointer);
  return obj.contains(p) && obj[p].is_string() ? obj[p].get<std::string>() : "";
}

// The node-restriction.kubernetes.io/ labels of a Node, as a map.
json restricted_labels(const json& node) {
  json out = json::object();
  json labels = node.value("/metadata/labels"_json_pointer, json::object());
  if (!labels.is_object()) return out;
  for (auto it = labels.begin(); it != labels.end(); ++it)
    if (it.key().rfind(kNodeRestrictionLabelPrefix, 0) == 0) out[it.key()] = it.value();
  return out;
}

void admit_node(const std::string& node, const json& obj, const json* old) {
  std::string name = str_at(obj, "/metadata/name");
  if (name != node)
    throw StatusError(Status::forbidden("nodes", name, "node \"" + node + "\" is not allowed to modify node \"" +
                                                           name + "\""));
  json before = old ? restricted_labels(*old) : json::object(), after = restricted_labels(obj);
  if (before == after) return;
  std::string keys;
  for (const json* side : {&before, &after})
    for (auto it = side->begin(); it != side->end(); ++it)
      if (!before.contains(it.key()) || !after.contains(it.key()) || before[it.key()] != after[it.key()])
        if (keys.find(it.key()) == std::string::npos) keys += (keys.empty() ? "" : ", ") + it.key();
  throw StatusError(Status::forbidden("nodes", name, "is not allowed to modify labels: " + keys));
}

void admit_pod(const std::string& node, const json& obj, const json* old, const std::string& sub) {
  std::string name = str_at(obj, "/metadata/name");
  if (!old) {
    // Mirror pods of static pods, which kctl's kubelet does not make yet: a node may create only pods bound to it.
    if (str_at(obj, "/spec/nodeName") != node)
      throw StatusError(Status::forbidden("pods", name, "node \"" + node +
                                                            "\" can only create pods with spec.nodeName set to itself"));
    return;
  }
  if (str_at(*old, "/spec/nodeName") != node)
    throw StatusError(Status::forbidden("pods", name,
                                        "node \"" + node + "\" can only " +
                                            (sub == "status" ? "update pod status" : "modify pods") +
                                            " for pods with spec.nodeName set to itself"));
}

}  // namespace

void admit_node_restriction(const api::KindInfo& kind, const json& obj, const json* old, const std::string& sub,
                            const UserInfo* user) {
  if (!user || !kind.group.empty()) return;
  auto node = node_identity(*user);
  if (!node) return;
  if (node->empty()) throw StatusError(Status::forbidden(kind.plural, str_at(obj, "/metadata/name"),
                                                         "could not determine node from user \"" + user->name + "\""));
  if (kind.kind == "Node") admit_node(*node, obj, old);
  if (kind.kind == "Pod") admit_pod(*node, obj, old, sub);
}

}  // namespace kctl::apiserver
