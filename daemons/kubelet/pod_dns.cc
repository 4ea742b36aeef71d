// The pod's resolv.conf (the kubelet's dns configurer: policy, cluster search domains, dnsConfig merged, limits)
// and its managed hosts file, written into the pod's directory and bound into each container.
#include "daemons/kubelet/pod_dns.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::kubelet {

namespace {

// Hostnames are DNS labels: Kubernetes cuts a longer pod name to 63 characters.
constexpr size_t kMaxHostnameLength = 63;

std::string str(const json& j, const json::json_pointer& p) {
  return j.contains(p) && j[p].is_string() ? j[p].get<std::string>() : "";
}

std::vector<std::string> strings(const json& j, const json::json_pointer& p) {
  std::vector<std::string> out;
  if (j.contains(p) && j[p].is_array())
    for (const auto& s : j[p])
      if (s.is_string()) out.push_back(s);
  return out;
}

void append_unique(std::vector<std::string>& to, const std::vector<std::string>& more) {
  for (const auto& s : more)
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
}

// dnsConfig.options over the base's: by name, a later value replacing an earlier one, in first-seen order.
std::vector<std::string> merge_options(const std::vector<std::string>& base, const json& extra) {
  std::vector<std::pair<std::string, std::string>> opts;
  auto set = [&](const std::string& name, const std::string& value) {
    for (auto& [n, v] : opts)
      if (n == name) {
        v = value;
        return;
      }
    opts.emplace_back(name, value);
  };
  for (const auto& o : base) {
    auto colon = o.find(':');
    set(o.substr(0, colon), colon == std::string::npos ? "" : o.substr(colon + 1));
  }
  if (extra.is_array())
    for (const auto& o : extra)
      if (o.is_object() && o.contains("name") && o["name"].is_string())
        set(o["name"], o.contains("value") && o["value"].is_string() ? o["value"].get<std::string>() : "");
  std::vector<std::string> out;
  for (const auto& [n, v] : opts) out.push_back(v.empty() ? n : n + ":" + v);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

// formDNSSearchFitsLimits and formDNSNameserversFitsLimits: what is cut, and the Event that says so.
void fit_limits(ResolvConf& c, std::vector<DnsWarning>* warnings) {
  bool cut = false;
  if (c.searches.size() > kMaxDnsSearchPaths) {
    c.searches.resize(kMaxDnsSearchPaths);
    cut = true;
  }
  auto too_long = [](const std::string& s) { return s.size() > kMaxDnsSearchDomainLength; };
  if (std::erase_if(c.searches, too_long) > 0) cut = true;
  while (!c.searches.empty() && join(c.searches).size() > kMaxDnsSearchListChars) {
    c.searches.pop_back();  // the last domains go first, as the kubelet cuts them
    cut = true;
  }
  if (cut && warnings)
    warnings->push_back({"DNSConfigForming",
                         "Search Line limits were exceeded, some search paths have been omitted, the applied search "
                         "line is: " + join(c.searches)});
  if (c.nameservers.size() > kMaxDnsNameservers) {
    c.nameservers.resize(kMaxDnsNameservers);
    if (warnings)
      warnings->push_back({"DNSConfigForming",
                           "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
                           "nameserver line is: " + join(c.nameservers)});
  }
}

}  // namespace

std::string pod_hostname(const json& pod) {
  std::string h = str(pod, "/spec/hostname"_json_pointer);
  if (h.empty()) h = str(pod, "/metadata/name"_json_pointer);
  if (h.size() > kMaxHostnameLength) h.resize(kMaxHostnameLength);
  while (!h.empty() && (h.back() == '-' || h.back() == '.')) h.pop_back();
  return h;
}

ResolvConf pod_resolv_conf(const json& pod, const ClusterDnsConfig& config, const ResolvConf& node,
                           std::vector<DnsWarning>* warnings) {
  std::string policy = str(pod, "/spec/dnsPolicy"_json_pointer);
  bool host_network = pod.contains("/spec/hostNetwork"_json_pointer) && pod["/spec/hostNetwork"_json_pointer] == true;
  // getPodDNSType: ClusterFirst in the node's network is Default; ClusterFirstWithHostNet is ClusterFirst either
  // way; anything else (the apiserver lets nothing else through) is ClusterFirst.
  if (policy.empty()) policy = "ClusterFirst";  // the apiserver's default
  if (policy == "ClusterFirst" && host_network) policy = "Default";
  else if (policy != "None" && policy != "Default") policy = "ClusterFirst";

  ResolvConf c = node;
  if (policy == "None") {
    c = {};
  } else if (policy == "ClusterFirst" && !config.cluster_dns.empty()) {
    // The cluster DNS server is the pod's only resolver; it forwards what is not the cluster's to the node's.
    c.nameservers = config.cluster_dns;
    if (!config.cluster_domain.empty()) {
      std::string ns = str(pod, "/metadata/namespace"_json_pointer);
      if (ns.empty()) ns = "default";
      std::vector<std::string> searches = {ns + ".svc." + config.cluster_domain, "svc." + config.cluster_domain,
                                           config.cluster_domain};
      append_unique(searches, c.searches);
      c.searches = searches;
    }
    c.options = {"ndots:5"};
  } else {
    if (policy == "ClusterFirst" && warnings)
      warnings->push_back({"MissingClusterDNS",
                           "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                           "\"ClusterFirst\" policy. Falling back to \"Default\" policy."});
    // Without a node file, the resolver on the node itself (what the C library does without nameservers).
    if (config.resolv_conf.empty()) c = {{"127.0.0.1"}, {"."}, {}};
  }
  if (pod.contains("/spec/dnsConfig"_json_pointer) && pod["/spec/dnsConfig"_json_pointer].is_object()) {
    const json& extra = pod["/spec/dnsConfig"_json_pointer];
    append_unique(c.nameservers, strings(extra, "/nameservers"_json_pointer));
    append_unique(c.searches, strings(extra, "/searches"_json_pointer));
    c.options = merge_options(c.options, extra.value("options", json::array()));
  }
  fit_limits(c, warnings);
  return c;
}

std::string pod_hosts_file(const json& pod, const std::string& pod_ip, const std::string& cluster_domain) {
  std::string out =
      "# Kubernetes-managed hosts file.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  std::string host = pod_hostname(pod), subdomain = str(pod, "/spec/subdomain"_json_pointer);
  std::string ns = str(pod, "/metadata/namespace"_json_pointer);
  if (!pod_ip.empty() && !host.empty()) {
    if (!subdomain.empty() && !cluster_domain.empty())
      out += pod_ip + "\t" + host + "." + subdomain + "." + (ns.empty() ? "default" : ns) + ".svc." + cluster_domain +
             "\t" + host + "\n";
    else
      out += pod_ip + "\t" + host + "\n";
  }
  const json aliases = pod.value("/spec/hostAliases"_json_pointer, json::array());
  if (aliases.is_array() && !aliases.empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const auto& a : aliases) {
      auto names = strings(a, "/hostnames"_json_pointer);
      if (!a.is_object() || names.empty()) continue;
      out += a.value("ip", "");
      for (const auto& n : names) out += "\t" + n;
      out += "\n";
    }
  }
  return out;
}

