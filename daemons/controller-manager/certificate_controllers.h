// The CertificateSigningRequest controllers of kube-controller-manager (pkg/controller/certificates):
// "csrapproving" approves a kubelet's request for a client certificate when a SubjectAccessReview says its requester
// may (certificatesigningrequests/nodeclient for a new node with a bootstrap token, .../selfnodeclient for a node
// renewing its own); "csrsigning" signs approved requests of kube's built-in signers with the cluster CA
// (--cluster-signing-cert-file/--cluster-signing-key-file) and puts the certificate in status.certificate.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/pki.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

inline constexpr const char* kKubeletClientSigner = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr const char* kKubeletServingSigner = "kubernetes.io/kubelet-serving";
inline constexpr const char* kApiserverClientSigner = "kubernetes.io/kube-apiserver-client";

// Why a request is not what `signer` signs (kube's ValidateKubeletClientCSR and friends), "" when it is. `usages`
// are spec.usages.
std::string signer_problem(const std::string& signer, const pki::CertificateRequest& request,
                           const std::vector<std::string>& usages);

// The request's condition of `type` ("Approved", "Denied", "Failed"), or null.
const nlohmann::json* csr_condition(const nlohmann::json& csr, const std::string& type);

class CsrApprovingController : public Controller {
 public:
  explicit CsrApprovingController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& name) override;

 private:
  // Whether spec.username (with its groups, uid, extra) may create certificatesigningrequests/`subresource`.
  bool requester_may(const nlohmann::json& csr, const std::string& subresource);
  api::Informer& csrs_;
};

class CsrSigningController : public Controller {
 public:
  // Reads the CA pair; throws std::runtime_error when it cannot be read or the key does not match.
  explicit CsrSigningController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& name) override;

 private:
  pki::KeyPair ca_;
  api::Informer& csrs_;
};

}  // namespace kctl::controllers
