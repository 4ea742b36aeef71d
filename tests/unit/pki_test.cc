// The PKI module: certificates that verify against their CA with the right SANs and key usages, and the cluster
// PKI kept across starts, with only the serving certificate re-issued when the node's addresses change.
#include "api/pki.h"

#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

using namespace kctl::pki;
namespace fs = std::filesystem;

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Free>(x);
}

// X509_verify_cert of `leaf` against `ca` alone, for `purpose`.
int verify(const std::string& leaf, const std::string& ca, int purpose) {
  auto cert = parse(leaf), root = parse(ca);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int ok = X509_verify_cert(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

// The certificates of a PEM chain, each as PEM.
std::vector<std::string> split_chain(const std::string& pem) {
  std::vector<std::string> out;
  const std::string end = "-----END CERTIFICATE-----\n";
  for (size_t from = 0, at; (at = pem.find(end, from)) != std::string::npos; from = at + end.size())
    out.push_back(pem.substr(from, at + end.size() - from));
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

unsigned mode_of(const std::string& path) {
  struct stat st{};
  ::stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "kctl-pki-XXXXXX").string();
    path = ::mkdtemp(t.data()) ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

AltNames serving_names(const std::string& node_ip) {
  return {{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
           "localhost"},
          {"127.0.0.1", "10.96.0.1", node_ip}};
}

}  // namespace

TEST(Pki, CaIsSelfSignedAndMayOnlySignCertificates) {
  KeyPair ca = make_ca("kubernetes");
  auto cert = parse(ca.cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_TRUE(X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN);
  EXPECT_EQ(verify(ca.cert_pem, ca.cert_pem, X509_PURPOSE_ANY), 1);
  EXPECT_EQ(subject(ca.cert_pem).common_name, "kubernetes");
  EXPECT_NE(ca.key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(Pki, ServingCertificateVerifiesWithItsNames) {
  KeyPair ca = make_ca("kubernetes");
  KeyPair server = issue(ca, {"kube-apiserver", {}}, Usage::Server, serving_names("192.0.2.7"));
  EXPECT_EQ(verify(server.cert_pem, ca.cert_pem, X509_PURPOSE_SSL_SERVER), 1);
  EXPECT_EQ(verify_problem(server.cert_pem, ca.cert_pem, Usage::Server), "");
  // serverAuth only: not a client certificate, and not a CA.
  EXPECT_NE(verify(server.cert_pem, ca.cert_pem, X509_PURPOSE_SSL_CLIENT), 1);
  EXPECT_NE(verify_problem(server.cert_pem, ca.cert_pem, Usage::Client), "");
  auto cert = parse(server.cert_pem);
  EXPECT_TRUE(X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);

  AltNames names = alt_names(server.cert_pem);
  for (const char* dns : {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                          "kubernetes.default.svc.cluster.local", "localhost"})
    EXPECT_TRUE(contains(names.dns, dns)) << dns;
  for (const char* ip : {"127.0.0.1", "10.96.0.1", "192.0.2.7"}) EXPECT_TRUE(contains(names.ips, ip)) << ip;
  EXPECT_TRUE(missing_names(server.cert_pem, serving_names("192.0.2.7")).empty());
  EXPECT_EQ(missing_names(server.cert_pem, {{"example.com"}, {"192.0.2.8"}}),
            (std::vector<std::string>{"example.com", "192.0.2.8"}));

  // Signed by this CA and no other.
  KeyPair other = make_ca("other");
  EXPECT_NE(verify(server.cert_pem, other.cert_pem, X509_PURPOSE_SSL_SERVER), 1);
  EXPECT_NE(verify_problem(server.cert_pem, other.cert_pem, Usage::Server), "");
}

TEST(Pki, ClientCertificateCarriesUserAndGroup) {
  KeyPair ca = make_ca("kubernetes");
  KeyPair admin = issue(ca, {"kubernetes-admin", {"system:masters"}}, Usage::Client, {});
  EXPECT_EQ(verify(admin.cert_pem, ca.cert_pem, X509_PURPOSE_SSL_CLIENT), 1);
  EXPECT_NE(verify(admin.cert_pem, ca.cert_pem, X509_PURPOSE_SSL_SERVER), 1);
  EXPECT_TRUE(X509_get_extended_key_usage(parse(admin.cert_pem).get()) & XKU_SSL_CLIENT);
  Subject s = subject(admin.cert_pem);
  EXPECT_EQ(s.common_name, "kubernetes-admin");
  EXPECT_EQ(s.organizations, std::vector<std::string>{"system:masters"});
}

TEST(Pki, BadNamesAndAForeignCaKeyAreRefused) {
  KeyPair ca = make_ca("kubernetes");
  EXPECT_THROW(issue(ca, {"x", {}}, Usage::Server, {{"a,DNS:evil"}, {}}), PkiError);
  EXPECT_THROW(issue(ca, {"x", {}}, Usage::Server, {{}, {"10.0.0.300"}}), PkiError);
  KeyPair mixed{ca.cert_pem, make_ca("other").key_pem};
  EXPECT_THROW(issue(mixed, {"x", {}}, Usage::Client, {}), PkiError);
}

TEST(Pki, ClusterPkiIsMadeOnceWithPrivateKeys) {
  TempDir tmp;
  ClusterPkiFiles files(tmp.path + "/pki");
  auto done = ensure_cluster_pki(files, serving_names("192.0.2.7"));
  EXPECT_EQ(done.size(), 4u);  // the CA, the serving, the admin and the kubelet client certificate
  for (const auto& key : {files.ca_key, files.serving_key, files.admin_key, files.kubelet_client_key})
    EXPECT_EQ(mode_of(key), 0600u) << key;
  for (const auto& cert : {files.ca_cert, files.serving_cert, files.admin_cert, files.kubelet_client_cert})
    EXPECT_EQ(mode_of(cert), 0644u) << cert;
  EXPECT_EQ(mode_of(files.dir), 0700u);
  std::string ca = read_pem(files.ca_cert);
  EXPECT_EQ(verify(read_pem(files.serving_cert), ca, X509_PURPOSE_SSL_SERVER), 1);
  EXPECT_EQ(verify(read_pem(files.admin_cert), ca, X509_PURPOSE_SSL_CLIENT), 1);
  EXPECT_EQ(subject(read_pem(files.admin_cert)).organizations, std::vector<std::string>{"system:masters"});
  // The client certificate the apiserver shows kubelets: kubeadm's apiserver-kubelet-client.
  EXPECT_EQ(files.kubelet_client_cert, files.dir + "/apiserver-kubelet-client.crt");
  EXPECT_EQ(verify(read_pem(files.kubelet_client_cert), ca, X509_PURPOSE_SSL_CLIENT), 1);
  EXPECT_NE(verify(read_pem(files.kubelet_client_cert), ca, X509_PURPOSE_SSL_SERVER), 1);
  Subject kubelet_client = subject(read_pem(files.kubelet_client_cert));
  EXPECT_EQ(kubelet_client.common_name, "kube-apiserver-kubelet-client");
  EXPECT_EQ(kubelet_client.organizations, std::vector<std::string>{"system:masters"});

  // A second start keeps every file as it is.
  std::string serving = read_pem(files.serving_cert), admin = read_pem(files.admin_cert),
              kubelet_client_pem = read_pem(files.kubelet_client_cert);
  EXPECT_TRUE(ensure_cluster_pki(files, serving_names("192.0.2.7")).empty());
  EXPECT_EQ(read_pem(files.ca_cert), ca);
  EXPECT_EQ(read_pem(files.serving_cert), serving);
  EXPECT_EQ(read_pem(files.admin_cert), admin);
  EXPECT_EQ(read_pem(files.kubelet_client_cert), kubelet_client_pem);
}

TEST(Pki, ANewAddressReissuesOnlyTheServingCertificate) {
  TempDir tmp;
  ClusterPkiFiles files(tmp.path + "/pki");
  ensure_cluster_pki(files, serving_names("192.0.2.7"));
  std::string ca = read_pem(files.ca_cert), ca_key = read_pem(files.ca_key), serving = read_pem(files.serving_cert),
              serving_key = read_pem(files.serving_key), admin = read_pem(files.admin_cert);

  auto done = ensure_cluster_pki(files, serving_names("198.51.100.9"));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_NE(done[0].find("not valid for 198.51.100.9"), std::string::npos) << done[0];
  EXPECT_EQ(read_pem(files.ca_cert), ca);
  EXPECT_EQ(read_pem(files.ca_key), ca_key);
  EXPECT_EQ(read_pem(files.admin_cert), admin);
  std::string reissued = read_pem(files.serving_cert);
  EXPECT_NE(reissued, serving);
  EXPECT_NE(read_pem(files.serving_key), serving_key);
  EXPECT_EQ(mode_of(files.serving_key), 0600u);
  EXPECT_EQ(verify(reissued, ca, X509_PURPOSE_SSL_SERVER), 1);
  EXPECT_TRUE(missing_names(reissued, serving_names("198.51.100.9")).empty());
}

TEST(Pki, MissingPiecesAreReplacedFromTheSameCa) {
  TempDir tmp;
  ClusterPkiFiles files(tmp.path + "/pki");
  ensure_cluster_pki(files, serving_names("192.0.2.7"));
  std::string ca = read_pem(files.ca_cert), serving = read_pem(files.serving_cert);
  fs::remove(files.admin_key);
  auto done = ensure_cluster_pki(files, serving_names("192.0.2.7"));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_NE(done[0].find("admin"), std::string::npos) << done[0];
  fs::remove(files.kubelet_client_cert);
  done = ensure_cluster_pki(files, serving_names("192.0.2.7"));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_NE(done[0].find("issued the kubelet client certificate"), std::string::npos) << done[0];
  EXPECT_EQ(verify(read_pem(files.kubelet_client_cert), ca, X509_PURPOSE_SSL_CLIENT), 1);
  EXPECT_EQ(verify(read_pem(files.admin_cert), ca, X509_PURPOSE_SSL_CLIENT), 1);
  EXPECT_EQ(read_pem(files.serving_cert), serving);

  // A certificate from another CA is replaced; without the CA key nothing can be signed.
  KeyPair foreign = issue(make_ca("other"), {"kube-apiserver", {}}, Usage::Server, serving_names("192.0.2.7"));
  write_file(files.serving_cert, foreign.cert_pem, 0644);
  write_file(files.serving_key, foreign.key_pem, 0600);
  fs::remove(files.ca_key);
  EXPECT_THROW(ensure_cluster_pki(files, serving_names("192.0.2.7")), PkiError);
  // ... but a PKI whose certificates are all good needs no CA key (kubeadm's external CA).
  fs::remove(files.serving_cert);
  TempDir tmp2;
  ClusterPkiFiles good(tmp2.path + "/pki");
  ensure_cluster_pki(good, serving_names("192.0.2.7"));
  fs::remove(good.ca_key);
  EXPECT_TRUE(ensure_cluster_pki(good, serving_names("192.0.2.7")).empty());
}


TEST(Pki, SelfSignedServingCertificateIsMadeOnceForItsNames) {
  TempDir tmp;
  std::string cert = tmp.path + "/root/pki/kubelet.crt", key = tmp.path + "/root/pki/kubelet.key";
  AltNames names{{"node-1"}, {"192.0.2.7"}};
  EXPECT_EQ(ensure_self_signed_serving(cert, key, "node-1", names), "made a self-signed serving certificate " + cert);
  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_EQ(mode_of(cert), 0644u);
  EXPECT_EQ(mode_of(tmp.path + "/root/pki"), 0700u);
  // The certificate, then the CA that signed it (the kubelet's own, named after the host and the time).
  auto chain = split_chain(read_pem(cert));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(verify(chain[0], chain[1], X509_PURPOSE_SSL_SERVER), 1);
  EXPECT_EQ(subject(chain[0]).common_name.rfind("node-1@", 0), 0u) << subject(chain[0]).common_name;
  EXPECT_EQ(subject(chain[1]).common_name.rfind("node-1-ca@", 0), 0u) << subject(chain[1]).common_name;
  EXPECT_TRUE(missing_names(chain[0], names).empty());

  // Kept while it is good; made again for a new address, a key that is not its own, or a file without the CA.
  std::string first = read_pem(cert);
  EXPECT_EQ(ensure_self_signed_serving(cert, key, "node-1", names), "");
  EXPECT_EQ(read_pem(cert), first);
  std::string why = ensure_self_signed_serving(cert, key, "node-1", {{"node-1"}, {"198.51.100.9"}});
  EXPECT_NE(why.find("not valid for 198.51.100.9"), std::string::npos) << why;
  EXPECT_NE(read_pem(cert), first);
  write_file(key, make_ca("other").key_pem, 0600);
  why = ensure_self_signed_serving(cert, key, "node-1", names);
  EXPECT_NE(why.find("does not match"), std::string::npos) << why;
  write_file(cert, split_chain(read_pem(cert))[0], 0644);
  why = ensure_self_signed_serving(cert, key, "node-1", names);
  EXPECT_NE(why.find("not a certificate followed by its CA"), std::string::npos) << why;
  EXPECT_EQ(ensure_self_signed_serving(cert, key, "node-1", names), "");
}

TEST(Pki, ARequestIsSignedWithItsSubjectNamesAndUsages) {
  KeyPair ca = make_ca("kubernetes");
  auto made = make_certificate_request({"system:node:w1", {"system:nodes"}}, {{"w1"}, {"10.0.0.7"}});
  CertificateRequest asked = parse_certificate_request(made.csr_pem);
  EXPECT_EQ(asked.subject.common_name, "system:node:w1");
  EXPECT_EQ(asked.subject.organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(asked.names.dns, std::vector<std::string>{"w1"});
  EXPECT_EQ(asked.names.ips, std::vector<std::string>{"10.0.0.7"});

  std::string cert = sign_certificate_request(ca, made.csr_pem, {"digital signature", "client auth"}, 3600);
  EXPECT_EQ(verify_problem(cert, ca.cert_pem, Usage::Client), "");
  EXPECT_NE(verify_problem(cert, ca.cert_pem, Usage::Server), "");
  EXPECT_EQ(subject(cert).common_name, "system:node:w1");
  // The certificate is for the request's key.
  EXPECT_EQ(public_key_pin(cert).size(), 7u + 64u);
  auto c = parse(cert);
  EVP_PKEY* pub = X509_get0_pubkey(c.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(made.key_pem.data(), int(made.key_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  ASSERT_TRUE(key);
  EXPECT_EQ(EVP_PKEY_eq(pub, key.get()), 1);
  EXPECT_THROW(sign_certificate_request(ca, made.csr_pem, {"flying"}, 3600), PkiError);
  EXPECT_THROW(parse_certificate_request("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
               PkiError);
}

TEST(Pki, PublicKeyPinIsTheSha256OfTheSubjectPublicKeyInfo) {
  KeyPair ca = make_ca("kubernetes");
  std::string pin = public_key_pin(ca.cert_pem);
  ASSERT_EQ(pin.rfind("sha256:", 0), 0u);
  // openssl's own answer: the DER public key, hashed.
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/pin-ca.crt";
  std::ofstream(path) << ca.cert_pem;
  FILE* p = ::popen(("openssl x509 -in " + path + " -pubkey -noout | openssl pkey -pubin -outform der | sha256sum").c_str(), "r");
  ASSERT_TRUE(p);
  char buf[128] = {};
  ASSERT_TRUE(std::fgets(buf, sizeof buf, p));
  ::pclose(p);
  EXPECT_EQ(pin, "sha256:" + std::string(buf, 64));
  // Another CA, another pin; the same CA re-read, the same pin.
  EXPECT_NE(public_key_pin(make_ca("kubernetes").cert_pem), pin);
  EXPECT_EQ(public_key_pin(ca.cert_pem), pin);
  EXPECT_THROW(public_key_pin("not a certificate"), PkiError);
}
