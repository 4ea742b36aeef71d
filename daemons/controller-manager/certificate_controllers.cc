// CsrApprovingController and CsrSigningController: both keyed by the request's name, both reading the shared
// CertificateSigningRequest informer; a request is looked at again whenever it changes.
#include "daemons/controller-manager/certificate_controllers.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "api/go_json.h"
#include "daemons/common/daemon.h"
#include "daemons/controller-manager/node_predicates.h"

namespace kctl::controllers {

using api::ObjectPtr;
using nlohmann::json;

namespace {

std::vector<std::string> strings(const json& obj, const json::json_pointer& p) {
  std::vector<std::string> out;
  if (!obj.contains(p) || !obj.at(p).is_array()) return out;
  for (const auto& v : obj.at(p))
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) out += (out.empty() ? "" : " ") + v;
  return "[" + out + "]";
}

// Usages must be exactly one of the allowed sets (kube accepts the key encipherment one for RSA keys and the other
// for the rest; it does not look at the key to choose, and neither does this).
std::string usages_problem(const std::vector<std::string>& usages, std::initializer_list<std::set<std::string>> allowed) {
  std::set<std::string> got(usages.begin(), usages.end());
  for (const auto& a : allowed)
    if (got == a) return "";
  std::string sets;
  for (const auto& a : allowed) sets += (sets.empty() ? "" : " or ") + join(a);
  return "usages did not match " + sets;
}

// The request as PEM from spec.request (base64 in JSON); throws std::invalid_argument.
pki::CertificateRequest parse_request(const json& csr, std::string* pem_out = nullptr) {
  auto pem = api::base64_decode(csr.value("/spec/request"_json_pointer, std::string()));
  if (!pem) throw std::invalid_argument("spec.request is not base64");
  try {
    auto parsed = pki::parse_certificate_request(*pem);
    if (pem_out) *pem_out = *pem;
    return parsed;
  } catch (const pki::PkiError& e) {
    throw std::invalid_argument(e.what());
  }
}

}  // namespace

std::string signer_problem(const std::string& signer, const pki::CertificateRequest& r,
                           const std::vector<std::string>& usages) {
  bool kubelet_client = signer == kKubeletClientSigner, kubelet_serving = signer == kKubeletServingSigner;
  if (kubelet_client || kubelet_serving) {
    if (r.subject.organizations != std::vector<std::string>{"system:nodes"})
      return "subject organization is not system:nodes";
    if (r.subject.common_name.rfind("system:node:", 0) != 0)
      return "subject common name does not begin with system:node:";
    if (r.has_emails) return "email subjectAltNames are not allowed";
    if (r.has_uris) return "URI subjectAltNames are not allowed";
  }
  if (kubelet_client) {
    if (!r.names.dns.empty()) return "DNS subjectAltNames are not allowed";
    if (!r.names.ips.empty()) return "IP subjectAltNames are not allowed";
    return usages_problem(usages, {{"digital signature", "client auth"},
                                   {"key encipherment", "digital signature", "client auth"}});
  }
  if (kubelet_serving) {
    if (r.names.dns.empty() && r.names.ips.empty()) return "DNS or IP subjectAltName is required";
    return usages_problem(usages, {{"digital signature", "server auth"},
                                   {"key encipherment", "digital signature", "server auth"}});
  }
  if (signer == kApiserverClientSigner) {
    std::set<std::string> got(usages.begin(), usages.end());
    if (!got.count("client auth")) return "usages must include client auth";
    for (const auto& u : got)
      if (u != "client auth" && u != "digital signature" && u != "key encipherment")
        return "invalid usage for client certificate: " + u;
    return "";
  }
  return "unknown signer " + signer;
}

const json* csr_condition(const json& csr, const std::string& type) {
  const json* conds = csr.contains("/status/conditions"_json_pointer) ? &csr.at("/status/conditions"_json_pointer) : nullptr;
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : *conds)
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

// --- csrapproving ------------------------------------------------------------------------------------------------

CsrApprovingController::CsrApprovingController(ControllerContext& context)
    : Controller("csrapproving", context), csrs_(context.informer("certificatesigningrequests")) {
  auto changed = [this](const ObjectPtr& csr) { enqueue(key_of(*csr)); };
  csrs_.add_handler({changed, [changed](const ObjectPtr&, const ObjectPtr& csr) { changed(csr); }, nullptr});
}

void CsrApprovingController::resync() {
  for (const auto& csr : csrs_.list()) enqueue(key_of(*csr));
}

