// Network namespaces, links, addresses and routes through rtnetlink (libmnl): what `ip netns add`, `ip link`, `ip
// addr` and `ip route` do, without a process per change. The kubelet wires a pod up in about a millisecond this way
// instead of the ~30 ms a dozen `ip` runs took, which was most of a pod's start.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

struct mnl_socket;
struct nlmsghdr;

namespace kctl::rtnl {

// A request the kernel refused, with its errno and what was asked ("add veth veth1234 peer eth0: File exists").
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Creates the named network namespace at /run/netns/NAME as `ip netns add` does (a bind mount of a new namespace,
// /run/netns a shared mount so other mount namespaces see it). Already there is fine. Throws Error.
void add_netns(const std::string& name);
// Unmounts and removes /run/netns/NAME (absent is fine).
void delete_netns(const std::string& name);

// A route netlink socket in one network namespace: the caller's, or the one at a path such as /run/netns/NAME.
// Each call sends one request and waits for the kernel's answer; not thread-safe (one per thread or a lock).
class Socket {
 public:
  Socket();                                       // in the calling thread's network namespace
  explicit Socket(const std::string& netns_path);  // in that namespace
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // The index of a link by name; 0 when there is none.
  int link_index(const std::string& name);
  // A veth pair: `name` here, `peer` in the namespace open at peer_netns_fd.
  void add_veth(const std::string& name, const std::string& peer, int peer_netns_fd);
  void add_bridge(const std::string& name);
  void set_master(int index, int master_index);
  void set_up(int index);
  // A bridge port's hairpin mode (frames may go back out of the port they came in by).
  void set_hairpin(int index, bool on);
  void delete_link(int index);
  // An IPv4 address (host byte order) on a link; already there is fine.
  void add_address(int index, uint32_t address, int prefix_len);
  // The IPv4 default route via `gateway` (host byte order), replacing any.
  void replace_default_route(uint32_t gateway);
  // A route to `destination`/`prefix_len` (host byte order) out of link `index` with no gateway (scope link),
  // marked with `protocol` so its owner finds it again; replaces any route to that prefix. delete_route removes
  // it (absent is fine).
  void replace_link_route(uint32_t destination, int prefix_len, int index, int protocol);
  void delete_route(uint32_t destination, int prefix_len, int protocol);

 private:
  // Sends a request and waits for the kernel's ack, handing reply messages to on_reply. Throws Error.
  void talk(void* message, const std::string& what, int (*on_reply)(const nlmsghdr*, void*) = nullptr,
            void* data = nullptr);

  mnl_socket* socket_ = nullptr;
  uint32_t seq_ = 0;
};

}  // namespace kctl::rtnl
