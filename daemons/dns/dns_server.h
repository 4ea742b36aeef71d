// DnsServer: answers DNS over UDP and TCP (RFC 1035, RFC 7766) from a ClusterZone, and forwards what is not the
// cluster's to upstream resolvers. respond() is the protocol without sockets, for the server and for tests.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "daemons/dns/cluster_zone.h"

namespace kctl::dns {

// Forwarded queries waiting for an upstream answer, over UDP and TCP together. Past this a query that would be
// forwarded is REFUSED at once (CoreDNS's forward plugin does the same past max_concurrent): a flood of names
// nobody answers must not exhaust file descriptors, which every forwarded query holds one of.
inline constexpr size_t kMaxForwardsInFlight = 256;
// TCP connections served at once, each with a thread of its own; more are closed as they arrive.
inline constexpr size_t kMaxTcpClients = 64;
// How long an upstream gets to answer before the next one is tried (glibc's stub waits 5 s per try by default, so
// two upstreams fit in one client try).
inline constexpr auto kForwardTimeout = std::chrono::seconds(2);
// How long a TCP client may keep a connection without sending a query, and how long one message may take to
// arrive (RFC 7766 6.2.3 recommends timeouts of seconds, not minutes).
inline constexpr auto kTcpIdleTimeout = std::chrono::seconds(10);
// The most upstream resolvers used, as the C library reads at most three nameserver lines (MAXNS).
inline constexpr size_t kMaxUpstreams = 3;

struct Upstream {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "IP:port", for logs
};
// "10.0.0.2", "10.0.0.2:5353", "fd00::1", "[fd00::1]:5353"; nullopt-like: false when not an IP address.
bool parse_upstream(const std::string& s, Upstream& out);

// What to do with one message that arrived.
struct Response {
  enum class Action { Reply, Forward, Drop } action = Action::Drop;
  std::vector<uint8_t> reply;  // for Reply
};
// over_udp: answers are cut at 512 octets, or the client's EDNS buffer size up to kMaxUdpAnswerSize, with TC set;
// over TCP at 65535. can_forward: there are upstream resolvers (else names outside the cluster are REFUSED).
Response respond(const ClusterZone& zone, std::span<const uint8_t> wire, bool over_udp, bool can_forward);
// An answer with only a header and the question (SERVFAIL when upstreams fail, REFUSED when too many wait).
std::vector<uint8_t> error_reply(std::span<const uint8_t> query, uint8_t rcode);

struct DnsServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 53;  // 0: any free port (tests)
  std::vector<Upstream> upstreams;
};

class DnsServer {
 public:
  // Binds the UDP and TCP sockets; throws std::runtime_error naming the address when it cannot.
  DnsServer(const ClusterZone& zone, DnsServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  void start();  // the UDP and TCP threads
  void stop();   // closes every connection, waits for the threads
  int port() const { return port_; }

  struct Stats {
    uint64_t answered = 0, forwarded = 0, failed = 0;  // failed: upstreams silent, or too many forwards waiting
  };
  Stats stats() const;

 private:
  struct PendingForward;
  void udp_loop();
  void forward_udp(std::span<const uint8_t> query, const sockaddr_storage& client, socklen_t client_len,
                   std::vector<PendingForward>& pending);
  bool send_to_upstream(PendingForward& f);
  void tcp_accept_loop();
  void tcp_client(int fd);
  std::vector<uint8_t> forward_tcp(std::span<const uint8_t> query);

  const ClusterZone& zone_;
  DnsServerOptions options_;
  int udp_fd_ = -1, tcp_fd_ = -1, wake_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> forwards_in_flight_{0};
  std::atomic<uint64_t> answered_{0}, forwarded_{0}, failed_{0};
  std::thread udp_thread_, tcp_thread_;
  std::mutex clients_mutex_;
  std::condition_variable clients_cv_;
  std::set<int> client_fds_;  // guarded by clients_mutex_: TCP connections being served, shut down by stop()
};

using DnsServerPtr = std::unique_ptr<DnsServer>;

}  // namespace kctl::dns
