// resource.Quantity: the fixed-point numbers of resource requests and limits ("100m", "64Mi"),
// parsed, compared and printed in canonical form exactly as k8s.io/apimachinery/pkg/api/resource.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kctl::api {

// Significant digits a quantity may carry. Kubernetes keeps arbitrary precision, but nothing
// meaningful needs more than an int64 plus nine fractional digits (28 digits); the bounds let
// the value live in 128 bits. Binary-suffixed values are multiplied by up to 2^60 first.
inline constexpr std::size_t kMaxQuantityDecimalDigits = 36;
inline constexpr std::size_t kMaxQuantityBinaryDigits = 19;

class Quantity {
 public:
  // How the quantity prints: it keeps the kind of suffix it was written with.
  enum class Format { DecimalExponent, BinarySI, DecimalSI };

  Quantity() = default;  // zero, DecimalSI

  // Parses "100m", "1.5", "64Mi", "2k", "1e3", "-0.5", ... Values finer than 1n are rounded up
  // (away from zero), BinarySI values are capped at 2^63-1. Throws StatusError 400 with the
  // Kubernetes message (e.g. "quantities must match the regular expression '...'").
  static Quantity parse(std::string_view text);
  // As parse(), without throwing: nullopt and, when asked, the message.
  static std::optional<Quantity> try_parse(std::string_view text, std::string* error = nullptr);
  // A JSON string or number, as Quantity.UnmarshalJSON accepts; throws StatusError 400.
  static Quantity from_json(const nlohmann::json& value);
  static Quantity from_int(std::int64_t value, Format format = Format::DecimalSI);
  static Quantity from_milli(std::int64_t milli, Format format = Format::DecimalSI);

  // The value rounded up to an integer, away from zero ("100m" -> 1, "-1.5" -> -2).
  // Saturates at the int64 limits (Kubernetes silently overflows there).
  std::int64_t value() const { return scaled_value(0); }
  // The value in thousandths, rounded up away from zero ("1.5" -> 1500, "1n" -> 1).
  std::int64_t milli_value() const { return scaled_value(-3); }
  // ceil(value / 10^scale) away from zero: scaled_value(-9) is nanos, scaled_value(3) thousands.
  std::int64_t scaled_value(int scale) const;

  // The canonical form Kubernetes prints: "1500m", "500m" for "0.5", "1Gi" for "1024Mi",
  // "1M" for "1000k". A string already in canonical form is printed as it was written.
  std::string to_string() const;
  nlohmann::json to_json() const { return to_string(); }

  Format format() const { return format_; }
  bool is_zero() const { return mantissa_ == 0; }
  int sign() const { return mantissa_ == 0 ? 0 : negative_ ? -1 : 1; }

  // Numeric comparison; the format does not matter ("1Ki" == "1024").
  int compare(const Quantity& other) const;
  std::strong_ordering operator<=>(const Quantity& other) const { return compare(other) <=> 0; }
  bool operator==(const Quantity& other) const { return compare(other) == 0; }

 private:
  using U128 = unsigned __int128;

  // value = (negative_ ? -1 : 1) * mantissa_ * 10^exponent_, trailing zeros moved to exponent_.
  bool negative_ = false;
  U128 mantissa_ = 0;
  std::int32_t exponent_ = 0;
  Format format_ = Format::DecimalSI;
  // The text as written when Kubernetes would print it unchanged.
  std::string text_;

  void normalize();
  std::string canonical() const;
  friend struct QuantityParser;
};

}  // namespace kctl::api
