// Listeners and relays of kctl port-forward: two threads per forwarded connection (local to pod, pod to local).
#include "cli/port_forward.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <thread>

#include "cli/errors.h"

namespace kctl::cli {

namespace {

// How often the accept loop looks at whether the session with the server is still alive: PortForwardClient has no
// notification for its end, and a lost session must end kctl as it ends kubectl.
constexpr int kAliveCheckMillis = 500;
constexpr int kListenBacklog = 128;

uint16_t parse_port(const std::string& text, const std::string& arg) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > 65535)
    throw CliError("Error parsing local port '" + text + "': strconv.ParseUint: parsing \"" + text + "\": invalid syntax");
  (void)arg;
  return uint16_t(v);
}

struct Listener {
  int fd;
  PortMapping mapping;
};

// A bound, listening socket, or -1.
int listen_on(const std::string& address, uint16_t& port) {
  bool v6 = address.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1) return ::close(fd), -1;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1) return ::close(fd), -1;
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, kListenBacklog) != 0) {
    ::close(fd);
    return -1;
  }
  if (port == 0) {
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  return fd;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

void relay(spdy::PortForwardClient& client, int fd, PortMapping m, std::ostream& err, std::mutex& err_mutex) {
  std::string why;
  spdy::PortForwardStreamPtr stream = client.open(m.remote, &why);
  if (!stream) {
    std::lock_guard lock(err_mutex);
    err << "error: an error occurred forwarding " << m.local << " -> " << m.remote << ": " << why << "\n";
    err.flush();
    ::close(fd);
    return;
  }
  std::thread to_pod([&] {
    char buf[32 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !stream->write(std::string_view(buf, size_t(n)))) break;
    }
    stream->close_write();
  });
  char buf[32 * 1024];
  for (long n; (n = stream->read(buf, sizeof buf)) > 0;)
    if (!write_all(fd, buf, size_t(n))) break;
  ::shutdown(fd, SHUT_RDWR);  // ends to_pod's recv
  to_pod.join();
  ::close(fd);
  std::string e = stream->error(std::chrono::seconds(1));
  if (!e.empty()) {
    std::lock_guard lock(err_mutex);
    err << "error: an error occurred forwarding " << m.local << " -> " << m.remote << ": " << e << "\n";
    err.flush();
  }
}

}  // namespace

std::vector<PortMapping> parse_port_mappings(const std::vector<std::string>& args) {
  std::vector<PortMapping> out;
  for (const auto& a : args) {
    PortMapping m;
    auto colon = a.find(':');
    if (colon == std::string::npos) {
      m.local = m.remote = parse_port(a, a);
    } else {
      std::string local = a.substr(0, colon), remote = a.substr(colon + 1);
      m.local = local.empty() ? 0 : parse_port(local, a);
      m.remote = parse_port(remote, a);
    }
    if (m.remote == 0) throw CliError("Remote port must be > 0");
    out.push_back(m);
  }
  return out;
}

int forward_ports(spdy::PortForwardClient& client, std::vector<PortMapping> mappings,
                  const std::vector<std::string>& addresses, std::ostream& out, std::ostream& err) {
  std::vector<Listener> listeners;
  for (auto& m : mappings) {
    bool any = false;
    for (const auto& address : addresses) {
      std::vector<std::string> ips = address == "localhost" ? std::vector<std::string>{"127.0.0.1", "::1"}
                                                              : std::vector<std::string>{address};
      for (const auto& ip : ips) {
        uint16_t port = m.local;
        int fd = listen_on(ip, port);
        if (fd < 0) continue;
        m.local = port;  // a free port chosen for ":REMOTE" is used on every address
        listeners.push_back({fd, m});
        any = true;
        out << "Forwarding from " << (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) << ":" << port
            << " -> " << m.remote << "\n";
      }
    }
    if (!any) throw CliError("unable to listen on any of the requested ports: [{" + std::to_string(m.local) + " " +
                             std::to_string(m.remote) + "}]");
  }
  out.flush();
  std::mutex err_mutex;
  std::vector<std::thread> relays;
  while (client.alive()) {
    std::vector<pollfd> fds;
    for (const auto& l : listeners) fds.push_back({l.fd, POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), kAliveCheckMillis);
    if (n < 0 && errno != EINTR) break;
    for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      int c = ::accept4(listeners[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      out << "Handling connection for " << listeners[i].mapping.local << "\n";
      out.flush();
      relays.emplace_back(relay, std::ref(client), c, listeners[i].mapping, std::ref(err), std::ref(err_mutex));
    }
  }
  for (const auto& l : listeners) ::close(l.fd);
  client.close();
  for (auto& t : relays) t.join();
  throw CliError("lost connection to pod");
}

}  // namespace kctl::cli
