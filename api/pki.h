// Certificates made with OpenSSL's C API: a self-signed CA, serving and client certificates it signs, the checks
// that decide whether one is still good, and the cluster PKI the apiserver keeps under its data directory.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace kctl::pki {

// A key or certificate that cannot be made, read or written.
class PkiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A certificate and its private key, both PEM (the key as PKCS#8).
struct KeyPair {
  std::string cert_pem, key_pem;
};

struct Subject {
  std::string common_name;                 // Kubernetes reads it as the user name of a client certificate
  std::vector<std::string> organizations;  // ... and these as its groups
};

// What a serving certificate is valid for.
struct AltNames {
  std::vector<std::string> dns;  // host names
  std::vector<std::string> ips;  // IPv4 or IPv6 addresses as text
};

enum class Usage { Server, Client };

// Validity, as kubeadm gives it: ten years for the CA, one year for what it signs.
inline constexpr int kCaValidityDays = 3650;
inline constexpr int kLeafValidityDays = 365;

// A new self-signed CA (CA:TRUE, keyCertSign) with an ECDSA P-256 key.
KeyPair make_ca(const std::string& common_name, int days = kCaValidityDays);
// A new ECDSA P-256 key and a certificate for it signed by `ca`: serverAuth with `names` as its SANs, or
// clientAuth. Throws PkiError, e.g. for a name that is neither an address nor a host name.
KeyPair issue(const KeyPair& ca, const Subject& subject, Usage usage, const AltNames& names,
              int days = kLeafValidityDays);

// Why `cert_pem` is not a good certificate of `usage` from `ca_pem` right now (it does not parse, is not signed by
// that CA, has expired, lacks the extended key usage); "" when it is one.
std::string verify_problem(const std::string& cert_pem, const std::string& ca_pem, Usage usage);
// The names of `wanted` the certificate is not valid for (empty when it covers them all).
std::vector<std::string> missing_names(const std::string& cert_pem, const AltNames& wanted);
// The SANs of a certificate, as text.
AltNames alt_names(const std::string& cert_pem);
// The subject of a certificate (CN and O).
Subject subject(const std::string& cert_pem);

// What a PKCS#10 certificate request (PEM "CERTIFICATE REQUEST") asks for.
struct CertificateRequest {
  Subject subject;
  AltNames names;
  bool has_emails = false, has_uris = false;  // SANs that kube's signers for kubelets refuse
};
// Parses a PEM certificate request and checks its self-signature; throws PkiError saying what is wrong.
CertificateRequest parse_certificate_request(const std::string& csr_pem);

// A new ECDSA P-256 key and a certificate request (PEM "CERTIFICATE REQUEST") for `subject` and `names`, signed
// with it: what a kubelet sends in a CertificateSigningRequest. `csr_pem` in KeyPair::cert_pem's place.
struct RequestAndKey {
  std::string csr_pem, key_pem;
};
RequestAndKey make_certificate_request(const Subject& subject, const AltNames& names = {});

// A certificate for the request's key, subject and SANs, signed by `ca`, valid from a little before now for
// `seconds` but never beyond the CA's own expiry, with the key usages and extended key usages `usages` names as
// certificates.k8s.io/v1 spells them ("digital signature", "key encipherment", "client auth", "server auth", ...).
// Throws PkiError (an unparsable request, a usage kube does not know, a CA key that does not match).
std::string sign_certificate_request(const KeyPair& ca, const std::string& csr_pem,
                                     const std::vector<std::string>& usages, long seconds);

// kubeadm's pin of a CA (--discovery-token-ca-cert-hash): "sha256:" and the hex SHA-256 of the certificate's
// DER SubjectPublicKeyInfo. Throws PkiError for what is not a PEM certificate.
std::string public_key_pin(const std::string& cert_pem);

// Reads a PEM file (at most 1 MiB); throws PkiError.
std::string read_pem(const std::string& path);
// Writes a file atomically (a temporary file in the same directory, then a rename) with `mode`; throws PkiError.
void write_file(const std::string& path, const std::string& data, unsigned mode);

// The apiserver's PKI under DIR (DATA_DIR/pki), kubeadm's names: ca.crt/ca.key, apiserver.crt/apiserver.key,
// admin.crt/admin.key, apiserver-kubelet-client.crt/.key. Keys are 0600, certificates 0644, DIR 0700.
struct ClusterPkiFiles {
  explicit ClusterPkiFiles(const std::string& dir);
  std::string dir, ca_cert, ca_key, serving_cert, serving_key, admin_cert, admin_key, kubelet_client_cert,
      kubelet_client_key;
  std::string sa_key, sa_pub;  // the ServiceAccount token signing key (kubeadm's sa.key, sa.pub)
};

// The subjects: the CA is "kubernetes" (kubeadm's), the serving certificate "kube-apiserver", the admin
// "kubernetes-admin" in group system:masters, and the client certificate the apiserver shows kubelets
// "kube-apiserver-kubelet-client" in group system:masters (as kubeadm makes it).
inline constexpr const char* kCaCommonName = "kubernetes";
inline constexpr const char* kServingCommonName = "kube-apiserver";
inline constexpr const char* kAdminCommonName = "kubernetes-admin";
inline constexpr const char* kAdminGroup = "system:masters";
inline constexpr const char* kKubeletClientCommonName = "kube-apiserver-kubelet-client";

// The cluster CA under DIR: made (and `done` told) when neither ca.crt nor ca.key exists, else read (the key only
// when it is there: without it, nothing can be signed). Throws PkiError (ca.key without ca.crt, a file that is not
// PEM).
KeyPair ensure_cluster_ca(const ClusterPkiFiles& files, std::vector<std::string>* done = nullptr);

// Makes what is missing and keeps what is there: a CA when neither ca.crt nor ca.key exists; a serving
// certificate when there is none, or when the one there is not good (see verify_problem) or does not cover
// `serving_names`; the same for the admin and the kubelet client certificates. Re-issued certificates come from
// the existing CA.
// Returns what it did, one sentence per change, for the daemon to log. Throws PkiError (e.g. ca.crt without
// ca.key when something must be signed).
std::vector<std::string> ensure_cluster_pki(const ClusterPkiFiles& files, const AltNames& serving_names);

// The kubelet's serving certificate when it is given none (--tls-cert-file), made as the kubelet makes it in its
// --cert-dir: a throw-away CA "HOST-ca@UNIXTIME" signs one serving certificate "HOST@UNIXTIME" for `names`;
// `cert_path` holds both (the certificate first, then its CA, as a chain), `key_path` the certificate's key (0600).
// Kept when both files are there, the key matches, the certificate is good against the CA beside it and covers
// `names`; made again otherwise. Returns what it did ("" when it kept them), for the daemon to log. Throws PkiError.
std::string ensure_self_signed_serving(const std::string& cert_path, const std::string& key_path,
                                       const std::string& host, const AltNames& names);
// Makes the ServiceAccount token signing key when there is none: sa.key (an ECDSA P-256 key, PKCS#8, 0600) and
// sa.pub (its public key, 0644), DIR made 0700 if missing; sa.pub is written again from sa.key when it is missing.
// Returns what it did, one sentence per change. Throws PkiError.
std::vector<std::string> ensure_service_account_key(const ClusterPkiFiles& files);

}  // namespace kctl::pki
