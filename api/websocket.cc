// WebSocket framing: frame headers with 7/16/64-bit lengths, masking, fragment assembly, control frames.
#include "api/websocket.h"

#include <random>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace kctl::ws {

namespace {
std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(n));
  out.resize(size_t(len));
  return out;
}
}  // namespace

std::string accept_key(const std::string& client_key) {
  std::string s = client_key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return base64(d, sizeof d);
}

std::string make_key() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  unsigned char k[16];
  for (auto& b : k) b = static_cast<unsigned char>(rng());
  return base64(k, sizeof k);
}

Connection::Connection(http::Stream& stream, bool client, std::string buffered)
    : stream_(stream), client_(client), buf_(std::move(buffered)) {}

bool Connection::read_exact(size_t n, std::string& out) {
  while (buf_.size() - pos_ < n) {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char tmp[65536];
    long r = stream_.read(tmp, sizeof tmp);
    if (r <= 0) return false;
    buf_.append(tmp, size_t(r));
  }
  out.assign(buf_, pos_, n);
  pos_ += n;
  return true;
}

bool Connection::read_frame(bool& fin, uint8_t& opcode, std::string& payload) {
  std::string h;
  if (!read_exact(2, h)) return false;
  fin = (uint8_t(h[0]) & 0x80) != 0;
  opcode = uint8_t(h[0]) & 0x0F;
  bool masked = (uint8_t(h[1]) & 0x80) != 0;
  uint64_t len = uint8_t(h[1]) & 0x7F;
  std::string ext;
  if (len == 126) {
    if (!read_exact(2, ext)) return false;
    len = (uint64_t(uint8_t(ext[0])) << 8) | uint8_t(ext[1]);
  } else if (len == 127) {
    if (!read_exact(8, ext)) return false;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | uint8_t(ext[size_t(i)]);
  }
  if (len > kMaxMessage) return false;
  std::string mask;
  if (masked && !read_exact(4, mask)) return false;
  if (!read_exact(size_t(len), payload)) return false;
  if (masked)
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(uint8_t(payload[i]) ^ uint8_t(mask[i % 4]));
  return true;
}

bool Connection::read(uint8_t& opcode, std::string& payload) {
  payload.clear();
  uint8_t first = 0;
  for (;;) {
    bool fin;
    uint8_t op;
    std::string part;
    if (!read_frame(fin, op, part)) return false;
    if (op == kPing) {
      send(kPong, part);
      continue;
    }
    if (op == kPong) continue;
    if (op == kClose) {
      close(1000);
      return false;
    }
    if (op != kContinuation) first = op;
    payload += part;
    if (payload.size() > kMaxMessage) return false;
    if (fin) {
      opcode = first;
      return true;
    }
  }
}

bool Connection::send(uint8_t opcode, std::string_view payload) {
  std::string f;
  f.push_back(char(0x80 | opcode));
  uint8_t mask_bit = client_ ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(char(mask_bit | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    f.push_back(char(mask_bit | 126));
    f.push_back(char(payload.size() >> 8));
    f.push_back(char(payload.size() & 0xFF));
  } else {
    f.push_back(char(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(char((uint64_t(payload.size()) >> (8 * i)) & 0xFF));
  }
  if (client_) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    uint32_t m = rng();
    char mask[4] = {char(m), char(m >> 8), char(m >> 16), char(m >> 24)};
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) f.push_back(char(payload[i] ^ mask[i % 4]));
  } else {
    f.append(payload);
  }
  std::lock_guard lock(send_mutex_);
  if (closed_) return false;
  if (opcode == kClose) closed_ = true;
  return stream_.write_all(f);
}

void Connection::close(uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(char(code >> 8));
  p.push_back(char(code & 0xFF));
  p.append(reason);
  send(kClose, p);
}

}  // namespace kctl::ws
