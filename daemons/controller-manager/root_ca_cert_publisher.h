// The root CA publisher ("root-ca-cert-publisher"), as kube's pkg/controller/certificates/rootcacertpublisher: the
// ConfigMap kube-root-ca.crt with key ca.crt (the CA of --root-ca-file) in every namespace, kept as it should be,
// so pods can check the apiserver's certificate (the ServiceAccount volume projects it as ca.crt).
#pragma once

#include <string>

#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

inline constexpr const char* kRootCaConfigMapName = "kube-root-ca.crt";
inline constexpr const char* kRootCaConfigMapKey = "ca.crt";
// The annotation kube's publisher puts on the ConfigMap.
inline constexpr const char* kRootCaDescription =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
    "clusters.";

class RootCaCertPublisher : public Controller {
 public:
  // Reads --root-ca-file (ControllerOptions::root_ca_file). Without one, ca.crt is published empty, as
  // kube-controller-manager does when its client config has no CA either (kctl's plain-HTTP setups): the
  // ServiceAccount volume needs the ConfigMap to exist, or every pod would wait for it. Throws std::runtime_error
  // when the file cannot be read.
  explicit RootCaCertPublisher(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& ns) override;

 private:
  std::string root_ca_;
  api::Informer& namespaces_;
  api::Informer& config_maps_;
};

}  // namespace kctl::controllers
