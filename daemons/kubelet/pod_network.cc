// PodNetworkManager: iproute2 for links, addresses and namespaces (one tool the operator also uses to look at what
// the kubelet made), and address files for the IPAM.
#include "daemons/kubelet/pod_network.h"

#include <arpa/inet.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "daemons/common/process.h"

namespace fs = std::filesystem;

namespace kctl::kubelet {

namespace {

bool parse_ipv4(const std::string& s, uint32_t& out) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

std::string format_ipv4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

void ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv);
  if (!r.ok()) throw std::runtime_error(describe_failure(argv, r));
}

bool ip_ok(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv).ok();
}

// A short stable hash of the uid for names limited to 15 characters (IFNAMSIZ).
std::string short_id(const std::string& uid) {
  size_t h = std::hash<std::string>{}(uid);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08zx", h & 0xffffffffu);
  return buf;
}

}  // namespace

std::string PodNetworkManager::netns_name(const std::string& uid) { return "kctl-" + uid; }
std::string PodNetworkManager::veth_name(const std::string& uid) { return "veth" + short_id(uid); }

PodNetworkManager::PodNetworkManager(std::string bridge, std::string state_dir)
    : bridge_(std::move(bridge)), state_dir_(std::move(state_dir)) {}

void PodNetworkManager::ensure_bridge(const std::string& pod_cidr) {
  auto slash = pod_cidr.find('/');
  uint32_t net = 0;
  if (slash == std::string::npos || !parse_ipv4(pod_cidr.substr(0, slash), net))
    throw std::runtime_error("podCIDR must be an IPv4 CIDR, not \"" + pod_cidr + "\"");
  int prefix = std::atoi(pod_cidr.c_str() + slash + 1);
  if (prefix < 8 || prefix > 30) throw std::runtime_error("podCIDR prefix must be /8 to /30: " + pod_cidr);
  std::lock_guard lock(mutex_);
  cidr_ = pod_cidr;
  prefix_len_ = prefix;
  size_ = uint32_t(1) << (32 - prefix);
  base_ = net & ~(size_ - 1);
  fs::create_directories(fs::path(state_dir_) / "ipam");
  std::string gw = format_ipv4(base_ + 1) + "/" + std::to_string(prefix);
  if (!ip_ok({"link", "show", bridge_})) ip({"link", "add", bridge_, "type", "bridge"});
  auto addrs = run_process({"ip", "-o", "-4", "addr", "show", "dev", bridge_});
  if (addrs.out.find(" " + gw + " ") == std::string::npos) ip({"addr", "add", gw, "dev", bridge_});
  ip({"link", "set", bridge_, "up"});
  // Pods reach other nodes and the world through the node: without forwarding their packets stop at the bridge.
  // (Already on is fine where /proc/sys is read-only, as in a container that runs a node.)
  std::string on;
  std::ifstream("/proc/sys/net/ipv4/ip_forward") >> on;
  if (on == "1") return;
  std::ofstream forward("/proc/sys/net/ipv4/ip_forward");
  forward << "1\n";
  forward.close();
  if (!forward) throw std::runtime_error("cannot turn on IPv4 forwarding (/proc/sys/net/ipv4/ip_forward)");
}

std::string PodNetworkManager::allocate_ip(const std::string& uid) {
  std::lock_guard lock(mutex_);
  if (size_ == 0) throw std::runtime_error("the node has no podCIDR yet");
  fs::path dir = fs::path(state_dir_) / "ipam";
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::string owner;
    std::getline(in, owner);
    if (owner == uid) return e.path().filename().string();
  }
  // .1 is the bridge; the last address is the broadcast.
  for (uint32_t i = 2; i < size_ - 1; ++i) {
    std::string ip = format_ipv4(base_ + i);
    fs::path f = dir / ip;
    if (fs::exists(f)) continue;
    std::ofstream(f) << uid << "\n";
    return ip;
  }
  throw std::runtime_error("no free address left in podCIDR " + cidr_);
}

void PodNetworkManager::release_ip(const std::string& uid) {
  std::lock_guard lock(mutex_);
  fs::path dir = fs::path(state_dir_) / "ipam";
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::string owner;
    std::getline(in, owner);
    if (owner == uid) fs::remove(e.path(), ec);
  }
}

PodNetwork PodNetworkManager::describe(const std::string& uid, const std::string& ip) const {
  PodNetwork n;
  n.uid = uid;
  n.netns = netns_name(uid);
  n.netns_path = "/run/netns/" + n.netns;
  n.ip = ip;
  n.gateway = format_ipv4(base_ + 1);
  n.prefix_len = prefix_len_;
  n.host_veth = veth_name(uid);
  return n;
}

PodNetwork PodNetworkManager::setup(const std::string& uid) {
  std::string addr = allocate_ip(uid);
  PodNetwork n = describe(uid, addr);
  try {
    if (!fs::exists(n.netns_path)) ip({"netns", "add", n.netns});
    ip({"-n", n.netns, "link", "set", "lo", "up"});
    if (!ip_ok({"link", "show", n.host_veth})) {
      ip({"link", "add", n.host_veth, "type", "veth", "peer", "name", "eth0", "netns", n.netns});
    }
    ip({"link", "set", n.host_veth, "master", bridge_});
    // A pod reaching itself through a Service needs its bridge port to send frames back where they came from.
    ip({"link", "set", n.host_veth, "type", "bridge_slave", "hairpin", "on"});
    ip({"link", "set", n.host_veth, "up"});
    std::string cidr = n.ip + "/" + std::to_string(n.prefix_len);
    auto addrs = run_process({"ip", "-n", n.netns, "-o", "-4", "addr", "show", "dev", "eth0"});
    if (addrs.out.find(" " + cidr + " ") == std::string::npos) ip({"-n", n.netns, "addr", "add", cidr, "dev", "eth0"});
    ip({"-n", n.netns, "link", "set", "eth0", "up"});
    ip({"-n", n.netns, "route", "replace", "default", "via", n.gateway});
  } catch (...) {
    teardown(uid);
    throw;
  }
  return n;
}

void PodNetworkManager::teardown(const std::string& uid) {
  std::string netns = netns_name(uid), veth = veth_name(uid);
  // Deleting the namespace destroys eth0 and with it the host end of the pair; delete the host end anyway in case
  // the namespace was lost first.
  if (ip_ok({"link", "show", veth})) ip_ok({"link", "del", veth});
  if (fs::exists("/run/netns/" + netns)) ip_ok({"netns", "del", netns});
  release_ip(uid);
}

std::optional<PodNetwork> PodNetworkManager::find(const std::string& uid) const {
  std::lock_guard lock(mutex_);
  fs::path dir = fs::path(state_dir_) / "ipam";
  std::error_code ec;
  if (!fs::exists(dir, ec)) return std::nullopt;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::string owner;
    std::getline(in, owner);
    if (owner == uid) return describe(uid, e.path().filename().string());
  }
  return std::nullopt;
}

std::vector<std::string> PodNetworkManager::allocated_uids() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  fs::path dir = fs::path(state_dir_) / "ipam";
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::string owner;
    std::getline(in, owner);
    if (!owner.empty()) out.push_back(owner);
  }
  return out;
}

}  // namespace kctl::kubelet
