// Keys, certificates and their checks with OpenSSL's C API (EVP_PKEY, X509, X509V3 extensions), and the cluster
// PKI the apiserver makes at its first start and keeps afterwards.
#include "api/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "api/openssl_util.h"

namespace kctl::pki {

namespace {

namespace fs = std::filesystem;

// Certificates start five minutes in the past, so a peer whose clock is a little behind still accepts them.
constexpr long kBackdateSeconds = 5 * 60;
// RFC 1035's limit on a host name.
constexpr size_t kMaxDnsNameLength = 253;

using api::openssl::BioPtr;
using api::openssl::Deleter;
using api::openssl::KeyPtr;
using api::openssl::X509Ptr;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string openssl_error() { return api::openssl::last_error(); }

[[noreturn]] void fail(const std::string& what) { throw PkiError(what + ": " + openssl_error()); }

X509Ptr parse_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

KeyPtr parse_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) fail("cannot encode a certificate");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) fail("cannot encode a key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

// ECDSA P-256: quick to make, and what Go's crypto/tls (kubectl) and OpenSSL both handle.
KeyPtr new_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("cannot generate an ECDSA P-256 key");
  return key;
}

void set_subject(X509_NAME* name, const Subject& s) {
  for (const auto& o : s.organizations)
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(o.c_str()), -1,
                                   -1, 0) != 1)
      fail("cannot set the organization " + o);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(s.common_name.c_str()), -1, -1, 0) != 1)
    fail("cannot set the common name " + s.common_name);
}

// A v3 certificate with a random 127-bit serial (positive, as RFC 5280 asks), valid from a little before now for
// `seconds`: what every certificate kctl makes or signs starts as.
X509Ptr blank_cert(long seconds) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("cannot make a certificate");
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    fail("cannot make a serial number");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), seconds))
    fail("cannot set the validity");
  return cert;
}

// A certificate for `key`, valid for `days`; its issuer is `issuer` (null: itself).
X509Ptr new_cert(EVP_PKEY* key, const Subject& subject, X509* issuer, int days) {
  X509Ptr cert = blank_cert(long(days) * 86400);
  set_subject(X509_get_subject_name(cert.get()), subject);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert.get()));
  if (X509_set_pubkey(cert.get(), key) != 1) fail("cannot set the public key");
  return cert;
}

// Adds extension `nid` written as openssl.cnf writes it ("critical,CA:TRUE"); ctx names issuer and subject.
void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("cannot add the extension ") + value);
}

bool is_dns_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxDnsNameLength || name.front() == '.' || name.back() == '.') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return true;
}

// The subjectAltName extension, built from typed names (not from openssl.cnf text, where a comma in a name would
// add another one).
void add_alt_names(X509* cert, const AltNames& names) {
  std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>> list(sk_GENERAL_NAME_new_null());
  auto push = [&](int type, ASN1_STRING* value) {
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (!g || !value) {
      GENERAL_NAME_free(g);
      ASN1_STRING_free(value);
      fail("cannot make a subject alternative name");
    }
    GENERAL_NAME_set0_value(g, type, value);
    sk_GENERAL_NAME_push(list.get(), g);
  };
  for (const auto& dns : names.dns) {
    if (!is_dns_name(dns)) throw PkiError("not a host name for a certificate: \"" + dns + "\"");
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (s && ASN1_STRING_set(s, dns.data(), int(dns.size())) != 1) {
      ASN1_IA5STRING_free(s);
      s = nullptr;
    }
    push(GEN_DNS, s);
  }
  for (const auto& ip : names.ips) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (!octets) {
      ERR_clear_error();
      throw PkiError("not an IP address for a certificate: \"" + ip + "\"");
    }
    push(GEN_IPADD, octets);
  }
  if (sk_GENERAL_NAME_num(list.get()) > 0 && X509_add1_ext_i2d(cert, NID_subject_alt_name, list.get(), 0, 0) != 1)
    fail("cannot add the subject alternative names");
}

bool key_matches(X509* cert, const std::string& key_pem) {
  KeyPtr key = parse_key(key_pem);
  bool ok = key && X509_check_private_key(cert, key.get()) == 1;
  ERR_clear_error();
  return ok;
}

// Every certificate of a PEM bundle (a chain), in order.
std::vector<X509Ptr> parse_certs(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the end of the data reads as an error
  return out;
}

