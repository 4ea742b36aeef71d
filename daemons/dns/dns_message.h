// The DNS wire format (RFC 1035, EDNS0 of RFC 6891), written by hand: parsing any message (queries and, for the
// tests and the forwarder, answers), and writing answers with name compression within a size limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kctl::dns {

// The classic limit of a DNS message over UDP without EDNS (RFC 1035 4.2.1).
inline constexpr size_t kClassicUdpSize = 512;
// The most we answer over UDP whatever a client's EDNS buffer size says: the DNS Flag Day 2020 value, which fits an
// IPv6 packet in the minimum MTU without fragments. Larger answers are truncated; the client retries over TCP.
inline constexpr size_t kMaxUdpAnswerSize = 1232;
// TCP messages carry a 16-bit length (RFC 1035 4.2.2): no message is larger.
inline constexpr size_t kMaxMessageSize = 65535;
// A name is at most 255 octets on the wire, a label 63 (RFC 1035 2.3.4).
inline constexpr size_t kMaxNameWireLength = 255;
inline constexpr size_t kMaxLabelLength = 63;
// Compression pointers a parser follows in one name before it calls the message malformed (a loop guard: a
// 255-octet name has at most 127 labels, each of which could be reached by one pointer).
inline constexpr int kMaxPointerHops = 128;

namespace type {
inline constexpr uint16_t kA = 1, kNS = 2, kCNAME = 5, kSOA = 6, kPTR = 12, kTXT = 16, kAAAA = 28, kSRV = 33,
                          kOPT = 41, kANY = 255;
}
inline constexpr uint16_t kClassIN = 1;

namespace rcode {
inline constexpr uint8_t kNoError = 0, kFormErr = 1, kServFail = 2, kNXDomain = 3, kNotImp = 4, kRefused = 5;
}
inline constexpr uint8_t kOpcodeQuery = 0;

struct Header {
  uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
  uint8_t opcode = 0;
  uint8_t rcode = 0;  // the low 4 bits; EDNS carries the rest
};

struct Question {
  std::string name;  // dotted, without the final dot ("" is the root), in the case it was sent
  uint16_t type = 0;
  uint16_t klass = kClassIN;
};

// A resource record with its data in presentation form, as dig prints it:
//   A "10.96.0.1"; AAAA "fd00::1"; NS, CNAME, PTR "target.name"; TXT "\"text\""; MX "10 mail.x";
//   SRV "priority weight port target"; SOA "mname rname serial refresh retry expire minimum";
//   any other type "\\# LENGTH HEX" (RFC 3597).
struct Record {
  std::string name;
  uint16_t type = 0;
  uint16_t klass = kClassIN;
  uint32_t ttl = 0;
  std::string data;
  bool operator==(const Record&) const = default;
};

// The OPT pseudo-record of EDNS0.
struct Edns {
  uint16_t udp_size = kClassicUdpSize;  // the requester's buffer size (values below 512 count as 512)
  uint8_t version = 0;
  uint8_t extended_rcode = 0;  // the upper 8 bits of the 12-bit rcode
  bool dnssec_ok = false;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answers, authority, additional;  // additional without the OPT record
  std::optional<Edns> edns;
};

struct ParseResult {
  std::optional<Message> message;  // absent when malformed
  std::string error;               // why, when malformed
  // The id and flags of the header when at least 12 octets arrived: enough to send FORMERR back.
  std::optional<Header> header;
};

// Parses a whole message. Never reads past `wire`, never loops, never throws; a malformed message gives an error.
ParseResult parse_message(std::span<const uint8_t> wire);

// Names: lower-cased for comparison (DNS compares ASCII case-insensitively) and split into labels.
std::string lower(std::string name);
// Whether `name` is a name this writer can encode: labels of 1..63 octets, at most 255 octets on the wire.
bool valid_name(const std::string& name);

enum class Section { Answer, Authority, Additional };

// Writes one message front to back within `limit` octets, compressing names (RFC 1035 4.1.4) against every name
// written before, case-insensitively. Adding what would not fit writes nothing and returns false.
class MessageWriter {
 public:
  explicit MessageWriter(size_t limit);
  bool add_question(const Question& q);
  // False when it does not fit, or when its data does not parse for its type (nothing is written then either).
  bool add_record(Section section, const Record& r);
  // The OPT record (in the additional section): our buffer size and the upper bits of the rcode.
  bool add_edns(const Edns& e);
  // Octets written so far, and how many more would fit.
  size_t size() const { return out_.size(); }
  size_t room() const { return limit_ > out_.size() ? limit_ - out_.size() : 0; }
  // Reserves octets at the end (for an OPT record to come), or gives them back.
  void reserve_tail(size_t n) { limit_ -= std::min(limit_, n); }
  void release_tail(size_t n) { limit_ += n; }
  // The message with this header and the counts of what was added.
  std::vector<uint8_t> finish(const Header& h);

 private:
  bool write_name(const std::string& name, bool compress);
  bool write_rdata(const Record& r);
  void rollback(size_t mark);
  bool fits(size_t extra) const { return out_.size() + extra <= limit_; }

  size_t limit_;
  std::vector<uint8_t> out_;
  std::map<std::string, uint16_t> offsets_;  // lower-cased name suffix -> where it was written
  uint16_t qd_ = 0, an_ = 0, ns_ = 0, ar_ = 0;
};

// The size of the OPT record add_edns writes (root name, type, class, TTL, empty rdata).
inline constexpr size_t kOptRecordSize = 11;

}  // namespace kctl::dns
