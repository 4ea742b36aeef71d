// TLS bootstrap: check the kubeconfig's certificate, else request one with the bootstrap credentials, wait for it,
// and write the certificate, its key and the kubeconfig (all 0600: they are the node's credentials).
#include "daemons/kubelet/tls_bootstrap.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "api/client.h"
#include "api/codec.h"
#include "api/go_json.h"
#include "api/kubeconfig.h"
#include "api/pki.h"

namespace kctl::kubelet {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The PEM of a TLS setting given as a file or inline.
std::string pem_of(const std::string& file, const std::string& data) {
  if (!data.empty() || file.empty()) return data;
  return pki::read_pem(file);
}

// Why the kubeconfig's client certificate cannot be used ("" when it can).
std::string client_certificate_problem(const std::string& kubeconfig) {
  if (!fs::exists(kubeconfig)) return kubeconfig + " does not exist";
  try {
    api::ClientConfig c = api::load_client_config(kubeconfig);
    std::string cert = pem_of(c.tls.cert_file, c.tls.cert_data);
    if (cert.empty()) return kubeconfig + " has no client certificate";
    std::string ca = pem_of(c.tls.ca_file, c.tls.ca_data);
    if (ca.empty()) return "";  // checked against the system's roots by the TLS handshake, not here
    std::string why = pki::verify_problem(cert, ca, pki::Usage::Client);
    return why.empty() ? "" : "the client certificate of " + kubeconfig + ": " + why;
  } catch (const std::exception& e) {
    return kubeconfig + ": " + e.what();
  }
}

std::string timestamp() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d-%H-%M-%S", std::gmtime(&t));
  return buf;
}

// The kubeconfig the kubelet uses from now on, as the kubelet writes it: the bootstrap kubeconfig's cluster, and a
// user whose certificate and key are both in CERT_DIR/kubelet-client-current.pem.
std::string client_kubeconfig(const api::RestConfig& bootstrap, const std::string& pem_path) {
  json cluster = {{"server", bootstrap.server}};
  if (!bootstrap.certificate_authority_data.empty())
    cluster["certificate-authority-data"] = bootstrap.certificate_authority_data;
  else if (!bootstrap.certificate_authority.empty())
    cluster["certificate-authority"] = bootstrap.certificate_authority;
  if (!bootstrap.tls_server_name.empty()) cluster["tls-server-name"] = bootstrap.tls_server_name;
  return api::single_kubeconfig("default-cluster", cluster, "default-auth",
                                {{"client-certificate", pem_path}, {"client-key", pem_path}}, "default-context", "default");
}

const json* condition(const json& csr, const char* type) {
  if (!csr.contains("/status/conditions"_json_pointer) || !csr.at("/status/conditions"_json_pointer).is_array())
    return nullptr;
  for (const auto& c : csr.at("/status/conditions"_json_pointer))
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

}  // namespace

std::string ensure_kubelet_kubeconfig(const TlsBootstrapOptions& o) {
  std::string problem = client_certificate_problem(o.kubeconfig);
  if (problem.empty()) return "";
  if (o.bootstrap_kubeconfig.empty())
    throw std::runtime_error(problem + ", and there is no --bootstrap-kubeconfig to request a certificate with");

  api::RestConfig bootstrap;
  api::ClientOptions client;
  try {
    bootstrap = api::resolve_config(api::load_kubeconfig(o.bootstrap_kubeconfig), api::ConfigOverrides{});
    client.bearer_token = bootstrap.token;
    client.tls = api::tls_client_options(bootstrap);
  } catch (const api::ConfigError& e) {
    throw std::runtime_error("--bootstrap-kubeconfig " + o.bootstrap_kubeconfig + ": " + e.what());
  }
  pki::RequestAndKey request = pki::make_certificate_request({"system:node:" + o.node_name, {"system:nodes"}});
  api::Client api_client = api::Client::connect(bootstrap.server, client);  // outlives the ResourceClient below
  auto csrs = api_client.resource("certificatesigningrequests");
  json created = csrs.create({{"apiVersion", "certificates.k8s.io/v1"},
                              {"kind", "CertificateSigningRequest"},
                              {"metadata", {{"generateName", "node-csr-"}}},
                              {"spec",
                               {{"request", api::base64_encode(request.csr_pem)},
                                {"signerName", "kubernetes.io/kube-apiserver-client-kubelet"},
                                {"usages", {"digital signature", "client auth"}}}}});
  std::string name = created.value("/metadata/name"_json_pointer, std::string());
  if (o.progress) o.progress("Waiting for the certificate of CertificateSigningRequest " + name);

  std::string cert_pem;
  auto deadline = std::chrono::steady_clock::now() + o.wait;
  for (;;) {
    json csr;
    try {
      csr = csrs.get(name);
    } catch (const api::StatusError& e) {
      if (e.status().code != 503 && e.status().code != 429) throw;  // an apiserver restarting is waited for
    }
    if (const json* d = condition(csr, "Denied"))
      throw std::runtime_error("certificate request " + name + " was denied: " + d->value("message", d->value("reason", "")));
    if (const json* f = condition(csr, "Failed"))
      throw std::runtime_error("certificate request " + name + " failed: " + f->value("message", f->value("reason", "")));
    std::string issued = csr.value("/status/certificate"_json_pointer, std::string());
    if (!issued.empty()) {
      auto pem = api::base64_decode(issued);
      if (!pem) throw std::runtime_error("certificate request " + name + ": status.certificate is not base64");
      cert_pem = *pem;
      break;
    }
    if (o.cancelled && o.cancelled()) throw std::runtime_error("stopped while waiting for certificate request " + name);
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("certificate request " + name + " was not approved and signed within " +
                               std::to_string(o.wait.count()) + " s (is kctl-controller-manager running with "
                               "--cluster-signing-cert-file? `kctl get csr` shows it)");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  // The dated file, then the current link moved onto it in one step, then the kubeconfig naming the link.
  try {
    fs::create_directories(o.cert_dir);
    std::string dated = (fs::path(o.cert_dir) / ("kubelet-client-" + timestamp() + ".pem")).string();
    pki::write_file(dated, cert_pem + request.key_pem, 0600);
    std::string current = (fs::path(o.cert_dir) / kKubeletClientCurrent).string();
    std::string tmp = current + ".tmp";
    fs::remove(tmp);
    fs::create_symlink(dated, tmp);
    fs::rename(tmp, current);
    if (auto parent = fs::path(o.kubeconfig).parent_path(); !parent.empty()) fs::create_directories(parent);
    pki::write_file(o.kubeconfig, client_kubeconfig(bootstrap, current), 0600);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot keep the kubelet's client certificate: ") + e.what());
  }
  return "bootstrapped a client certificate for system:node:" + o.node_name + " (CertificateSigningRequest " + name +
         ") and wrote " + o.kubeconfig;
}

}  // namespace kctl::kubelet
