// Go's JSON forms of the values Kubernetes objects hold: base64 []byte, RFC 3339 times, strings repaired to UTF-8.
// Hand-written because the formats are small and must match Go's edge cases, not a library's.
#include "api/go_json.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace kctl::api {

namespace {

// Go's json.Marshal refuses times outside the years 0 to 9999: 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimeSeconds = -62167219200;
constexpr int64_t kMaxTimeSeconds = 253402300799;
constexpr int64_t kNanosPerSecond = 1000000000;
constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  auto yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

}  // namespace

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 4;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    bool ok = n < 4 && i + n < s.size();
    for (size_t k = 1; ok && k <= n; ++k) {
      auto next = static_cast<unsigned char>(s[i + k]);
      ok = (next & 0xC0) == 0x80;
      cp = cp << 6 | (next & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.append(s.substr(i, n + 1));
      i += n + 1;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kBase64Alphabet[v >> 18 & 63];
    out += kBase64Alphabet[v >> 12 & 63];
    out += i + 1 < in.size() ? kBase64Alphabet[v >> 6 & 63] : '=';
    out += i + 2 < in.size() ? kBase64Alphabet[v & 63] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = in[i + k];
      const char* p = c ? std::strchr(kBase64Alphabet, c) : nullptr;
      if (c == '=' && i + 4 == in.size() && k >= 2 && (k == 3 || in[i + 3] == '=')) {
        ++pad;
      } else if (p && pad == 0) {
        v |= static_cast<uint32_t>(p - kBase64Alphabet) << (18 - 6 * k);
      } else {
        return std::nullopt;
      }
    }
    out += static_cast<char>(v >> 16 & 0xFF);
    if (pad < 2) out += static_cast<char>(v >> 8 & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

std::optional<std::string> format_rfc3339(int64_t seconds, int32_t nanos, bool micro) {
  // time.Unix carries nanos outside [0, 1e9) into the seconds; an int32 moves them by at most 3.
  if (seconds < kMinTimeSeconds - 3 || seconds > kMaxTimeSeconds + 3) return std::nullopt;
  seconds += nanos / kNanosPerSecond;
  int64_t rest = nanos % kNanosPerSecond;
  if (rest < 0) {
    rest += kNanosPerSecond;
    --seconds;
  }
  if (seconds < kMinTimeSeconds || seconds > kMaxTimeSeconds) return std::nullopt;
  int64_t days = (seconds >= 0 ? seconds : seconds - 86399) / 86400;
  int64_t sod = seconds - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), m, d,
                        static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                        static_cast<long long>(sod % 60));
  if (micro) n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(rest / 1000));
  return std::string(buf, n) + "Z";
}

std::optional<UnixTime> parse_rfc3339(std::string_view s) {
  auto digits = [&](size_t at, size_t count, int& v) {
    if (at + count > s.size()) return false;
    v = 0;
    for (size_t i = at; i < at + count; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!digits(0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
      s[10] != 'T' || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' || !digits(17, 2, se))
    return std::nullopt;
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDaysInMonth[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 ||
      se > 59)
    return std::nullopt;
  size_t i = 19;
  int32_t nanos = 0;
  if (s[i] == '.') {
    size_t start = ++i;
    int64_t scale = kNanosPerSecond;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      if (scale /= 10) nanos += static_cast<int32_t>((s[i] - '0') * scale);
    if (i == start) return std::nullopt;
  }
  int offset = 0;
  if (i + 1 != s.size() || s[i] != 'Z') {
    int oh, om;
    if (i + 6 != s.size() || (s[i] != '+' && s[i] != '-') || !digits(i + 1, 2, oh) || s[i + 3] != ':' ||
        !digits(i + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return UnixTime{days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset, nanos};
}

std::optional<double> parse_duration(std::string_view text) {
  if (text == "0") return 0.0;
  std::string_view s = text;
  bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  static const std::pair<std::string_view, double> kUnits[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\u00b5s", 1e-6},
                                                               {"ms", 1e-3}, {"s", 1},     {"m", 60}, {"h", 3600}};
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    double value = 0;
    try {
      value = std::stod(std::string(s.substr(start, i - start)));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    auto it = std::find_if(std::begin(kUnits), std::end(kUnits), [&](const auto& u) { return unit == u.first; });
    if (it == std::end(kUnits)) return std::nullopt;
    total += value * it->second;
  }
  return negative ? -total : total;
}

}  // namespace kctl::api
