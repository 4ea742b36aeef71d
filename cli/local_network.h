// The network of a multi-node local cluster: one bridge in the host's namespace for the node network (the master
// is its first address), and per worker a network namespace joined to it by a veth pair, with its address, a
// default route via the master and forwarding on; the host routes each worker's podCIDR to that worker. The
// workers' kubelets route each other's podCIDRs themselves (node_routes.cc), as on real machines.
#pragma once

#include <string>
#include <vector>

namespace kctl::cli {

struct LocalNetwork {
  std::string name = "kctl";  // prefix of every name made; at most 8 characters (link names are 15 at most)
  int workers = 2;

  std::string bridge() const { return name + "-nodes"; }
  std::string netns(int i) const { return name + "-worker-" + std::to_string(i); }
  std::string netns_path(int i) const { return "/run/netns/" + netns(i); }
  std::string veth(int i) const { return name + "-w" + std::to_string(i); }
  std::string node_name(int i) const { return name + "-worker-" + std::to_string(i); }
  std::string master_ip() const { return "10.250.0.1"; }
  std::string node_ip(int i) const { return "10.250.0." + std::to_string(10 + i); }
  std::string pod_cidr(int i) const { return "10.244." + std::to_string(i) + ".0/24"; }

  // Makes what is missing (so it can run again); throws std::runtime_error naming the command that failed.
  void setup() const;
  // Removes everything setup() made; what is already gone is skipped. Returns the problems, if any.
  std::vector<std::string> teardown() const;
};

}  // namespace kctl::cli