// Makes `dir` (and its parents) when missing, for the owner only: it will hold keys.
void make_private_dir(const std::string& dir) {
  if (dir.empty() || fs::exists(dir)) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw PkiError("cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
}

void write_pair(const KeyPair& pair, const std::string& cert_path, const std::string& key_path) {
  // The key first: if we stop in between, the old certificate no longer matches its key and is issued again.
  write_file(key_path, pair.key_pem, 0600);
  write_file(cert_path, pair.cert_pem, 0644);
}

std::string public_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) fail("cannot encode a public key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

}  // namespace

KeyPair make_ca(const std::string& common_name, int days) {
  KeyPtr key = new_key();
  X509Ptr cert = new_cert(key.get(), {common_name, {}}, nullptr, days);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign");
  add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) fail("cannot sign the CA certificate");
  return {to_pem(cert.get()), to_pem(key.get())};
}

namespace {
// The CA's certificate and key, checked to belong together. Throws PkiError.
std::pair<X509Ptr, KeyPtr> load_ca(const KeyPair& ca) {
  X509Ptr cert = parse_cert(ca.cert_pem);
  KeyPtr key = parse_key(ca.key_pem);
  if (!cert) throw PkiError("the CA certificate is not a PEM certificate");
  if (!key) throw PkiError("the CA key is not a PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw PkiError("the CA key does not belong to the CA certificate");
  }
  return {std::move(cert), std::move(key)};
}
}  // namespace

KeyPair issue(const KeyPair& ca, const Subject& subject, Usage usage, const AltNames& names, int days) {
  auto [ca_cert, ca_key] = load_ca(ca);
  KeyPtr key = new_key();
  X509Ptr cert = new_cert(key.get(), subject, ca_cert.get(), days);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(cert.get(), ctx, NID_ext_key_usage, usage == Usage::Server ? "serverAuth" : "clientAuth");
  add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");
  add_alt_names(cert.get(), names);
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) fail("cannot sign the certificate");
  return {to_pem(cert.get()), to_pem(key.get())};
}

std::string verify_problem(const std::string& cert_pem, const std::string& ca_pem, Usage usage) {
  X509Ptr cert = parse_cert(cert_pem), ca = parse_cert(ca_pem);
  if (!cert) return "it is not a PEM certificate";
  if (!ca) return "the CA certificate is not a PEM certificate";
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1)
    fail("cannot verify a certificate");
  X509_STORE_CTX_set_purpose(ctx.get(), usage == Usage::Server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  std::string why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  ERR_clear_error();
  return why;
}

std::vector<std::string> missing_names(const std::string& cert_pem, const AltNames& wanted) {
  X509Ptr cert = parse_cert(cert_pem);
  std::vector<std::string> out;
  // Go's crypto/x509 (kubectl) never falls back to the subject's CN; neither does this check.
  for (const auto& dns : wanted.dns)
    if (!cert || X509_check_host(cert.get(), dns.c_str(), dns.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) != 1)
      out.push_back(dns);
  for (const auto& ip : wanted.ips)
    if (!cert || X509_check_ip_asc(cert.get(), ip.c_str(), 0) != 1) out.push_back(ip);
  ERR_clear_error();
  return out;
}

AltNames alt_names(const std::string& cert_pem) {
  AltNames out;
  X509Ptr cert = parse_cert(cert_pem);
  if (!cert) return out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                           size_t(ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = "";
      int len = ASN1_STRING_length(n->d.iPAddress);
      if (len == 4 || len == 16) inet_ntop(len == 16 ? AF_INET6 : AF_INET, ASN1_STRING_get0_data(n->d.iPAddress), buf, sizeof buf);
      out.ips.emplace_back(buf);
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

Subject subject(const std::string& cert_pem) {
  Subject out;
  X509Ptr cert = parse_cert(cert_pem);
  if (!cert) return out;
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)), size_t(ASN1_STRING_length(data)));
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid == NID_commonName) out.common_name = value;
    if (nid == NID_organizationName) out.organizations.push_back(value);
  }
  return out;
}

namespace {

using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;

ReqPtr parse_request(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!req) throw PkiError("PEM block type must be CERTIFICATE REQUEST");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key || X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    throw PkiError("the certificate request's signature does not verify");
  }
  return req;
}

