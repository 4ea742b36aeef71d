// RootCaCertPublisher: namespaces (added, changed) and kube-root-ca.crt ConfigMaps (changed, deleted) say which
// namespace to look at; a sync creates or corrects that namespace's ConfigMap.
#include "daemons/controller-manager/root_ca_cert_publisher.h"

#include <stdexcept>

#include "api/pki.h"

namespace kctl::controllers {

using api::ObjectPtr;
using nlohmann::json;

RootCaCertPublisher::RootCaCertPublisher(ControllerContext& context)
    : Controller("root-ca-cert-publisher", context),
      namespaces_(context.informer("namespaces")),
      config_maps_(context.informer("configmaps")) {
  if (!context.options.root_ca_file.empty()) {
    try {
      root_ca_ = pki::read_pem(context.options.root_ca_file);
    } catch (const pki::PkiError& e) {
      throw std::runtime_error(std::string("--root-ca-file: ") + e.what());
    }
  }
  auto ns_changed = [this](const ObjectPtr& ns) { enqueue(key_of(*ns)); };
  namespaces_.add_handler({ns_changed, [ns_changed](const ObjectPtr&, const ObjectPtr& ns) { ns_changed(ns); }, nullptr});
  auto cm_changed = [this](const ObjectPtr& cm) {
    if (cm->value("/metadata/name"_json_pointer, std::string()) == kRootCaConfigMapName)
      enqueue(cm->value("/metadata/namespace"_json_pointer, std::string()));
  };
  config_maps_.add_handler({nullptr, [cm_changed](const ObjectPtr&, const ObjectPtr& cm) { cm_changed(cm); }, cm_changed});
}

void RootCaCertPublisher::resync() {
  for (const auto& ns : namespaces_.list()) enqueue(key_of(*ns));
}

void RootCaCertPublisher::sync(const std::string& ns) {
  ObjectPtr n = namespaces_.get(ns);
  if (!n || being_deleted(*n)) return;
  json data = {{kRootCaConfigMapKey, root_ca_}};
  auto client = context_.client("configmaps", ns);
  ObjectPtr cm = config_maps_.get(ns + "/" + kRootCaConfigMapName);
  try {
    if (!cm) {
      client.create({{"metadata",
                      {{"name", kRootCaConfigMapName},
                       {"namespace", ns},
                       {"annotations", {{"kubernetes.io/description", kRootCaDescription}}}}},
                     {"data", data}});
      return;
    }
    bool described = cm->value("/metadata/annotations/kubernetes.io~1description"_json_pointer, std::string()) ==
                     kRootCaDescription;
    if (cm->value("data", json()) == data && described) return;
    json updated = *cm;  // a copy: the cache's object is never changed
    updated["data"] = data;
    updated.erase("binaryData");
    updated["metadata"]["annotations"]["kubernetes.io/description"] = kRootCaDescription;
    client.update(updated);
  } catch (const api::StatusError& e) {
    // 409: the cache is behind (made or changed meanwhile): look again; 403/404: the namespace is going away.
    if (e.status().code == 409) throw;
    if (e.status().code != 403 && e.status().code != 404) throw;
  }
}

}  // namespace kctl::controllers
