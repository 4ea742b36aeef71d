#include "api/ipv4.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kctl::api {

bool parse_ipv4(std::string_view text, uint32_t& out) {
  in_addr a{};
  if (text.size() >= INET_ADDRSTRLEN || inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

std::string format_ipv4(uint32_t address) {
  in_addr a{htonl(address)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

bool parse_ipv4_cidr(std::string_view text, uint32_t& address, int& prefix) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash + 1 >= text.size() || text.size() - slash > 3) return false;
  int p = 0;
  for (size_t i = slash + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    p = p * 10 + (text[i] - '0');
  }
  if (p > 32 || !parse_ipv4(text.substr(0, slash), address)) return false;
  prefix = p;
  return true;
}

std::string source_address_towards(const std::string& ip) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(443);
  if (inet_pton(AF_INET, ip.c_str(), &to.sin_addr) != 1) return "";
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in from{};
  socklen_t len = sizeof from;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&from), &len) == 0;
  ::close(fd);
  char buf[INET_ADDRSTRLEN] = {};
  return ok && inet_ntop(AF_INET, &from.sin_addr, buf, sizeof buf) ? buf : "";
}

std::string node_address(const std::string& apiserver) {
  std::string host;
  if (auto p = apiserver.find("://"); p != std::string::npos) {
    host = apiserver.substr(p + 3);
    host = host.substr(0, host.find_first_of(":/"));
  }
  std::string ip = source_address_towards(host);
  if (!ip.empty() && ip.rfind("127.", 0) != 0) return ip;
  ip = source_address_towards("192.0.2.1");  // TEST-NET-1: only the default route leads there
  return ip.rfind("127.", 0) == 0 ? "" : ip;
}

}  // namespace kctl::api
