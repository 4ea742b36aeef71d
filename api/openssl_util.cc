#include "api/openssl_util.h"

#include <fstream>

#include <openssl/err.h>

namespace kctl::api::openssl {

namespace {
constexpr std::streamsize kMaxPemBytes = 1024 * 1024;
}  // namespace

std::string last_error() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "error " + std::to_string(e);
}

PemRead read_pem_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return PemRead::CannotOpen;
  out.assign(size_t(kMaxPemBytes) + 1, '\0');
  in.read(out.data(), kMaxPemBytes + 1);
  if (in.gcount() > kMaxPemBytes) return PemRead::TooLarge;
  out.resize(size_t(in.gcount()));
  return PemRead::Ok;
}

}  // namespace kctl::api::openssl
