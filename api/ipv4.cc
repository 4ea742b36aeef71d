#include "api/ipv4.h"

#include <arpa/inet.h>

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

}  // namespace kctl::api