bool CsrApprovingController::requester_may(const json& csr, const std::string& subresource) {
  json spec = {{"user", csr.value("/spec/username"_json_pointer, std::string())},
               {"uid", csr.value("/spec/uid"_json_pointer, std::string())},
               {"groups", strings(csr, "/spec/groups"_json_pointer)},
               {"resourceAttributes",
                {{"group", "certificates.k8s.io"},
                 {"resource", "certificatesigningrequests"},
                 {"verb", "create"},
                 {"subresource", subresource}}}};
  if (csr.contains("/spec/extra"_json_pointer)) spec["extra"] = csr.at("/spec/extra"_json_pointer);
  json sar = context_.client("subjectaccessreviews")
                 .create({{"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}});
  return sar.value("/status/allowed"_json_pointer, false);
}

void CsrApprovingController::sync(const std::string& name) {
  ObjectPtr csr = csrs_.get(name);
  if (!csr || csr_condition(*csr, "Approved") || csr_condition(*csr, "Denied")) return;
  if (!csr->value("/status/certificate"_json_pointer, std::string()).empty()) return;
  if (csr->value("/spec/signerName"_json_pointer, std::string()) != kKubeletClientSigner) return;
  pki::CertificateRequest request;
  try {
    request = parse_request(*csr);
  } catch (const std::invalid_argument& e) {
    log(LogLevel::Warning, "certificatesigningrequest " + name + ": unable to parse the request: " + e.what());
    return;  // the signer marks it Failed
  }
  if (!signer_problem(kKubeletClientSigner, request, strings(*csr, "/spec/usages"_json_pointer)).empty()) return;
  // kube's recognizers, in order: a node renewing its own certificate, then any requester allowed nodeclient (a
  // bootstrap token's group, by kubeadm's binding).
  bool self = request.subject.common_name == csr->value("/spec/username"_json_pointer, std::string());
  bool approved = (self && requester_may(*csr, "selfnodeclient")) || requester_may(*csr, "nodeclient");
  if (!approved) return;  // left pending, for an administrator's `kubectl certificate approve`
  json updated = *csr;
  std::string now = format_time(std::chrono::system_clock::now());
  if (!updated["status"].is_object()) updated["status"] = json::object();
  if (!updated["status"]["conditions"].is_array()) updated["status"]["conditions"] = json::array();
  updated["status"]["conditions"].push_back({{"type", "Approved"},
                                             {"status", "True"},
                                             {"reason", "AutoApproved"},
                                             {"message", "Auto approving kubelet client certificate after SubjectAccessReview."},
                                             {"lastUpdateTime", now},
                                             {"lastTransitionTime", now}});
  auto client = context_.client("certificatesigningrequests");
  context_.transport.update(client.kind(), "", name, updated, "approval");
  log(LogLevel::Info, "approved certificatesigningrequest " + name + " of " +
                          csr->value("/spec/username"_json_pointer, std::string()));
}

// --- csrsigning --------------------------------------------------------------------------------------------------

CsrSigningController::CsrSigningController(ControllerContext& context)
    : Controller("csrsigning", context), csrs_(context.informer("certificatesigningrequests")) {
  try {
    ca_.cert_pem = pki::read_pem(context.options.cluster_signing_cert_file);
    ca_.key_pem = pki::read_pem(context.options.cluster_signing_key_file);
  } catch (const pki::PkiError& e) {
    throw std::runtime_error(std::string("csrsigning: ") + e.what());
  }
  auto changed = [this](const ObjectPtr& csr) { enqueue(key_of(*csr)); };
  csrs_.add_handler({changed, [changed](const ObjectPtr&, const ObjectPtr& csr) { changed(csr); }, nullptr});
}

void CsrSigningController::resync() {
  for (const auto& csr : csrs_.list()) enqueue(key_of(*csr));
}

void CsrSigningController::sync(const std::string& name) {
  ObjectPtr csr = csrs_.get(name);
  if (!csr || !csr_condition(*csr, "Approved") || csr_condition(*csr, "Denied") || csr_condition(*csr, "Failed")) return;
  if (!csr->value("/status/certificate"_json_pointer, std::string()).empty()) return;
  std::string signer = csr->value("/spec/signerName"_json_pointer, std::string());
  if (signer != kKubeletClientSigner && signer != kKubeletServingSigner && signer != kApiserverClientSigner)
    return;  // another signer's (kube's legacy-unknown, or an external one)
  std::vector<std::string> usages = strings(*csr, "/spec/usages"_json_pointer);
  json updated = *csr;
  if (!updated["status"].is_object()) updated["status"] = json::object();
  std::string problem, pem;
  try {
    problem = signer_problem(signer, parse_request(*csr, &pem), usages);
  } catch (const std::invalid_argument& e) {
    problem = std::string("unable to parse csr: ") + e.what();
  }
  if (problem.empty()) {
    // The shorter of --cluster-signing-duration and what the requester asked (spec.expirationSeconds, at least 600).
    long seconds = long(context_.options.cluster_signing_duration.count());
    if (csr->contains("/spec/expirationSeconds"_json_pointer) && csr->at("/spec/expirationSeconds"_json_pointer).is_number_integer())
      seconds = std::min(seconds, std::max(600L, csr->at("/spec/expirationSeconds"_json_pointer).get<long>()));
    try {
      updated["status"]["certificate"] = api::base64_encode(pki::sign_certificate_request(ca_, pem, usages, seconds));
    } catch (const pki::PkiError& e) {
      problem = e.what();
    }
  }
  if (!problem.empty()) {
    std::string now = format_time(std::chrono::system_clock::now());
    if (!updated["status"]["conditions"].is_array()) updated["status"]["conditions"] = json::array();
    updated["status"]["conditions"].push_back({{"type", "Failed"},
                                               {"status", "True"},
                                               {"reason", "SignerValidationFailure"},
                                               {"message", problem},
                                               {"lastUpdateTime", now},
                                               {"lastTransitionTime", now}});
  }
  context_.client("certificatesigningrequests").update_status(updated);
  log(problem.empty() ? LogLevel::Info : LogLevel::Warning,
      "certificatesigningrequest " + name + (problem.empty() ? ": signed by " + signer : ": not signed: " + problem));
}

}  // namespace kctl::controllers