// certificates.k8s.io/v1 KeyUsage names, as kube's signer maps them (pkg/controller/certificates/authority).
struct UsageBits {
  std::string key_usage, ext_key_usage;  // openssl.cnf lists
};
UsageBits usage_bits(const std::vector<std::string>& usages) {
  static const std::pair<const char*, const char*> kKeyUsages[] = {
      {"signing", "digitalSignature"},         {"digital signature", "digitalSignature"},
      {"content commitment", "nonRepudiation"}, {"key encipherment", "keyEncipherment"},
      {"key agreement", "keyAgreement"},       {"data encipherment", "dataEncipherment"},
      {"cert sign", "keyCertSign"},            {"crl sign", "cRLSign"},
      {"encipher only", "encipherOnly"},       {"decipher only", "decipherOnly"}};
  static const std::pair<const char*, const char*> kExtUsages[] = {
      {"any", "anyExtendedKeyUsage"}, {"server auth", "serverAuth"},   {"client auth", "clientAuth"},
      {"code signing", "codeSigning"}, {"email protection", "emailProtection"}, {"s/mime", "emailProtection"},
      {"ipsec end system", "ipsecEndSystem"}, {"ipsec tunnel", "ipsecTunnel"}, {"ipsec user", "ipsecUser"},
      {"timestamping", "timeStamping"}, {"ocsp signing", "OCSPSigning"}, {"microsoft sgc", "msSGC"},
      {"netscape sgc", "nsSGC"}};
  UsageBits out;
  auto append = [](std::string& list, const char* v) {
    if (list.find(v) == std::string::npos) list += (list.empty() ? "" : ",") + std::string(v);
  };
  for (const auto& u : usages) {
    bool known = false;
    for (const auto& [name, bit] : kKeyUsages)
      if (u == name) append(out.key_usage, bit), known = true;
    for (const auto& [name, bit] : kExtUsages)
      if (u == name) append(out.ext_key_usage, bit), known = true;
    if (!known) throw PkiError("unknown key usage \"" + u + "\"");
  }
  return out;
}

}  // namespace

CertificateRequest parse_certificate_request(const std::string& csr_pem) {
  ReqPtr req = parse_request(csr_pem);
  CertificateRequest out;
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)), size_t(ASN1_STRING_length(data)));
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (nid == NID_commonName) out.subject.common_name = value;
    if (nid == NID_organizationName) out.subject.organizations.push_back(value);
  }
  std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)> exts(
      X509_REQ_get_extensions(req.get()),
      [](STACK_OF(X509_EXTENSION)* s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); });
  ERR_clear_error();
  if (!exts) return out;
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      out.names.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                 size_t(ASN1_STRING_length(g->d.dNSName)));
    } else if (g->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(g->d.iPAddress);
      const unsigned char* p = ASN1_STRING_get0_data(g->d.iPAddress);
      if (len == 4 || len == 16) inet_ntop(len == 4 ? AF_INET : AF_INET6, p, buf, sizeof buf);
      out.names.ips.emplace_back(buf);
    } else if (g->type == GEN_EMAIL) {
      out.has_emails = true;
    } else if (g->type == GEN_URI) {
      out.has_uris = true;
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

RequestAndKey make_certificate_request(const Subject& subject, const AltNames& names) {
  KeyPtr key = new_key();
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) fail("cannot make a certificate request");
  set_subject(X509_REQ_get_subject_name(req.get()), subject);
  if (!names.dns.empty() || !names.ips.empty()) {
    // add_alt_names builds the extension on a certificate; a scratch one carries it over into the request.
    X509Ptr scratch(X509_new());
    if (!scratch) fail("cannot make a certificate request");
    add_alt_names(scratch.get(), names);
    std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)> exts(
        sk_X509_EXTENSION_new_null(), [](STACK_OF(X509_EXTENSION)* st) { sk_X509_EXTENSION_pop_free(st, X509_EXTENSION_free); });
    X509_EXTENSION* san = X509_get_ext(scratch.get(), X509_get_ext_by_NID(scratch.get(), NID_subject_alt_name, -1));
    if (!exts || !san || !sk_X509_EXTENSION_push(exts.get(), X509_EXTENSION_dup(san)) ||
        X509_REQ_add_extensions(req.get(), exts.get()) != 1)
      fail("cannot add the subject alternative names to the request");
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 || X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    fail("cannot sign the certificate request");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) fail("cannot write the certificate request");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return RequestAndKey{std::string(data, size_t(len)), to_pem(key.get())};
}

std::string public_key_pin(const std::string& cert_pem) {
  X509Ptr cert = parse_cert(cert_pem);
  if (!cert) throw PkiError("not a PEM certificate");
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  if (len <= 0) fail("cannot encode the public key");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, size_t(len), digest);
  OPENSSL_free(der);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char b : digest) out += {hex[b >> 4], hex[b & 15]};
  return out;
}

