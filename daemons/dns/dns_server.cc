// DnsServer: respond() (parse, answer from the zone or decide to forward, write within the size limit), a UDP
// thread that also waits on the forwarded queries (one connected socket each, so each has its own source port and
// the kernel drops answers from anyone but the upstream), and a TCP thread with a thread per connection.
#include "daemons/dns/dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

namespace kctl::dns {

namespace {

// The extended rcode BADVERS (RFC 6891 6.1.3): 16, sent as 0 in the header and 1 in the OPT record.
constexpr uint16_t kBadVers = 16;
// Zone transfers (AXFR, IXFR) are not offered: the zone is made from the API, not kept as a file.
constexpr uint16_t kTypeAXFR = 252, kTypeIXFR = 251;

using Clock = std::chrono::steady_clock;

std::string errno_text() { return std::strerror(errno); }

Header reply_header(const Header& q) {
  Header h;
  h.id = q.id;
  h.qr = true;
  h.opcode = q.opcode;
  h.rd = q.rd;
  h.cd = q.cd;
  return h;
}

size_t udp_limit(const Message& m) {
  if (!m.edns) return kClassicUdpSize;
  return std::clamp<size_t>(m.edns->udp_size, kClassicUdpSize, kMaxUdpAnswerSize);
}

std::vector<uint8_t> header_only(const Header& h, const Question* q, const std::optional<Edns>& edns,
                                 uint16_t ext_rcode = 0) {
  MessageWriter w(kMaxMessageSize);
  if (q) w.add_question(*q);
  if (edns) w.add_edns({uint16_t(kMaxUdpAnswerSize), 0, uint8_t(ext_rcode >> 4), false});
  return w.finish(h);
}

}  // namespace

bool parse_upstream(const std::string& s, Upstream& out) {
  std::string host = s;
  int port = 53;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) return false;
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return false;
      port = std::atoi(s.c_str() + close + 2);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    port = std::atoi(s.c_str() + s.find(':') + 1);
  }
  if (port <= 0 || port > 65535) return false;
  out = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    out.len = sizeof(sockaddr_in);
    out.text = host + ":" + std::to_string(port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    out.len = sizeof(sockaddr_in6);
    out.text = "[" + host + "]:" + std::to_string(port);
  } else {
    return false;
  }
  return true;
}

std::vector<uint8_t> error_reply(std::span<const uint8_t> query, uint8_t rcode) {
  auto parsed = parse_message(query);
  if (!parsed.header) return {};
  Header h = reply_header(*parsed.header);
  h.ra = true;
  h.rcode = rcode;
  const Message* m = parsed.message ? &*parsed.message : nullptr;
  return header_only(h, m && m->questions.size() == 1 ? &m->questions[0] : nullptr,
                     m ? m->edns : std::optional<Edns>());
}

