// resolv.conf(5), read and written the way the kubelet and cluster DNS servers treat it: nameserver, search (the
// last one wins) and options lines; comments and other keywords ignored.
#pragma once

#include <string>
#include <vector>

namespace kctl {

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;  // without final dots
  std::vector<std::string> options;   // "ndots:5", "edns0", ...
  bool operator==(const ResolvConf&) const = default;
};

ResolvConf parse_resolv_conf(const std::string& text);
// Reads a file; an unreadable one reads as empty (the caller says whether that matters). `error` tells why.
ResolvConf read_resolv_conf(const std::string& path, std::string* error = nullptr);
// `path`, unless it names only systemd-resolved's local stub (127.0.0.53, 127.0.0.54), which answers on the node's
// loopback and so nowhere in a pod's network namespace: then `resolved_upstream` (systemd-resolved's list of the
// real servers, /run/systemd/resolve/resolv.conf) when that exists, as kubeadm points the kubelet's resolvConf.
std::string resolv_conf_for_pods(const std::string& path,
                                 const std::string& resolved_upstream = "/run/systemd/resolve/resolv.conf");
// "search ...", "nameserver ..." per server, "options ...", as container runtimes write a pod's file.
std::string format_resolv_conf(const ResolvConf& conf);

}  // namespace kctl
