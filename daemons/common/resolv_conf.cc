// resolv.conf parsing and writing, shared by the kubelet (pods' files) and kctl-dns (its upstream resolvers).
#include "daemons/common/resolv_conf.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace kctl {

ResolvConf parse_resolv_conf(const std::string& text) {
  ResolvConf c;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (auto hash = line.find_first_of("#;"); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string key;
    if (!(words >> key)) continue;
    std::vector<std::string> rest;
    for (std::string w; words >> w;) rest.push_back(w);
    if (key == "nameserver" && !rest.empty()) {
      c.nameservers.push_back(rest[0]);
    } else if (key == "search") {
      c.searches.clear();  // the last search line wins, as in the C library
      for (auto& s : rest) {
        // "." (the root) searches nothing the bare name does not; the kubelet drops it, and the final dots.
        while (!s.empty() && s.back() == '.') s.pop_back();
        if (!s.empty()) c.searches.push_back(s);
      }
    } else if (key == "options") {
      c.options.insert(c.options.end(), rest.begin(), rest.end());
    }
  }
  return c;
}

ResolvConf read_resolv_conf(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error) *error = "cannot read " + path + ": " + std::strerror(errno);
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_resolv_conf(ss.str());
}

std::string resolv_conf_for_pods(const std::string& path, const std::string& resolved_upstream) {
  auto conf = read_resolv_conf(path);
  if (conf.nameservers.empty()) return path;
  for (const auto& ns : conf.nameservers)
    if (ns != "127.0.0.53" && ns != "127.0.0.54") return path;
  return ::access(resolved_upstream.c_str(), R_OK) == 0 ? resolved_upstream : path;
}

std::string format_resolv_conf(const ResolvConf& c) {
  std::string out;
  auto line = [&](const std::string& key, const std::vector<std::string>& words) {
    if (words.empty()) return;
    out += key;
    for (const auto& w : words) out += " " + w;
    out += "\n";
  };
  line("search", c.searches);
  for (const auto& ns : c.nameservers) out += "nameserver " + ns + "\n";
  line("options", c.options);
  return out;
}

}  // namespace kctl