Response respond(const ClusterZone& zone, std::span<const uint8_t> wire, bool over_udp, bool can_forward) {
  Response r;
  auto parsed = parse_message(wire);
  // Answers and garbage shorter than a header get no reply: replying to replies is how loops and reflection start.
  if (!parsed.header || parsed.header->qr) return r;
  Header h = reply_header(*parsed.header);
  h.ra = can_forward;
  r.action = Response::Action::Reply;
  if (!parsed.message) {
    h.rcode = rcode::kFormErr;
    r.reply = header_only(h, nullptr, std::nullopt);
    return r;
  }
  const Message& m = *parsed.message;
  const Question* q = m.questions.size() == 1 ? &m.questions[0] : nullptr;
  if (m.header.opcode != kOpcodeQuery) {
    h.rcode = rcode::kNotImp;
    r.reply = header_only(h, q, m.edns);
    return r;
  }
  if (!q) {
    h.rcode = rcode::kFormErr;
    r.reply = header_only(h, nullptr, m.edns);
    return r;
  }
  if (m.edns && m.edns->version > 0) {
    h.rcode = kBadVers & 0xF;
    r.reply = header_only(h, q, m.edns, kBadVers);
    return r;
  }
  ZoneAnswer a;
  if (q->type == kTypeAXFR || q->type == kTypeIXFR) {
    a.rcode = rcode::kRefused;
  } else {
    a = zone.answer(*q);
  }
  if (a.kind == ZoneAnswer::Kind::Forward) {
    if (can_forward) {
      r.action = Response::Action::Forward;
      return r;
    }
    h.rcode = rcode::kRefused;
    r.reply = header_only(h, q, m.edns);
    return r;
  }
  h.aa = a.authoritative && a.rcode != rcode::kRefused;
  h.rcode = a.rcode;
  MessageWriter w(over_udp ? udp_limit(m) : kMaxMessageSize);
  if (m.edns) w.reserve_tail(kOptRecordSize);
  w.add_question(*q);
  for (const auto& rec : a.answers)
    if (!w.add_record(Section::Answer, rec)) {
      // Whole records only; the client sees TC and asks again over TCP (RFC 2181 9).
      h.tc = true;
      break;
    }
  if (!h.tc) {
    for (const auto& rec : a.authority) w.add_record(Section::Authority, rec);
    // The additional section is a courtesy: what does not fit is left out without TC.
    for (const auto& rec : a.additional)
      if (!w.add_record(Section::Additional, rec)) break;
  }
  if (m.edns) {
    w.release_tail(kOptRecordSize);
    w.add_edns({uint16_t(kMaxUdpAnswerSize), 0, 0, false});
  }
  r.reply = w.finish(h);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Sockets

namespace {

int bind_socket(const std::string& address, int port, int type) {
  Upstream a;
  if (!parse_upstream(address.find(':') != std::string::npos ? "[" + address + "]:" + std::to_string(port)
                                                               : address + ":" + std::to_string(port ? port : 1),
                      a))
    throw std::runtime_error("--bind-address must be an IP address, not \"" + address + "\"");
  if (port == 0) {  // parse_upstream refuses port 0; the kernel picks one
    if (a.addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&a.addr)->sin_port = 0;
    else reinterpret_cast<sockaddr_in6*>(&a.addr)->sin6_port = 0;
  }
  int fd = ::socket(a.addr.ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + errno_text());
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a.addr), a.len) != 0) {
    std::string why = errno_text();
    ::close(fd);
    throw std::runtime_error("cannot bind " + std::string(type == SOCK_STREAM ? "TCP " : "UDP ") + address + ":" +
                             std::to_string(port) + ": " + why);
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

int ms_until(Clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return int(std::clamp<long long>(d, 0, 60'000));
}

// Reads exactly n octets before the deadline; false on timeout, EOF or error.
bool read_full(int fd, uint8_t* buf, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, ms_until(deadline));
    if (pr <= 0) {
      if (pr < 0 && errno == EINTR) continue;
      return false;
    }
    ssize_t r = ::recv(fd, buf + got, n - got, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    got += size_t(r);
  }
  return true;
}

bool write_full(int fd, const uint8_t* buf, size_t n, Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < n) {
    pollfd p{fd, POLLOUT, 0};
    int pr = ::poll(&p, 1, ms_until(deadline));
    if (pr <= 0) {
      if (pr < 0 && errno == EINTR) continue;
      return false;
    }
    ssize_t w = ::send(fd, buf + sent, n - sent, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    sent += size_t(w);
  }
  return true;
}

// One length-prefixed message (RFC 1035 4.2.2).
bool read_tcp_message(int fd, std::vector<uint8_t>& msg, Clock::time_point first_octet_deadline) {
  uint8_t len[2];
  if (!read_full(fd, len, 1, first_octet_deadline)) return false;
  auto deadline = Clock::now() + kTcpIdleTimeout;
  if (!read_full(fd, len + 1, 1, deadline)) return false;
  size_t n = size_t(len[0]) << 8 | len[1];
  msg.resize(n);
  return n > 0 && read_full(fd, msg.data(), n, deadline);
}

bool write_tcp_message(int fd, std::span<const uint8_t> msg, Clock::time_point deadline) {
  if (msg.size() > kMaxMessageSize) return false;
  std::vector<uint8_t> out{uint8_t(msg.size() >> 8), uint8_t(msg.size())};
  out.insert(out.end(), msg.begin(), msg.end());
  return write_full(fd, out.data(), out.size(), deadline);
}

uint16_t random_id() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return uint16_t(rng());
}

}  // namespace

struct DnsServer::PendingForward {
  int fd = -1;  // connected to the upstream being asked
  sockaddr_storage client{};
  socklen_t client_len = 0;
  uint16_t client_id = 0, our_id = 0;
  std::vector<uint8_t> query;  // with our id
  size_t upstream = 0;         // index of the upstream being asked
  Clock::time_point deadline;
};

