// resource.Quantity parsing (quantity.go's parseQuantityString and ParseQuantity), canonical
// formatting (CanonicalizeBytes) and the rounding of Value()/MilliValue().
#include "api/quantity.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "api/status.h"

namespace kctl::api {

namespace {

using U128 = unsigned __int128;

constexpr const char* kErrFormatWrong =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
constexpr const char* kErrNumeric = "unable to parse numeric part of quantity";
constexpr const char* kErrSuffix = "unable to parse quantity's suffix";

// Quantities are rounded up to this many fractional digits (1n).
constexpr int kNanoScale = 9;
// Largest BinarySI magnitude (2^63-1); Kubernetes caps there.
constexpr U128 kMaxBinary = static_cast<U128>(std::numeric_limits<std::int64_t>::max());
// Decimal exponents stay well inside int32 so sums of them cannot overflow.
constexpr std::int64_t kMaxExponent = std::numeric_limits<std::int32_t>::max() / 4;
// 10^38 < 2^128 is the largest power of ten a U128 holds.
constexpr int kMaxPow10 = 38;

U128 pow10(int n) {
  U128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

int decimal_digits(U128 v) {
  int n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

std::string u128_to_string(U128 v) {
  std::string s;
  do {
    s += static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  std::reverse(s.begin(), s.end());
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Scanned {
  bool positive = true;
  std::string num = "0";  // integer digits without leading zeros ("0" when none)
  std::string denom;      // fractional digits as written
  std::string suffix;
};

// parseQuantityString: sign, digits, optional fraction, suffix letters, optional signed digits.
std::optional<Scanned> scan_quantity(std::string_view str) {
  Scanned out;
  std::size_t pos = 0, end = str.size();
  if (pos < end && (str[0] == '-' || str[0] == '+')) {
    out.positive = str[0] == '+';
    ++pos;
  }
  while (pos < end && str[pos] == '0') ++pos;
  if (pos >= end) return out;
  std::size_t start = pos;
  while (pos < end && is_digit(str[pos])) ++pos;
  if (pos > start) out.num = std::string(str.substr(start, pos - start));
  if (pos < end && str[pos] == '.') {
    start = ++pos;
    while (pos < end && is_digit(str[pos])) ++pos;
    out.denom = std::string(str.substr(start, pos - start));
  }
  std::size_t suffix_start = pos;
  while (pos < end && std::string_view("eEinumkKMGTP").find(str[pos]) != std::string_view::npos) ++pos;
  if (pos < end && (str[pos] == '-' || str[pos] == '+')) ++pos;
  while (pos < end && is_digit(str[pos])) ++pos;
  if (pos < end) return std::nullopt;
  out.suffix = std::string(str.substr(suffix_start));
  return out;
}

struct Suffix {
  int base;  // 10 or 2
  std::int64_t exponent;
  Quantity::Format format;
};

std::optional<Suffix> interpret_suffix(std::string_view s) {
  static const std::pair<std::string_view, int> kDecimal[] = {{"", 0},  {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3},
                                                              {"M", 6}, {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  static const std::pair<std::string_view, int> kBinary[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30},
                                                             {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  for (auto [text, exp] : kDecimal) {
    if (text == s) return Suffix{10, exp, Quantity::Format::DecimalSI};
  }
  for (auto [text, exp] : kBinary) {
    if (text == s) return Suffix{2, exp, Quantity::Format::BinarySI};
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    std::string_view digits = s.substr(1);
    if (digits.front() == '+') digits.remove_prefix(1);
    std::int64_t exp = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), exp);
    if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty() || digits.front() == '+') {
      return std::nullopt;
    }
    if (exp > kMaxExponent || exp < -kMaxExponent) return std::nullopt;
    return Suffix{10, exp, Quantity::Format::DecimalExponent};
  }
  return std::nullopt;
}

// Whether ParseQuantity's int64 fast path applies and keeps the input string (quantity.go:
// "if the number is in canonical form, reuse the string").
bool keeps_text(const Scanned& sc, const Suffix& suf) {
  int len_num = static_cast<int>(sc.num.size()), len_denom = static_cast<int>(sc.denom.size());
  std::int64_t scale = 0;
  int precision = 0;
  std::int64_t multiplier = 1;
  if (suf.format == Quantity::Format::BinarySI) {
    if (len_denom != 0) return false;
    precision = 15 - len_num - static_cast<int>(static_cast<float>(suf.exponent) * 3 / 10) - 1;
    multiplier = std::int64_t{1} << suf.exponent;
  } else {
    scale = suf.exponent - len_denom;
    precision = 18 - (len_num + len_denom);
  }
  if (precision < 0 || scale < -kNanoScale) return false;
  std::string shifted = sc.num + sc.denom;
  std::int64_t value = 0;
  auto [p, ec] = std::from_chars(shifted.data(), shifted.data() + shifted.size(), value);
  if (ec != std::errc() || p != shifted.data() + shifted.size()) return false;
  if (value != 0 && multiplier > std::numeric_limits<std::int64_t>::max() / value) return false;
  if (suf.format == Quantity::Format::BinarySI) return suf.exponent % 10 == 0 && (value & 0x07) != 0;
  return scale % 3 == 0 && !shifted.ends_with("000") && shifted[0] != '0';
}

// Adds one to a string of decimal digits ("" counts as 0).
void increment(std::string& digits) {
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it != '9') {
      ++*it;
      return;
    }
    *it = '0';
  }
  digits.insert(digits.begin(), '1');
}

std::string strip_leading_zeros(std::string s) {
  s.erase(0, std::min(s.find_first_not_of('0'), s.size()));
  return s;
}

}  // namespace

// Turns scanned text into the exact value, rounding and capping as ParseQuantity does.
struct QuantityParser {
  static Quantity decimal(std::string digits, std::int64_t exp10, const char*& error) {
    Quantity q;
    if (exp10 < -kNanoScale) {
      std::size_t drop = static_cast<std::size_t>(-kNanoScale - exp10);
      std::size_t keep = digits.size() > drop ? digits.size() - drop : 0;
      bool round_up = digits.find_first_not_of('0', keep) != std::string::npos;
      digits.resize(keep);
      if (round_up) increment(digits);
      exp10 = -kNanoScale;
    }
    while (!digits.empty() && digits.back() == '0') {
      digits.pop_back();
      ++exp10;
    }
    if (digits.size() > kMaxQuantityDecimalDigits || exp10 > kMaxExponent) {
      error = kErrNumeric;
      return q;
    }
    for (char c : digits) q.mantissa_ = q.mantissa_ * 10 + static_cast<unsigned>(c - '0');
    q.exponent_ = static_cast<std::int32_t>(exp10);
    return q;
  }

  // digits * 2^shift / 10^frac, rounded up to nanos and capped at 2^63-1.
  static Quantity binary(std::string digits, int shift, std::int64_t frac, const char*& error) {
    Quantity q;
    while (frac > 0 && !digits.empty() && digits.back() == '0') {
      digits.pop_back();
      --frac;
    }
    if (digits.size() > kMaxQuantityBinaryDigits) {
      error = kErrNumeric;
      return q;
    }
    U128 m = 0;
    for (char c : digits) m = m * 10 + static_cast<unsigned>(c - '0');
    m <<= shift;
    std::int64_t exp10 = -frac;
    if (frac > kNanoScale) {
      std::int64_t d = frac - kNanoScale;
      U128 div = d > kMaxPow10 ? 0 : pow10(static_cast<int>(d));
      U128 rem = div == 0 ? m : m % div;
      m = div == 0 ? 0 : m / div;
      if (rem != 0) ++m;
      exp10 = -kNanoScale;
    }
    U128 one = pow10(static_cast<int>(-exp10));  // 1 at this scale
    if (m > kMaxBinary * one) {
      m = kMaxBinary;
      exp10 = 0;
    }
    q.mantissa_ = m;
    q.exponent_ = static_cast<std::int32_t>(exp10);
    q.format_ = m != 0 && m < one ? Quantity::Format::DecimalSI : Quantity::Format::BinarySI;
    return q;
  }

  static std::optional<Quantity> parse(std::string_view text, std::string* error) {
    auto fail = [&](const char* msg) -> std::optional<Quantity> {
      if (error) *error = msg;
      return std::nullopt;
    };
    if (text.empty()) return fail(kErrFormatWrong);
    if (text == "0") {
      Quantity q;
      q.text_ = "0";
      return q;
    }
    auto sc = scan_quantity(text);
    if (!sc) return fail(kErrFormatWrong);
    auto suf = interpret_suffix(sc->suffix);
    if (!suf) return fail(kErrSuffix);
    std::string digits = strip_leading_zeros(sc->num + sc->denom);
    const char* err = nullptr;
    auto frac = static_cast<std::int64_t>(sc->denom.size());
    Quantity q = suf->base == 10 ? decimal(digits, suf->exponent - frac, err)
                                 : binary(digits, static_cast<int>(suf->exponent), frac, err);
    if (err) return fail(err);
    if (suf->base == 10) q.format_ = suf->format;
    q.negative_ = !sc->positive;
    q.normalize();
    if (keeps_text(*sc, *suf)) q.text_ = std::string(text);
    return q;
  }
};

void Quantity::normalize() {
  if (mantissa_ == 0) {
    negative_ = false;
    exponent_ = 0;
    return;
  }
  while (mantissa_ % 10 == 0) {
    mantissa_ /= 10;
    ++exponent_;
  }
}

std::optional<Quantity> Quantity::try_parse(std::string_view text, std::string* error) {
  return QuantityParser::parse(text, error);
}

Quantity Quantity::parse(std::string_view text) {
  std::string error;
  auto q = QuantityParser::parse(text, &error);
  if (!q) throw_bad_request(error);
  return *q;
}

Quantity Quantity::from_json(const nlohmann::json& value) {
  if (value.is_null()) return Quantity();
  if (value.is_string()) {
    // Quantity.UnmarshalJSON trims surrounding whitespace.
    const auto& s = value.get_ref<const std::string&>();
    auto b = s.find_first_not_of(" \t\r\n\v\f");
    auto e = s.find_last_not_of(" \t\r\n\v\f");
    return parse(b == std::string::npos ? std::string_view() : std::string_view(s).substr(b, e - b + 1));
  }
  if (value.is_number()) return parse(value.dump());
  throw_bad_request(kErrFormatWrong);
}

Quantity Quantity::from_int(std::int64_t value, Format format) {
  Quantity q;
  q.negative_ = value < 0;
  q.mantissa_ = value < 0 ? static_cast<U128>(-(value + 1)) + 1 : static_cast<U128>(value);
  q.format_ = format;
  q.normalize();
  return q;
}

Quantity Quantity::from_milli(std::int64_t milli, Format format) {
  Quantity q = from_int(milli, format);
  if (!q.is_zero()) q.exponent_ -= 3;
  q.normalize();
  return q;
}

std::int64_t Quantity::scaled_value(int scale) const {
  if (mantissa_ == 0) return 0;
  std::int64_t k = static_cast<std::int64_t>(exponent_) - scale;
  const U128 limit = negative_ ? U128{1} << 63 : static_cast<U128>(std::numeric_limits<std::int64_t>::max());
  U128 v = 0;
  if (k >= 0) {
    if (k > kMaxPow10 || mantissa_ > limit / pow10(static_cast<int>(k))) {
      v = limit;
    } else {
      v = mantissa_ * pow10(static_cast<int>(k));
    }
  } else if (-k > kMaxPow10) {
    v = 1;  // a nonzero fraction rounds away from zero
  } else {
    U128 div = pow10(static_cast<int>(-k));
    v = mantissa_ / div + (mantissa_ % div != 0 ? 1 : 0);
  }
  v = std::min(v, limit);
  if (!negative_) return static_cast<std::int64_t>(v);
  return v == (U128{1} << 63) ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(v);
}

std::string Quantity::to_string() const {
  return text_.empty() ? canonical() : text_;
}

std::string Quantity::canonical() const {
  if (mantissa_ == 0) return "0";
  std::string sign = negative_ ? "-" : "";
  // BinarySI values are capped at 2^63-1, so an integral one fits in 128 bits. Fractional
  // values and those below 1024 would need rounding in base 1024: Kubernetes prints them decimal.
  Format format = format_;
  U128 n = 0;
  if (format == Format::BinarySI) {
    if (exponent_ >= 0 && exponent_ <= kMaxPow10) n = mantissa_ * pow10(exponent_);
    if (exponent_ < 0 || n < 1024) format = Format::DecimalSI;
  }
  if (format == Format::BinarySI) {
    static const char* kBinary[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int e = 0;
    while (e < 6 && n % 1024 == 0) {
      n /= 1024;
      ++e;
    }
    return sign + u128_to_string(n) + kBinary[e];
  }
  U128 m = mantissa_;
  std::int64_t e = exponent_;
  int r = static_cast<int>(((e % 3) + 3) % 3);
  m *= pow10(r);
  e -= r;
  static const std::pair<int, const char*> kDecimal[] = {{-9, "n"}, {-6, "u"}, {-3, "m"}, {0, ""},   {3, "k"},
                                                         {6, "M"},  {9, "G"},  {12, "T"}, {15, "P"}, {18, "E"}};
  if (format == Format::DecimalSI) {
    for (auto [exp, text] : kDecimal) {
      if (exp == e) return sign + u128_to_string(m) + text;
    }
    // Beyond "E" Kubernetes fell back to the exponent form (a later fix; older versions lost it).
  }
  return sign + u128_to_string(m) + (e == 0 ? "" : "e" + std::to_string(e));
}

int Quantity::compare(const Quantity& other) const {
  if (sign() != other.sign()) return sign() < other.sign() ? -1 : 1;
  if (mantissa_ == 0) return 0;
  std::int64_t mag_a = decimal_digits(mantissa_) + static_cast<std::int64_t>(exponent_);
  std::int64_t mag_b = decimal_digits(other.mantissa_) + static_cast<std::int64_t>(other.exponent_);
  int magnitude = 0;
  if (mag_a != mag_b) {
    magnitude = mag_a < mag_b ? -1 : 1;
  } else {
    // Same order of magnitude: aligning the exponents keeps both within the digit bound.
    U128 a = mantissa_, b = other.mantissa_;
    if (exponent_ > other.exponent_) a *= pow10(exponent_ - other.exponent_);
    if (other.exponent_ > exponent_) b *= pow10(other.exponent_ - exponent_);
    magnitude = a < b ? -1 : a > b ? 1 : 0;
  }
  return negative_ ? -magnitude : magnitude;
}

}  // namespace kctl::api
