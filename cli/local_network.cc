#include "cli/local_network.h"

#include <filesystem>
#include <stdexcept>

#include "daemons/common/process.h"

namespace kctl::cli {

namespace {

void must(const std::vector<std::string>& argv) {
  auto r = run_process(argv);
  if (!r.ok()) throw std::runtime_error(describe_failure(argv, r));
}

bool ok(const std::vector<std::string>& argv) { return run_process(argv).ok(); }

}  // namespace

void LocalNetwork::setup() const {
  if (name.empty() || name.size() > 8) throw std::runtime_error("the cluster name must be 1 to 8 characters: " + name);
  std::string b = bridge();
  if (!ok({"ip", "link", "show", b})) must({"ip", "link", "add", b, "type", "bridge"});
  must({"ip", "addr", "replace", master_ip() + "/24", "dev", b});
  must({"ip", "link", "set", b, "up"});
  for (int i = 1; i <= workers; ++i) {
    std::string ns = netns(i), v = veth(i);
    if (!std::filesystem::exists(netns_path(i))) must({"ip", "netns", "add", ns});
    if (!ok({"ip", "link", "show", v})) must({"ip", "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", ns});
    must({"ip", "link", "set", v, "master", b, "up"});
    must({"ip", "-n", ns, "link", "set", "lo", "up"});
    must({"ip", "-n", ns, "addr", "replace", node_ip(i) + "/24", "dev", "eth0"});
    must({"ip", "-n", ns, "link", "set", "eth0", "up"});
    must({"ip", "-n", ns, "route", "replace", "default", "via", master_ip()});
    // A node forwards between its pods' bridge and the node network.
    must({"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"});
    must({"ip", "route", "replace", pod_cidr(i), "via", node_ip(i)});
  }
}

std::vector<std::string> LocalNetwork::teardown() const {
  std::vector<std::string> problems;
  auto try_run = [&](const std::vector<std::string>& argv) {
    auto r = run_process(argv);
    if (!r.ok()) problems.push_back(describe_failure(argv, r));
  };
  for (int i = 1; i <= workers; ++i) {
    // The namespace takes its end of the veth pair, and so the pair, with it.
    if (std::filesystem::exists(netns_path(i))) try_run({"ip", "netns", "del", netns(i)});
    if (ok({"ip", "link", "show", veth(i)})) try_run({"ip", "link", "del", veth(i)});
  }
  // Routes through the bridge go with it.
  if (ok({"ip", "link", "show", bridge()})) try_run({"ip", "link", "del", bridge()});
  return problems;
}

}  // namespace kctl::cli