std::string sign_certificate_request(const KeyPair& ca, const std::string& csr_pem,
                                     const std::vector<std::string>& usages, long seconds) {
  ReqPtr req = parse_request(csr_pem);
  UsageBits bits = usage_bits(usages);
  auto [ca_cert, ca_key] = load_ca(ca);
  X509Ptr cert = blank_cert(seconds);
  // Never beyond the CA (kube's signer caps the duration the same way).
  if (X509_cmp_time(X509_get0_notAfter(ca_cert.get()), nullptr) > 0 &&
      ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca_cert.get())) > 0)
    X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca_cert.get()));
  if (X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get())) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req.get())) != 1)
    fail("cannot fill in the certificate");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
  if (!bits.key_usage.empty()) add_extension(cert.get(), ctx, NID_key_usage, ("critical," + bits.key_usage).c_str());
  if (!bits.ext_key_usage.empty()) add_extension(cert.get(), ctx, NID_ext_key_usage, bits.ext_key_usage.c_str());
  add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");
  CertificateRequest asked = parse_certificate_request(csr_pem);
  add_alt_names(cert.get(), asked.names);
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) fail("cannot sign the certificate");
  return to_pem(cert.get());
}

std::string read_pem(const std::string& path) {
  std::string data;
  switch (api::openssl::read_pem_file(path, data)) {
    case api::openssl::PemRead::CannotOpen: throw PkiError("cannot read " + path + ": " + std::strerror(errno));
    case api::openssl::PemRead::TooLarge: throw PkiError(path + " is larger than 1 MiB: not a PEM file");
    case api::openssl::PemRead::Ok: break;
  }
  return data;
}

void write_file(const std::string& path, const std::string& data, unsigned mode) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw PkiError("cannot create " + tmp + ": " + std::strerror(errno));
  // The mode is set before a byte is written, so a key is never readable by others, not even for a moment.
  bool ok = ::fchmod(fd, mode) == 0;
  for (size_t off = 0; ok && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += size_t(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    throw PkiError("cannot write " + path + ": " + std::strerror(saved));
  }
}

ClusterPkiFiles::ClusterPkiFiles(const std::string& d)
    : dir(d),
      ca_cert(d + "/ca.crt"),
      ca_key(d + "/ca.key"),
      serving_cert(d + "/apiserver.crt"),
      serving_key(d + "/apiserver.key"),
      admin_cert(d + "/admin.crt"),
      admin_key(d + "/admin.key"),
      kubelet_client_cert(d + "/apiserver-kubelet-client.crt"),
      kubelet_client_key(d + "/apiserver-kubelet-client.key"),
      sa_key(d + "/sa.key"),
      sa_pub(d + "/sa.pub") {}

KeyPair ensure_cluster_ca(const ClusterPkiFiles& files, std::vector<std::string>* done) {
  make_private_dir(files.dir);
  KeyPair ca;
  bool has_cert = fs::exists(files.ca_cert), has_key = fs::exists(files.ca_key);
  if (!has_cert && !has_key) {
    ca = make_ca(kCaCommonName);
    write_pair(ca, files.ca_cert, files.ca_key);
    if (done) done->push_back("created the cluster CA " + files.ca_cert);
  } else if (!has_cert) {
    throw PkiError(files.ca_key + " is there but " + files.ca_cert + " is not: restore it, or remove both to make a "
                   "new CA (every certificate it signed is then replaced)");
  } else {
    ca.cert_pem = read_pem(files.ca_cert);
    if (!parse_cert(ca.cert_pem)) throw PkiError(files.ca_cert + " is not a PEM certificate");
    if (has_key) ca.key_pem = read_pem(files.ca_key);  // without it, only certificates that are still good will do
  }
  return ca;
}

