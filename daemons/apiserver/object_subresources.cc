// ObjectService's subresources and bootstrap: the autoscaling/v1 Scale of ReplicationControllers, ReplicaSets and
// Deployments, pod binding, and the namespaces and `kubernetes` Service (with its Endpoints and EndpointSlice) every
// cluster starts with.
#include "api/patch.h"
#include "api/validation.h"
#include "daemons/apiserver/object_service.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

json ObjectService::to_scale(const KindInfo& kind, const json& obj) const {
  json m = obj.value("metadata", json::object());
  json scale = {{"kind", "Scale"}, {"apiVersion", "autoscaling/v1"}, {"metadata", json::object()}};
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
    if (m.contains(f)) scale["metadata"][f] = m[f];
  scale["spec"] = {{"replicas", obj.value("/spec/replicas"_json_pointer, 0)}};
  std::string selector = kind.kind == "ReplicationController"
                             ? api::kinds::format_labels(obj.value("/spec/selector"_json_pointer, json()), "")
                             : api::kinds::format_label_selector(obj.value("/spec/selector"_json_pointer, json()));
  if (selector == "<none>") selector = "";
  scale["status"] = {{"replicas", obj.value("/status/replicas"_json_pointer, 0)}};
  if (!selector.empty()) scale["status"]["selector"] = selector;
  return scale;
}

json ObjectService::get_scale(const KindInfo& kind, const std::string& ns, const std::string& name) const {
  return to_scale(kind, json::parse(get(kind, ns, name)->value));
}

json ObjectService::update_scale(const KindInfo& kind, const std::string& ns, const std::string& name,
                                 const json& scale, const WriteOptions& opts) {
  if (!scale.is_object()) throw StatusError(Status::bad_request("the body of the request must be a Scale object"));
  json replicas = scale.value("/spec/replicas"_json_pointer, json());
  if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0)
    throw StatusError(Status::invalid("Scale", name, {api::cause_invalid("spec.replicas", replicas, "must be greater than or equal to 0")},
                                      "autoscaling"));
  std::string rv = scale.value("/metadata/resourceVersion"_json_pointer, std::string());
  auto rec = guaranteed_update(kind, ns, name, "", opts, [&](json& obj) {
    obj["spec"]["replicas"] = replicas;
    if (!rv.empty()) obj["metadata"]["resourceVersion"] = rv;
  });
  return to_scale(kind, json::parse(rec->value));
}

json ObjectService::patch_scale(const KindInfo& kind, const std::string& ns, const std::string& name, PatchType type,
                                const json& patch, const WriteOptions& opts) {
  json replicas;
  std::string rv;
  auto rec = guaranteed_update(kind, ns, name, "", opts, [&](json& obj) {
    json scale = to_scale(kind, obj);
    switch (type) {
      case PatchType::Json: scale = api::json_patch(scale, patch); break;
      case PatchType::Merge: scale = api::merge_patch(scale, patch); break;
      case PatchType::Strategic:
      case PatchType::Apply: scale = api::strategic_merge_patch(scale, patch, api::Schema::builtin().type("Scale")); break;
    }
    replicas = scale.value("/spec/replicas"_json_pointer, json());
    if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0)
      throw StatusError(Status::invalid("Scale", name,
                                        {api::cause_invalid("spec.replicas", replicas, "must be greater than or equal to 0")},
                                        "autoscaling"));
    obj["spec"]["replicas"] = replicas;
    rv = scale.value("/metadata/resourceVersion"_json_pointer, std::string());
    if (!rv.empty()) obj["metadata"]["resourceVersion"] = rv;
  });
  return to_scale(kind, json::parse(rec->value));
}

