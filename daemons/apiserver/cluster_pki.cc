// The serving certificate's names from the host's interfaces and the apiserver's flags, and the admin kubeconfig
// built from the cluster PKI's files.
#include "daemons/apiserver/cluster_pki.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/codec.h"
#include "api/go_json.h"
#include "api/kubeconfig.h"

namespace kctl::apiserver {

namespace {

// The kubelet's pod bridge (and any other interface kctl names kctl*): see host_addresses().
bool is_kctl_interface(const char* name) { return name && std::string_view(name).rfind("kctl", 0) == 0; }

void add_unique(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

}  // namespace

std::vector<std::string> host_addresses() {
  std::vector<std::string> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || is_kctl_interface(i->ifa_name)) continue;
    char buf[INET6_ADDRSTRLEN] = "";
    if (i->ifa_addr->sa_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) ||
          IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
        continue;
      inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    } else {
      continue;
    }
    add_unique(out, buf);
  }
  freeifaddrs(ifs);
  return out;
}

pki::AltNames serving_alt_names(const std::string& service_ip, const std::vector<std::string>& node_addresses) {
  pki::AltNames names;
  names.dns = {"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
               "localhost"};
  names.ips = {"127.0.0.1"};
  add_unique(names.ips, service_ip);
  for (const auto& a : node_addresses)
    if (a != "0.0.0.0" && a != "::") add_unique(names.ips, a);
  return names;
}

std::string admin_kubeconfig(const pki::ClusterPkiFiles& files, const std::string& server) {
  auto data = [](const std::string& path) { return api::base64_encode(pki::read_pem(path)); };
  return api::single_kubeconfig(kAdminClusterName, {{"certificate-authority-data", data(files.ca_cert)}, {"server", server}},
                                kAdminUserName,
                                {{"client-certificate-data", data(files.admin_cert)}, {"client-key-data", data(files.admin_key)}},
                                kAdminContextName);
}

std::string cluster_info_kubeconfig(const std::string& ca_pem, const std::string& server) {
  nlohmann::json config = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters",
       {{{"name", ""}, {"cluster", {{"certificate-authority-data", api::base64_encode(ca_pem)}, {"server", server}}}}}},
      {"contexts", nullptr},
      {"current-context", ""},
      {"preferences", nlohmann::json::object()},
      {"users", nullptr}};
  return api::encode_yaml(config);
}

}  // namespace kctl::apiserver