std::vector<std::string> ensure_cluster_pki(const ClusterPkiFiles& files, const AltNames& serving_names) {
  std::vector<std::string> done;
  KeyPair ca = ensure_cluster_ca(files, &done);

  // What is wrong with the certificate at cert/key ("" when nothing is), and whether there was one.
  auto problem = [&](const std::string& cert_path, const std::string& key_path, Usage usage, const AltNames* names,
                     bool& existed) -> std::string {
    existed = fs::exists(cert_path);
    if (!existed) return "absent";
    if (!fs::exists(key_path)) return key_path + " is missing";
    std::string pem = read_pem(cert_path);
    if (std::string why = verify_problem(pem, ca.cert_pem, usage); !why.empty()) return why;
    X509Ptr cert = parse_cert(pem);
    if (!key_matches(cert.get(), read_pem(key_path))) return "its key " + key_path + " does not match it";
    if (!names) return "";
    std::string missing;
    for (const auto& n : missing_names(pem, *names)) missing += (missing.empty() ? "" : ", ") + n;
    return missing.empty() ? "" : "it is not valid for " + missing;
  };
  auto ensure = [&](const std::string& what, const std::string& cert_path, const std::string& key_path,
                    const Subject& subject, Usage usage, const AltNames* names) {
    bool existed = false;
    std::string why = problem(cert_path, key_path, usage, names, existed);
    if (why.empty()) return;
    if (ca.key_pem.empty())
      throw PkiError("cannot issue the " + what + " " + cert_path + " (" + why + "): the CA key " + files.ca_key +
                     " is missing");
    write_pair(issue(ca, subject, usage, names ? *names : AltNames{}), cert_path, key_path);
    done.push_back(existed ? "re-issued the " + what + " " + cert_path + " from the cluster CA: " + why
                           : "issued the " + what + " " + cert_path);
  };
  ensure("serving certificate", files.serving_cert, files.serving_key, {kServingCommonName, {}}, Usage::Server,
         &serving_names);
  ensure("admin client certificate", files.admin_cert, files.admin_key, {kAdminCommonName, {kAdminGroup}},
         Usage::Client, nullptr);
  ensure("kubelet client certificate", files.kubelet_client_cert, files.kubelet_client_key,
         {kKubeletClientCommonName, {kAdminGroup}}, Usage::Client, nullptr);
  return done;
}

std::string ensure_self_signed_serving(const std::string& cert_path, const std::string& key_path,
                                       const std::string& host, const AltNames& names) {
  // Why the files there will not do ("" when they will), and whether there were any.
  bool existed = fs::exists(cert_path) || fs::exists(key_path);
  std::string why = [&]() -> std::string {
    if (!fs::exists(cert_path)) return cert_path + " is missing";
    if (!fs::exists(key_path)) return key_path + " is missing";
    auto chain = parse_certs(read_pem(cert_path));
    if (chain.size() < 2) return "it is not a certificate followed by its CA";
    if (std::string bad = verify_problem(to_pem(chain[0].get()), to_pem(chain[1].get()), Usage::Server); !bad.empty())
      return bad;
    if (!key_matches(chain[0].get(), read_pem(key_path))) return "its key " + key_path + " does not match it";
    std::string missing;
    for (const auto& n : missing_names(to_pem(chain[0].get()), names)) missing += (missing.empty() ? "" : ", ") + n;
    return missing.empty() ? "" : "it is not valid for " + missing;
  }();
  if (why.empty()) return "";
  // The time in the names tells one generation from the next, as the kubelet's do.
  std::string stamp = "@" + std::to_string(::time(nullptr));
  KeyPair ca = make_ca(host + "-ca" + stamp, kLeafValidityDays);
  KeyPair leaf = issue(ca, {host + stamp, {}}, Usage::Server, names);
  make_private_dir(fs::path(cert_path).parent_path().string());
  make_private_dir(fs::path(key_path).parent_path().string());
  write_pair({leaf.cert_pem + ca.cert_pem, leaf.key_pem}, cert_path, key_path);
  return existed ? "made a new self-signed serving certificate " + cert_path + ": " + why
                 : "made a self-signed serving certificate " + cert_path;
}

std::vector<std::string> ensure_service_account_key(const ClusterPkiFiles& files) {
  std::vector<std::string> done;
  make_private_dir(files.dir);
  KeyPtr key;
  if (fs::exists(files.sa_key)) {
    if (fs::exists(files.sa_pub)) return done;
    key = parse_key(read_pem(files.sa_key));
    if (!key) throw PkiError(files.sa_key + " is not a PEM private key");
  } else {
    key = new_key();
    write_file(files.sa_key, to_pem(key.get()), 0600);
    done.push_back("created the ServiceAccount token signing key " + files.sa_key);
  }
  write_file(files.sa_pub, public_pem(key.get()), 0644);
  done.push_back("wrote the ServiceAccount token verification key " + files.sa_pub);
  return done;
}

}  // namespace kctl::pki
