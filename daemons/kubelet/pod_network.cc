// PodNetworkManager: rtnetlink for namespaces, links and addresses (what `ip` would do, a millisecond per pod instead
// of a process per step), and address files for the IPAM.
#include "daemons/kubelet/pod_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "api/ipv4.h"
#include "daemons/common/rtnetlink.h"

namespace fs = std::filesystem;

namespace kctl::kubelet {

namespace {

using api::format_ipv4;
using api::parse_ipv4;

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
  uint32_t net = 0;
  int prefix = 0;
  if (!api::parse_ipv4_cidr(pod_cidr, net, prefix))
    throw std::runtime_error("podCIDR must be an IPv4 CIDR, not \"" + pod_cidr + "\"");
  if (prefix < 8 || prefix > 30) throw std::runtime_error("podCIDR prefix must be /8 to /30: " + pod_cidr);
  std::lock_guard lock(mutex_);
  cidr_ = pod_cidr;
  prefix_len_ = prefix;
  size_ = uint32_t(1) << (32 - prefix);
  base_ = net & ~(size_ - 1);
  fs::create_directories(fs::path(state_dir_) / "ipam");
  rtnl::Socket node;
  int bridge = node.link_index(bridge_);
  if (!bridge) {
    node.add_bridge(bridge_);
    bridge = node.link_index(bridge_);
  }
  node.add_address(bridge, base_ + 1, prefix);
  node.set_up(bridge);
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
  uint32_t ip = 0, gateway = 0;
  parse_ipv4(n.ip, ip);
  parse_ipv4(n.gateway, gateway);
  try {
    rtnl::add_netns(n.netns);
    rtnl::Socket node, pod(n.netns_path);
    pod.set_up(pod.link_index("lo"));
    int veth = node.link_index(n.host_veth);
    if (!veth) {
      int netns = ::open(n.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (netns < 0) throw std::runtime_error("cannot open " + n.netns_path + ": " + std::strerror(errno));
      try {
        node.add_veth(n.host_veth, "eth0", netns);
      } catch (...) {
        ::close(netns);
        throw;
      }
      ::close(netns);
      veth = node.link_index(n.host_veth);
    }
    int bridge = node.link_index(bridge_);
    if (!bridge) throw std::runtime_error("the node bridge " + bridge_ + " is gone");
    node.set_master(veth, bridge);
    // A pod reaching itself through a Service needs its bridge port to send frames back where they came from.
    node.set_hairpin(veth, true);
    node.set_up(veth);
    int eth0 = pod.link_index("eth0");
    pod.add_address(eth0, ip, n.prefix_len);
    pod.set_up(eth0);
    pod.replace_default_route(gateway);
  } catch (...) {
    teardown(uid);
    throw;
  }
  return n;
}

void PodNetworkManager::teardown(const std::string& uid) {
  // Deleting the namespace destroys eth0 and with it the host end of the pair; delete the host end anyway in case
  // the namespace was lost first.
  try {
    rtnl::Socket node;
    if (int veth = node.link_index(veth_name(uid))) node.delete_link(veth);
  } catch (const rtnl::Error&) {
    // gone already with its peer's namespace
  }
  rtnl::delete_netns(netns_name(uid));
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
