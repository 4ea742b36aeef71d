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
// "search ...", "nameserver ..." per server, "options ...", as container runtimes write a pod's file.
std::string format_resolv_conf(const ResolvConf& conf);

}  // namespace kctl
