// The DNS wire format: a bounds-checked reader (names with compression pointers that may only point backwards,
// a hop limit, label and name lengths checked) and a writer that compresses names and never exceeds its limit.
#include "daemons/dns/dns_message.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

namespace kctl::dns {

namespace {

// ---------------------------------------------------------------------------------------------------------------
// Names in presentation form: labels joined by dots; a dot, a backslash or an unprintable octet inside a label is
// written \DDD (decimal), as dig does.

std::string escape_label(std::string_view label) {
  std::string out;
  for (unsigned char c : label) {
    if (c == '.' || c == '\\' || c <= 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03u", unsigned(c));
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

// Splits a presentation-form name into raw labels; false when an escape is broken or a label is empty.
bool split_name(const std::string& name, std::vector<std::string>& labels) {
  labels.clear();
  if (name.empty() || name == ".") return true;
  std::string cur;
  bool open = false;  // a label has begun
  const size_t n = name.size();
  for (size_t i = 0; i < n; ++i) {
    char c = name[i];
    if (c == '\\') {
      if (i + 1 >= n) return false;
      if (std::isdigit((unsigned char)name[i + 1])) {
        if (i + 3 >= n || !std::isdigit((unsigned char)name[i + 2]) || !std::isdigit((unsigned char)name[i + 3]))
          return false;
        int v = (name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
        if (v > 255) return false;
        cur += char(v);
        i += 3;
      } else {
        cur += name[++i];
      }
      open = true;
    } else if (c == '.') {
      if (!open) return false;
      labels.push_back(std::move(cur));
      cur.clear();
      open = false;
    } else {
      cur += c;
      open = true;
    }
  }
  if (open) labels.push_back(std::move(cur));
  return true;
}

std::string join_suffix(const std::vector<std::string>& labels, size_t from) {
  std::string s;
  for (size_t i = from; i < labels.size(); ++i) {
    if (i > from) s += '.';
    s += lower(escape_label(labels[i]));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> w) : w_(w) {}
  bool u8(uint8_t& v) {
    if (pos_ + 1 > w_.size()) return false;
    v = w_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (pos_ + 2 > w_.size()) return false;
    v = uint16_t(w_[pos_] << 8 | w_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    if (pos_ + 4 > w_.size()) return false;
    v = uint32_t(w_[pos_]) << 24 | uint32_t(w_[pos_ + 1]) << 16 | uint32_t(w_[pos_ + 2]) << 8 | w_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  // A possibly compressed name starting at the current position; the position moves past its first part.
  bool name(std::string& out) {
    size_t end = 0;
    if (!name_at(pos_, out, end)) return false;
    pos_ = end;
    return true;
  }
  // A name starting at `at`: `end` is where the name's own octets stop (after the first pointer, if any).
  bool name_at(size_t at, std::string& out, size_t& end) const {
    out.clear();
    size_t p = at, wire_len = 1;
    bool jumped = false;
    int hops = 0;
    size_t min_target = at;  // a pointer must point before everything read so far: no loops
    while (true) {
      if (p >= w_.size()) return false;
      uint8_t len = w_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= w_.size() || ++hops > kMaxPointerHops) return false;
        size_t target = size_t(len & 0x3F) << 8 | w_[p + 1];
        if (target >= min_target) return false;
        if (!jumped) end = p + 2;
        jumped = true;
        min_target = target;
        p = target;
        continue;
      }
      if (len & 0xC0) return false;  // the 01 and 10 label types (RFC 6891 retired them)
      if (len == 0) {
        if (!jumped) end = p + 1;
        return true;
      }
      if (p + 1 + len > w_.size()) return false;
      wire_len += size_t(len) + 1;
      if (wire_len > kMaxNameWireLength) return false;
      if (!out.empty()) out += '.';
      out += escape_label(std::string_view(reinterpret_cast<const char*>(&w_[p + 1]), len));
      p += 1 + size_t(len);
    }
  }
  bool skip(size_t n) {
    if (pos_ + n > w_.size()) return false;
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  size_t size() const { return w_.size(); }
  const uint8_t* at(size_t p) const { return w_.data() + p; }

 private:
  std::span<const uint8_t> w_;
  size_t pos_ = 0;
};

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789ABCDEF";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

// The data of one record, from the wire to presentation form. Names inside may be compressed (they are, for the
// types of RFC 1035), so they are read from the whole message.
bool read_rdata(const Reader& r, uint16_t type, size_t start, size_t len, std::string& out) {
  const uint8_t* p = r.at(start);
  size_t end = start + len, name_end = 0;
  auto name = [&](size_t at, std::string& n) { return r.name_at(at, n, name_end) && name_end <= end; };
  auto u16 = [&](size_t at) { return uint16_t(p[at - start] << 8 | p[at - start + 1]); };
  auto u32 = [&](size_t at) {
    const uint8_t* q = p + (at - start);
    return uint32_t(q[0]) << 24 | uint32_t(q[1]) << 16 | uint32_t(q[2]) << 8 | q[3];
  };
  switch (type) {
    case type::kA: {
      if (len != 4) return false;
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, p, buf, sizeof buf);
      out = buf;
      return true;
    }
    case type::kAAAA: {
      if (len != 16) return false;
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, p, buf, sizeof buf);
      out = buf;
      return true;
    }
    case type::kNS:
    case type::kCNAME:
    case type::kPTR: return name(start, out) && name_end == end;
    case type::kSRV: {
      if (len < 7) return false;
      std::string target;
      if (!name(start + 6, target) || name_end != end) return false;
      out = std::to_string(u16(start)) + " " + std::to_string(u16(start + 2)) + " " + std::to_string(u16(start + 4)) +
            " " + target;
      return true;
    }
    case type::kSOA: {
      std::string mname, rname;
      if (!name(start, mname)) return false;
      if (!name(name_end, rname) || name_end + 20 != end) return false;
      size_t q = name_end;
      out = mname + " " + rname;
      for (int i = 0; i < 5; ++i) out += " " + std::to_string(u32(q + size_t(i) * 4));
      return true;
    }
    case type::kTXT: {
      out.clear();
      size_t q = 0;
      while (q < len) {
        size_t n = p[q];
        if (q + 1 + n > len) return false;
        if (!out.empty()) out += ' ';
        out += '"';
        for (size_t i = 0; i < n; ++i) {
          char c = char(p[q + 1 + i]);
          if (c == '"' || c == '\\') out += '\\';
          out += c;
        }
        out += '"';
        q += 1 + n;
      }
      return true;
    }
    default: out = "\\# " + std::to_string(len) + (len ? " " + hex(p, len) : ""); return true;
  }
}

bool read_record(Reader& r, Record& rec, std::string& error) {
  uint16_t rdlen = 0;
  if (!r.name(rec.name)) return error = "bad owner name", false;
  if (!r.u16(rec.type) || !r.u16(rec.klass) || !r.u32(rec.ttl) || !r.u16(rdlen)) return error = "short record", false;
  size_t start = r.pos();
  if (!r.skip(rdlen)) return error = "record data past the end", false;
  if (rec.type == type::kOPT) return true;  // its fields are the caller's
  if (!read_rdata(r, rec.type, start, rdlen, rec.data))
    return error = "bad data in a record of type " + std::to_string(rec.type), false;
  return true;
}

}  // namespace

std::string lower(std::string name) {
  for (auto& c : name) c = char(std::tolower((unsigned char)c));
  return name;
}

bool valid_name(const std::string& name) {
  std::vector<std::string> labels;
  if (!split_name(name, labels)) return false;
  size_t wire = 1;
  for (const auto& l : labels) {
    if (l.size() > kMaxLabelLength) return false;
    wire += l.size() + 1;
  }
  return wire <= kMaxNameWireLength;
}

ParseResult parse_message(std::span<const uint8_t> wire) {
  ParseResult res;
  Reader r(wire);
  Message m;
  uint16_t flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
  if (!r.u16(m.header.id) || !r.u16(flags) || !r.u16(qd) || !r.u16(an) || !r.u16(ns) || !r.u16(ar)) {
    res.error = "shorter than a header";
    return res;
  }
  Header& h = m.header;
  h.qr = flags & 0x8000;
  h.opcode = uint8_t(flags >> 11 & 0xF);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.ad = flags & 0x0020;
  h.cd = flags & 0x0010;
  h.rcode = uint8_t(flags & 0xF);
  res.header = h;
  // Every question and record takes at least 5 octets (root name, type, class): counts beyond that are lies, and
  // checking first keeps a forged count from making us reserve memory.
  if ((size_t(qd) + an + ns + ar) * 5 > wire.size()) {
    res.error = "section counts larger than the message";
    return res;
  }
  for (int i = 0; i < qd; ++i) {
    Question q;
    if (!r.name(q.name) || !r.u16(q.type) || !r.u16(q.klass)) {
      res.error = "bad question";
      return res;
    }
    m.questions.push_back(std::move(q));
  }
  for (auto [count, section] : {std::pair{an, &m.answers}, std::pair{ns, &m.authority}, std::pair{ar, &m.additional}}) {
    for (int i = 0; i < count; ++i) {
      Record rec;
      if (!read_record(r, rec, res.error)) return res;
      if (rec.type == type::kOPT) {
        // RFC 6891 6.1.1: one OPT, in the additional section, owned by the root.
        if (section != &m.additional || m.edns || !rec.name.empty()) {
          res.error = "misplaced OPT record";
          return res;
        }
        Edns e;
        e.udp_size = std::max<uint16_t>(rec.klass, kClassicUdpSize);
        e.extended_rcode = uint8_t(rec.ttl >> 24);
        e.version = uint8_t(rec.ttl >> 16);
        e.dnssec_ok = rec.ttl & 0x8000;
        m.edns = e;
        continue;
      }
      section->push_back(std::move(rec));
    }
  }
  // Octets after the last record are tolerated (some stacks pad), as most resolvers do.
  res.message = std::move(m);
  return res;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

MessageWriter::MessageWriter(size_t limit) : limit_(std::min(limit, kMaxMessageSize)) { out_.resize(12, 0); }

void MessageWriter::rollback(size_t mark) {
  out_.resize(mark);
  for (auto it = offsets_.begin(); it != offsets_.end();)
    it = it->second >= mark ? offsets_.erase(it) : std::next(it);
}

bool MessageWriter::write_name(const std::string& name, bool compress) {
  std::vector<std::string> labels;
  if (!split_name(name, labels)) return false;
  for (const auto& l : labels)
    if (l.size() > kMaxLabelLength) return false;
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string suffix = join_suffix(labels, i);
    if (compress) {
      if (auto it = offsets_.find(suffix); it != offsets_.end()) {
        if (!fits(2)) return false;
        out_.push_back(uint8_t(0xC0 | it->second >> 8));
        out_.push_back(uint8_t(it->second & 0xFF));
        return true;
      }
    }
    if (!fits(1 + labels[i].size())) return false;
    // Pointers have 14 bits: names further in cannot be pointed at.
    if (out_.size() < 0x4000) offsets_.emplace(suffix, uint16_t(out_.size()));
    out_.push_back(uint8_t(labels[i].size()));
    out_.insert(out_.end(), labels[i].begin(), labels[i].end());
  }
  if (!fits(1)) return false;
  out_.push_back(0);
  return true;
}

namespace {
void put16(std::vector<uint8_t>& o, uint32_t v) {
  o.push_back(uint8_t(v >> 8));
  o.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& o, uint32_t v) {
  put16(o, v >> 16);
  put16(o, v & 0xFFFF);
}
bool parse_u32(const std::string& s, uint64_t max, uint32_t& out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  out = uint32_t(v);
  return true;
}
std::vector<std::string> fields(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  return f;
}
}  // namespace

bool MessageWriter::write_rdata(const Record& r) {
  auto fits_put = [&](size_t n) { return fits(n); };
  switch (r.type) {
    case type::kA: {
      in_addr a{};
      if (inet_pton(AF_INET, r.data.c_str(), &a) != 1 || !fits_put(4)) return false;
      auto* b = reinterpret_cast<const uint8_t*>(&a);
      out_.insert(out_.end(), b, b + 4);
      return true;
    }
    case type::kAAAA: {
      in6_addr a{};
      if (inet_pton(AF_INET6, r.data.c_str(), &a) != 1 || !fits_put(16)) return false;
      auto* b = reinterpret_cast<const uint8_t*>(&a);
      out_.insert(out_.end(), b, b + 16);
      return true;
    }
    case type::kNS:
    case type::kCNAME:
    case type::kPTR: return write_name(r.data, true);
    case type::kSRV: {
      auto f = fields(r.data);
      uint32_t prio, weight, port;
      if (f.size() != 4 || !parse_u32(f[0], 0xFFFF, prio) || !parse_u32(f[1], 0xFFFF, weight) ||
          !parse_u32(f[2], 0xFFFF, port) || !fits_put(6))
        return false;
      put16(out_, prio);
      put16(out_, weight);
      put16(out_, port);
      // RFC 2782: the target is never compressed.
      return write_name(f[3], false);
    }
    case type::kSOA: {
      auto f = fields(r.data);
      if (f.size() != 7 || !write_name(f[0], true) || !write_name(f[1], true) || !fits_put(20)) return false;
      for (size_t i = 2; i < 7; ++i) {
        uint32_t v;
        if (!parse_u32(f[i], 0xFFFFFFFF, v)) return false;
        put32(out_, v);
      }
      return true;
    }
    case type::kTXT: {
      // One or more "quoted strings"; backslash escapes the next character.
      size_t i = 0;
      bool any = false;
      while (i < r.data.size()) {
        if (r.data[i] == ' ') {
          ++i;
          continue;
        }
        if (r.data[i] != '"') return false;
        std::string s;
        for (++i; i < r.data.size() && r.data[i] != '"'; ++i) {
          if (r.data[i] == '\\' && i + 1 < r.data.size()) ++i;
          s += r.data[i];
        }
        if (i >= r.data.size() || s.size() > 255 || !fits_put(1 + s.size())) return false;
        ++i;
        out_.push_back(uint8_t(s.size()));
        out_.insert(out_.end(), s.begin(), s.end());
        any = true;
      }
      return any;
    }
    default: return false;
  }
}

bool MessageWriter::add_question(const Question& q) {
  size_t mark = out_.size();
  if (!write_name(q.name, true) || !fits(4)) return rollback(mark), false;
  put16(out_, q.type);
  put16(out_, q.klass);
  ++qd_;
  return true;
}

bool MessageWriter::add_record(Section section, const Record& r) {
  size_t mark = out_.size();
  if (!write_name(r.name, true) || !fits(10)) return rollback(mark), false;
  put16(out_, r.type);
  put16(out_, r.klass);
  put32(out_, r.ttl);
  size_t len_at = out_.size();
  put16(out_, 0);
  if (!write_rdata(r)) return rollback(mark), false;
  size_t len = out_.size() - len_at - 2;
  out_[len_at] = uint8_t(len >> 8);
  out_[len_at + 1] = uint8_t(len);
  (section == Section::Answer ? an_ : section == Section::Authority ? ns_ : ar_)++;
  return true;
}

bool MessageWriter::add_edns(const Edns& e) {
  if (!fits(kOptRecordSize)) return false;
  out_.push_back(0);  // root
  put16(out_, type::kOPT);
  put16(out_, e.udp_size);
  put32(out_, uint32_t(e.extended_rcode) << 24 | uint32_t(e.version) << 16 | (e.dnssec_ok ? 0x8000u : 0u));
  put16(out_, 0);
  ++ar_;
  return true;
}

std::vector<uint8_t> MessageWriter::finish(const Header& h) {
  uint16_t flags = uint16_t((h.qr ? 0x8000 : 0) | (h.opcode & 0xF) << 11 | (h.aa ? 0x0400 : 0) | (h.tc ? 0x0200 : 0) |
                            (h.rd ? 0x0100 : 0) | (h.ra ? 0x0080 : 0) | (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) |
                            (h.rcode & 0xF));
  std::vector<uint8_t> head;
  for (uint16_t v : {h.id, flags, qd_, an_, ns_, ar_}) put16(head, v);
  std::copy(head.begin(), head.end(), out_.begin());
  return out_;
}

}  // namespace kctl::dns