std::vector<DnsWarning> write_pod_dns_files(const json& pod, const std::string& dir, const std::string& pod_ip,
                                            const ClusterDnsConfig& config) {
  ResolvConf node;
  if (!config.resolv_conf.empty()) {
    std::string error;
    node = read_resolv_conf(config.resolv_conf, &error);
    if (!error.empty()) throw std::runtime_error("--resolv-conf: " + error);
  }
  std::vector<DnsWarning> warnings;
  std::string resolv = format_resolv_conf(pod_resolv_conf(pod, config, node, &warnings));
  std::string hosts = pod_hosts_file(pod, pod_ip, config.cluster_domain);
  fs::create_directories(dir);
  // Whole files or none: a container started meanwhile never binds a half-written one.
  for (const auto& [name, content] : {std::pair{"hosts", &hosts}, std::pair{"resolv.conf", &resolv}}) {
    std::string path = dir + "/" + name;
    {
      std::ofstream out(path + ".tmp", std::ios::trunc);
      out << *content;
      out.close();
      if (!out) throw std::runtime_error("cannot write " + path);
    }
    fs::rename(path + ".tmp", path);
  }
  return warnings;
}

std::vector<Mount> pod_dns_mounts(const json& pod, const json& container, const std::string& dir) {
  auto mounted_by_container = [&](const std::string& target) {
    for (const auto& m : container.value("volumeMounts", json::array()))
      if (m.is_object() && m.value("mountPath", "") == target) return true;
    return false;
  };
  std::vector<Mount> mounts;
  if (!mounted_by_container("/etc/resolv.conf")) mounts.push_back({dir + "/resolv.conf", "/etc/resolv.conf", false});
  // A pod in the node's network sees the node's hosts file, as it sees the node's name.
  bool host_network = pod.contains("/spec/hostNetwork"_json_pointer) && pod["/spec/hostNetwork"_json_pointer] == true;
  if (!host_network && !mounted_by_container("/etc/hosts")) mounts.push_back({dir + "/hosts", "/etc/hosts", false});
  return mounts;
}

}  // namespace kctl::kubelet
