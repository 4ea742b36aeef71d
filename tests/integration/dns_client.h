// A tiny DNS client and a fake upstream resolver for the DNS suites: one query over UDP or TCP to a server, the
// answer parsed with kctl-dns's own parser; and a UDP responder that answers every name with one A record.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemons/dns/dns_message.h"

namespace kctl::test {

inline std::vector<uint8_t> dns_query(const std::string& name, uint16_t qtype, uint16_t id,
                                      std::optional<uint16_t> edns_size = {}) {
  dns::MessageWriter w(dns::kMaxMessageSize);
  w.add_question({name, qtype, dns::kClassIN});
  if (edns_size) w.add_edns({*edns_size, 0, 0, false});
  dns::Header h;
  h.id = id;
  h.rd = true;
  return w.finish(h);
}

inline sockaddr_in ipv4_address(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// One query, one answer (nullopt on timeout or garbage).
inline std::optional<dns::Message> ask_udp(const std::string& ip, int port, const std::vector<uint8_t>& query,
                                           int timeout_ms = 3000) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = ipv4_address(ip, port);
  ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{fd, POLLIN, 0};
  std::vector<uint8_t> buf(65535);
  ssize_t n = ::poll(&p, 1, timeout_ms) == 1 ? ::recv(fd, buf.data(), buf.size(), 0) : -1;
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf.resize(size_t(n));
  return dns::parse_message(buf).message;
}

inline std::optional<dns::Message> ask_tcp(const std::string& ip, int port, const std::vector<uint8_t>& query,
                                           int timeout_ms = 3000) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = ipv4_address(ip, port);
  std::optional<dns::Message> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::vector<uint8_t> msg{uint8_t(query.size() >> 8), uint8_t(query.size())};
    msg.insert(msg.end(), query.begin(), query.end());
    if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == ssize_t(msg.size())) {
      std::vector<uint8_t> buf;
      uint8_t chunk[4096];
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, timeout_ms) == 1) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.insert(buf.end(), chunk, chunk + n);
        if (buf.size() >= 2 && buf.size() >= 2 + (size_t(buf[0]) << 8 | buf[1])) break;
      }
      if (buf.size() >= 2) out = dns::parse_message(std::span(buf).subspan(2)).message;
    }
  }
  ::close(fd);
  return out;
}

// An upstream resolver on 127.0.0.1: answers every query with `ip` for its name (TTL 60), or stays silent.
class FakeUpstream {
 public:
  explicit FakeUpstream(std::string ip, bool silent = false) : ip_(std::move(ip)), silent_(silent) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = ipv4_address("127.0.0.1", 0);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int queries() const { return queries_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    std::vector<uint8_t> buf(65535);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      ++queries_;
      auto q = dns::parse_message(std::span(buf.data(), size_t(n))).message;
      if (silent_ || !q || q->questions.size() != 1) continue;
      dns::Header h = q->header;
      h.qr = true;
      h.ra = true;
      dns::MessageWriter w(dns::kClassicUdpSize);
      w.add_question(q->questions[0]);
      if (q->questions[0].type == dns::type::kA)
        w.add_record(dns::Section::Answer, {q->questions[0].name, dns::type::kA, dns::kClassIN, 60, ip_});
      auto reply = w.finish(h);
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  std::string ip_;
  bool silent_;
  int fd_ = -1, port_ = 0;
  std::atomic<int> queries_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kctl::test
