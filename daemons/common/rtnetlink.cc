// rtnetlink requests built with libmnl: namespaces made as iproute2 makes them, links (veth, bridge, master, up,
// hairpin), IPv4 addresses and the default route, each one request answered by the kernel's ack.
#include "daemons/common/rtnetlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

namespace kctl::rtnl {

namespace {

constexpr const char* kNetnsDir = "/run/netns";

[[noreturn]] void fail(const std::string& what, int code) {
  throw Error(what + ": " + std::strerror(code), code);
}

// Appends a struct header inside a nested attribute (the peer of a veth carries its own ifinfomsg).
template <typename T>
T* put_struct(nlmsghdr* nlh) {
  auto* p = reinterpret_cast<T*>(reinterpret_cast<char*>(nlh) + nlh->nlmsg_len);
  std::memset(p, 0, sizeof(T));
  nlh->nlmsg_len += MNL_ALIGN(sizeof(T));
  return p;
}

nlmsghdr* link_request(char* buf, uint16_t type, uint16_t flags, int index, uint8_t family = AF_UNSPEC) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = family;
  ifm->ifi_index = index;
  return nlh;
}

}  // namespace

void add_netns(const std::string& name) {
  std::string path = std::string(kNetnsDir) + "/" + name;
  if (::access(path.c_str(), F_OK) == 0) return;
  if (::mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST) fail("mkdir " + std::string(kNetnsDir), errno);
  // Shared, so a namespace mounted here shows in every mount namespace (iproute2's rule): a bind mount of the
  // directory onto itself first when it is no mount point yet.
  if (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || ::mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0)
      fail("make " + std::string(kNetnsDir) + " a shared mount", errno);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) fail("create " + path, errno);
  ::close(fd);
  // unshare() moves only the calling thread into the new namespace: a thread of its own, which then ends.
  int error = 0;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0 || ::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0)
      error = errno;
  }).join();
  if (error) {
    ::unlink(path.c_str());
    fail("create the network namespace " + name, error);
  }
}

void delete_netns(const std::string& name) {
  std::string path = std::string(kNetnsDir) + "/" + name;
  ::umount2(path.c_str(), MNT_DETACH);
  ::unlink(path.c_str());
}

Socket::Socket() {
  socket_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!socket_ || mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int code = errno;
    if (socket_) mnl_socket_close(socket_);
    fail("open a route netlink socket", code);
  }
}

Socket::Socket(const std::string& netns_path) {
  int ns = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) fail("open " + netns_path, errno);
  // A socket belongs to the namespace it was made in: made by a thread that entered the pod's namespace.
  int error = 0;
  std::thread([&] {
    if (::setns(ns, CLONE_NEWNET) != 0) {
      error = errno;
      return;
    }
    socket_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!socket_) error = errno;
  }).join();
  ::close(ns);
  if (error) fail("open a route netlink socket in " + netns_path, error);
  if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int code = errno;
    mnl_socket_close(socket_);
    fail("bind a route netlink socket in " + netns_path, code);
  }
}

Socket::~Socket() {
  if (socket_) mnl_socket_close(socket_);
}

namespace {
struct Reply {
  int index = 0;
};

int on_link(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type == RTM_NEWLINK)
    static_cast<Reply*>(data)->index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index;
  return MNL_CB_OK;
}
}  // namespace

void Socket::talk(void* message, const std::string& what, int (*on_reply)(const nlmsghdr*, void*), void* data) {
  auto* nlh = static_cast<nlmsghdr*>(message);
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) fail(what, errno);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t portid = mnl_socket_get_portid(socket_);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(socket_, buf.data(), buf.size());
    if (n < 0) fail(what, errno);
    int r = mnl_cb_run(buf.data(), size_t(n), seq_, portid, on_reply, data);
    if (r == MNL_CB_STOP) return;
    if (r < 0) fail(what, errno);
  }
}

int Socket::link_index(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = link_request(buf, RTM_GETLINK, 0, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Reply reply;
  try {
    talk(nlh, "look up link " + name, on_link, &reply);
  } catch (const Error& e) {
    if (e.code() == ENODEV) return 0;
    throw;
  }
  return reply.index;
}

void Socket::add_veth(const std::string& name, const std::string& peer, int peer_netns_fd) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer_info = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  put_struct<ifinfomsg>(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer.c_str());
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, uint32_t(peer_netns_fd));
  mnl_attr_nest_end(nlh, peer_info);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  talk(nlh, "add veth " + name + " peer " + peer);
}

void Socket::add_bridge(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  talk(nlh, "add bridge " + name);
}

void Socket::set_master(int index, int master_index) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = link_request(buf, RTM_NEWLINK, 0, index);
  mnl_attr_put_u32(nlh, IFLA_MASTER, uint32_t(master_index));
  talk(nlh, "set the master of link " + std::to_string(index));
}

void Socket::set_up(int index) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = link_request(buf, RTM_NEWLINK, 0, index);
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  talk(nlh, "set link " + std::to_string(index) + " up");
}

void Socket::set_hairpin(int index, bool on) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = link_request(buf, RTM_SETLINK, 0, index, AF_BRIDGE);
  nlattr* port = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
  mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on ? 1 : 0);
  mnl_attr_nest_end(nlh, port);
  talk(nlh, "set hairpin mode of link " + std::to_string(index));
}

void Socket::delete_link(int index) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  talk(link_request(buf, RTM_DELLINK, 0, index), "delete link " + std::to_string(index));
}

void Socket::add_address(int index, uint32_t address, int prefix_len) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = uint8_t(prefix_len);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = uint32_t(index);
  uint32_t be = htonl(address);
  mnl_attr_put_u32(nlh, IFA_LOCAL, be);
  mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
  try {
    talk(nlh, "add an address to link " + std::to_string(index));
  } catch (const Error& e) {
    if (e.code() != EEXIST) throw;
  }
}

void Socket::replace_default_route(uint32_t gateway) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
  talk(nlh, "replace the default route");
}

void Socket::replace_link_route(uint32_t destination, int prefix_len, int index, int protocol) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = uint8_t(prefix_len);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = uint8_t(protocol);
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_DST, htonl(destination));
  mnl_attr_put_u32(nlh, RTA_OIF, uint32_t(index));
  talk(nlh, "route " + std::to_string(prefix_len) + "-bit prefix out of link " + std::to_string(index));
}

void Socket::delete_route(uint32_t destination, int prefix_len, int protocol) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_DELROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = uint8_t(prefix_len);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = uint8_t(protocol);
  rtm->rtm_scope = RT_SCOPE_NOWHERE;
  mnl_attr_put_u32(nlh, RTA_DST, htonl(destination));
  try {
    talk(nlh, "delete a route");
  } catch (const Error& e) {
    if (e.code() != ESRCH && e.code() != ENOENT) throw;
  }
}

}  // namespace kctl::rtnl