DnsServer::DnsServer(const ClusterZone& zone, DnsServerOptions options) : zone_(zone), options_(std::move(options)) {
  if (options_.upstreams.size() > kMaxUpstreams) options_.upstreams.resize(kMaxUpstreams);
  udp_fd_ = bind_socket(options_.bind_address, options_.port, SOCK_DGRAM);
  port_ = bound_port(udp_fd_);
  try {
    // Both on one port: with port 0 the kernel chose the UDP one, and TCP takes the same number.
    tcp_fd_ = bind_socket(options_.bind_address, port_, SOCK_STREAM);
  } catch (...) {
    ::close(udp_fd_);
    throw;
  }
  if (::listen(tcp_fd_, 128) != 0) {
    ::close(udp_fd_);
    ::close(tcp_fd_);
    throw std::runtime_error("listen: " + errno_text());
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

DnsServer::~DnsServer() {
  stop();
  for (int fd : {udp_fd_, tcp_fd_, wake_fd_})
    if (fd >= 0) ::close(fd);
}

void DnsServer::start() {
  udp_thread_ = std::thread([this] { udp_loop(); });
  tcp_thread_ = std::thread([this] { tcp_accept_loop(); });
}

void DnsServer::stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
  }
  if (udp_thread_.joinable()) udp_thread_.join();
  if (tcp_thread_.joinable()) tcp_thread_.join();
  std::unique_lock lock(clients_mutex_);
  for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
  clients_cv_.wait(lock, [this] { return client_fds_.empty(); });
}

DnsServer::Stats DnsServer::stats() const { return {answered_.load(), forwarded_.load(), failed_.load()}; }

// --- UDP --------------------------------------------------------------------------------------------------------

bool DnsServer::send_to_upstream(PendingForward& f) {
  if (f.fd >= 0) ::close(f.fd);
  f.fd = -1;
  while (f.upstream < options_.upstreams.size()) {
    const Upstream& u = options_.upstreams[f.upstream];
    f.fd = ::socket(u.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (f.fd >= 0 && ::connect(f.fd, reinterpret_cast<const sockaddr*>(&u.addr), u.len) == 0 &&
        ::send(f.fd, f.query.data(), f.query.size(), 0) == ssize_t(f.query.size())) {
      f.deadline = Clock::now() + kForwardTimeout;
      return true;
    }
    if (f.fd >= 0) ::close(f.fd);
    f.fd = -1;
    ++f.upstream;
  }
  return false;
}

void DnsServer::forward_udp(std::span<const uint8_t> query, const sockaddr_storage& client, socklen_t client_len,
                            std::vector<PendingForward>& pending) {
  auto fail = [&](uint8_t rc) {
    ++failed_;
    auto reply = error_reply(query, rc);
    ::sendto(udp_fd_, reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&client), client_len);
  };
  if (forwards_in_flight_ >= kMaxForwardsInFlight) return fail(rcode::kRefused);
  PendingForward f;
  f.client = client;
  f.client_len = client_len;
  f.client_id = uint16_t(query[0] << 8 | query[1]);
  f.our_id = random_id();
  f.query.assign(query.begin(), query.end());
  f.query[0] = uint8_t(f.our_id >> 8);
  f.query[1] = uint8_t(f.our_id);
  if (!send_to_upstream(f)) return fail(rcode::kServFail);
  ++forwards_in_flight_;
  ++forwarded_;
  pending.push_back(std::move(f));
}

