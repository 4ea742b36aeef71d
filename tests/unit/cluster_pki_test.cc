// The apiserver's own PKI: the names its serving certificate covers, and the admin kubeconfig made from the files.
#include "daemons/apiserver/cluster_pki.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "api/codec.h"
#include "api/go_json.h"

using namespace kctl::pki;
namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "kctl-cluster-pki-XXXXXX").string();
    path = ::mkdtemp(t.data()) ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

}  // namespace

TEST(ClusterPki, ServingNamesAndHostAddresses) {
  using kctl::apiserver::host_addresses;
  using kctl::apiserver::serving_alt_names;
  AltNames names = serving_alt_names("10.96.0.1", {"", "192.0.2.7", "0.0.0.0", "192.0.2.7", "fd00::2"});
  EXPECT_EQ(names.ips, (std::vector<std::string>{"127.0.0.1", "10.96.0.1", "192.0.2.7", "fd00::2"}));
  for (const char* dns : {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                          "kubernetes.default.svc.cluster.local", "localhost"})
    EXPECT_TRUE(contains(names.dns, dns)) << dns;
  // What the certificate is issued for must be acceptable to issue(), whatever the host has.
  KeyPair ca = make_ca("kubernetes");
  AltNames host = serving_alt_names("10.96.0.1", host_addresses());
  EXPECT_TRUE(missing_names(issue(ca, {"kube-apiserver", {}}, Usage::Server, host).cert_pem, host).empty());
  for (const auto& a : host_addresses()) {
    EXPECT_NE(a.rfind("127.", 0), 0u) << a;
    EXPECT_NE(a, "::1");
    EXPECT_NE(a.rfind("fe80:", 0), 0u) << a;
  }
}

TEST(ClusterPki, AdminKubeconfigHoldsEverythingInline) {
  TempDir tmp;
  ClusterPkiFiles files(tmp.path + "/pki");
  ensure_cluster_pki(files, kctl::apiserver::serving_alt_names("10.96.0.1", {"192.0.2.7"}));
  auto config = kctl::api::decode_yaml(kctl::apiserver::admin_kubeconfig(files, "https://127.0.0.1:6443"));
  EXPECT_EQ(config["current-context"], "kubernetes-admin@kubernetes");
  EXPECT_EQ(config["clusters"][0]["name"], "kubernetes");
  EXPECT_EQ(config["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
  EXPECT_EQ(kctl::api::base64_decode(config["clusters"][0]["cluster"]["certificate-authority-data"].get<std::string>()),
            read_pem(files.ca_cert));
  EXPECT_EQ(config["users"][0]["name"], "kubernetes-admin");
  EXPECT_EQ(kctl::api::base64_decode(config["users"][0]["user"]["client-certificate-data"].get<std::string>()),
            read_pem(files.admin_cert));
  EXPECT_EQ(kctl::api::base64_decode(config["users"][0]["user"]["client-key-data"].get<std::string>()),
            read_pem(files.admin_key));
  EXPECT_EQ(config["contexts"][0]["context"]["cluster"], "kubernetes");
  EXPECT_EQ(config["contexts"][0]["context"]["user"], "kubernetes-admin");
}