void ObjectService::bind(const std::string& ns, const std::string& pod_name, const json& binding,
                         const WriteOptions& opts) {
  const KindInfo* pods = registry_.by_resource("", "pods");
  if (!binding.is_object()) throw StatusError(Status::bad_request("the body of the request must be a Binding"));
  std::string target = binding.value("/target/name"_json_pointer, std::string());
  std::string target_kind = binding.value("/target/kind"_json_pointer, std::string("Node"));
  if (target.empty())
    throw StatusError(Status::invalid("Binding", pod_name, {api::cause_required("target.name", "")}));
  if (!target_kind.empty() && target_kind != "Node")
    throw StatusError(Status::invalid("Binding", pod_name, {api::cause_not_supported("target.kind", target_kind, {"Node"})}));
  std::string uid = binding.value("/metadata/uid"_json_pointer, std::string());
  guaranteed_update(*pods, ns, pod_name, "binding", opts, [&](json& pod) {
    if (!uid.empty() && pod["metadata"].value("uid", "") != uid)
      throw StatusError(Status::conflict("pods", pod_name, "Precondition failed: UID in precondition: " + uid +
                                                               ", UID in object meta: " + pod["metadata"].value("uid", "")));
    if (pod["metadata"].contains("deletionTimestamp") && !pod["metadata"]["deletionTimestamp"].is_null())
      throw StatusError(Status::conflict("pods", pod_name, "pod " + pod_name + " is being deleted, cannot be assigned to a host"));
    std::string current = pod.value("/spec/nodeName"_json_pointer, std::string());
    if (!current.empty())
      throw StatusError(Status::conflict("pods", pod_name, "pod " + pod_name + " is already assigned to node \"" + current + "\""));
    pod["spec"]["nodeName"] = target;
    // The binding sets PodScheduled, as kube-apiserver's assignPod does.
    json& status = pod["status"];
    if (!status.is_object()) status = json::object();
    json conds = status.value("conditions", json::array());
    json cond = {{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr},
                 {"lastTransitionTime", now_rfc3339()}};
    bool replaced = false;
    for (auto& c : conds)
      if (c.value("type", "") == "PodScheduled") {
        c = cond;
        replaced = true;
      }
    if (!replaced) conds.push_back(cond);
    status["conditions"] = conds;
  });
}

void ObjectService::bootstrap(const std::string& advertise_address, int port) {
  const KindInfo* nss = registry_.by_resource("", "namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (store_.get(key(*nss, "", ns))) continue;
    try {
      create(*nss, "", {{"metadata", {{"name", ns}}}}, {});
    } catch (const StatusError& e) {
      if (e.status().code != 409) throw;
    }
  }
  const KindInfo* svcs = registry_.by_resource("", "services");
  json svc = {{"metadata", {{"name", "kubernetes"}, {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
              {"spec",
               {{"type", "ClusterIP"},
                {"clusterIP", allocator_.first_ip()},
                {"ports", json::array({{{"name", "https"}, {"port", 443}, {"protocol", "TCP"}, {"targetPort", port}}})}}}};
  if (auto rec = store_.get(key(*svcs, "default", "kubernetes")); !rec) {
    create(*svcs, "default", svc, {});
  } else if (json::parse(rec->value).value("/spec/ports/0/targetPort"_json_pointer, json()) != port) {
    patch(*svcs, "default", "kubernetes", "", PatchType::Merge,
          {{"spec", {{"ports", svc["spec"]["ports"]}}}}, {}, nullptr);
  }
  const KindInfo* eps = registry_.by_resource("", "endpoints");
  json ep = {{"metadata", {{"name", "kubernetes"}, {"labels", {{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
             {"subsets", json::array({{{"addresses", json::array({{{"ip", advertise_address}}})},
                                       {"ports", json::array({{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}})}}})}};
  if (auto rec = store_.get(key(*eps, "default", "kubernetes")); !rec) {
    create(*eps, "default", ep, {});
  } else if (json::parse(rec->value).value("subsets", json()) != ep["subsets"]) {
    patch(*eps, "default", "kubernetes", "", PatchType::Merge, {{"subsets", ep["subsets"]}}, {}, nullptr);
  }
  // The same endpoint as an EndpointSlice, which kctl-proxy reads (kube's endpointsAdapter mirrors the Endpoints
  // into one slice of the same name).
  const KindInfo* slices = registry_.by_resource("discovery.k8s.io", "endpointslices");
  json slice = {{"metadata", {{"name", "kubernetes"}, {"labels", {{"kubernetes.io/service-name", "kubernetes"}}}}},
                {"addressType", advertise_address.find(':') != std::string::npos ? "IPv6" : "IPv4"},
                {"endpoints", json::array({{{"addresses", json::array({advertise_address})},
                                            {"conditions", {{"ready", true}}}}})},
                {"ports", json::array({{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}})}};
  if (auto rec = store_.get(key(*slices, "default", "kubernetes")); !rec) {
    create(*slices, "default", slice, {});
  } else {
    json stored = json::parse(rec->value);
    if (stored.value("addressType", json()) != slice["addressType"]) {  // immutable: the slice is replaced
      remove(*slices, "default", "kubernetes", {});
      create(*slices, "default", slice, {});
    } else if (stored.value("endpoints", json()) != slice["endpoints"] || stored.value("ports", json()) != slice["ports"]) {
      guaranteed_update(*slices, "default", "kubernetes", "", {}, [&](json& obj) {
        for (const char* f : {"endpoints", "ports"}) obj[f] = slice[f];
      });
    }
  }
}

}  // namespace kctl::apiserver