void DnsServer::udp_loop() {
  std::vector<uint8_t> buf(kMaxMessageSize);
  std::vector<PendingForward> pending;
  std::vector<pollfd> fds;
  while (!stopping_) {
    fds.assign({{udp_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}});
    auto next = Clock::now() + std::chrono::seconds(60);
    for (const auto& f : pending) {
      fds.push_back({f.fd, POLLIN, 0});
      next = std::min(next, f.deadline);
    }
    int pr = ::poll(fds.data(), fds.size(), ms_until(next));
    if (pr < 0 && errno != EINTR) break;
    if (stopping_) break;
    if (fds[0].revents & POLLIN) {
      sockaddr_storage client{};
      socklen_t len = sizeof client;
      ssize_t n = ::recvfrom(udp_fd_, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&client), &len);
      if (n > 0) {
        std::span<const uint8_t> query(buf.data(), size_t(n));
        Response r = respond(zone_, query, true, !options_.upstreams.empty());
        if (r.action == Response::Action::Reply) {
          ++answered_;
          ::sendto(udp_fd_, r.reply.data(), r.reply.size(), 0, reinterpret_cast<sockaddr*>(&client), len);
        } else if (r.action == Response::Action::Forward) {
          forward_udp(query, client, len, pending);
        }
      }
    }
    // Answers from upstreams, and upstreams that stayed silent.
    auto now = Clock::now();
    for (size_t i = 0; i < pending.size();) {
      PendingForward& f = pending[i];
      bool done = false;
      pollfd* p = nullptr;
      for (size_t k = 2; k < fds.size(); ++k)
        if (fds[k].fd == f.fd) p = &fds[k];
      if (p && (p->revents & (POLLIN | POLLERR))) {
        ssize_t n = ::recv(f.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n >= 12 && uint16_t(buf[0] << 8 | buf[1]) == f.our_id && (buf[2] & 0x80)) {
          buf[0] = uint8_t(f.client_id >> 8);
          buf[1] = uint8_t(f.client_id);
          ::sendto(udp_fd_, buf.data(), size_t(n), 0, reinterpret_cast<sockaddr*>(&f.client), f.client_len);
          done = true;
        } else if (n < 0 && errno != EAGAIN) {
          f.deadline = now;  // refused (ICMP): try the next upstream at once
        }
      }
      if (!done && f.deadline <= now) {
        ++f.upstream;
        if (!send_to_upstream(f)) {
          ++failed_;
          std::vector<uint8_t> q = f.query;
          q[0] = uint8_t(f.client_id >> 8);
          q[1] = uint8_t(f.client_id);
          auto reply = error_reply(q, rcode::kServFail);
          ::sendto(udp_fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&f.client), f.client_len);
          done = true;
        }
      }
      if (done) {
        if (f.fd >= 0) ::close(f.fd);
        pending[i] = std::move(pending.back());
        pending.pop_back();
        --forwards_in_flight_;
      } else {
        ++i;
      }
    }
  }
  for (auto& f : pending) {
    if (f.fd >= 0) ::close(f.fd);
    --forwards_in_flight_;
  }
}

// --- TCP --------------------------------------------------------------------------------------------------------

void DnsServer::tcp_accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{tcp_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (stopping_) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(clients_mutex_);
    if (client_fds_.size() >= kMaxTcpClients) {
      ::close(fd);
      continue;
    }
    client_fds_.insert(fd);
    std::thread([this, fd] { tcp_client(fd); }).detach();
  }
}

void DnsServer::tcp_client(int fd) {
  std::vector<uint8_t> msg;
  while (!stopping_ && read_tcp_message(fd, msg, Clock::now() + kTcpIdleTimeout)) {
    Response r = respond(zone_, msg, false, !options_.upstreams.empty());
    std::vector<uint8_t> reply;
    if (r.action == Response::Action::Reply) {
      ++answered_;
      reply = std::move(r.reply);
    } else if (r.action == Response::Action::Forward) {
      reply = forward_tcp(msg);
    } else {
      break;
    }
    if (reply.empty() || !write_tcp_message(fd, reply, Clock::now() + kTcpIdleTimeout)) break;
  }
  std::lock_guard lock(clients_mutex_);
  ::close(fd);
  client_fds_.erase(fd);
  clients_cv_.notify_all();
}

// Over TCP to each upstream in turn (the client chose TCP, usually because a UDP answer was truncated).
std::vector<uint8_t> DnsServer::forward_tcp(std::span<const uint8_t> query) {
  if (forwards_in_flight_.fetch_add(1) >= kMaxForwardsInFlight) {
    --forwards_in_flight_;
    ++failed_;
    return error_reply(query, rcode::kRefused);
  }
  ++forwarded_;
  std::vector<uint8_t> reply;
  for (const auto& u : options_.upstreams) {
    if (stopping_) break;
    int fd = ::socket(u.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    auto deadline = Clock::now() + kForwardTimeout;
    bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&u.addr), u.len) == 0 || errno == EINPROGRESS;
    if (ok) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::poll(&p, 1, ms_until(deadline)) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err;
    }
    std::vector<uint8_t> answer;
    ok = ok && write_tcp_message(fd, query, deadline) && read_tcp_message(fd, answer, deadline) &&
         answer.size() >= 12 && answer[0] == query[0] && answer[1] == query[1];
    ::close(fd);
    if (ok) {
      reply = std::move(answer);
      break;
    }
  }
  --forwards_in_flight_;
  if (reply.empty()) {
    ++failed_;
    return error_reply(query, rcode::kServFail);
  }
  return reply;
}

}  // namespace kctl::dns
