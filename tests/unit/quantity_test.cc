// resource.Quantity: parsing, canonical printing as Kubernetes does it, rounding of
// value()/milli_value(), comparison and the error messages for bad quantities.
#include "api/quantity.h"

#include <gtest/gtest.h>

#include <limits>

#include "api/status.h"

namespace kctl::api {
namespace {

std::string canon(std::string_view s) { return Quantity::parse(s).to_string(); }

std::string error(std::string_view s) {
  std::string msg;
  EXPECT_FALSE(Quantity::try_parse(s, &msg).has_value()) << s;
  return msg;
}

TEST(Quantity, CanonicalForms) {
  EXPECT_EQ(canon("100m"), "100m");
  EXPECT_EQ(canon("1"), "1");
  EXPECT_EQ(canon("1.5"), "1500m");
  EXPECT_EQ(canon("1500m"), "1500m");
  EXPECT_EQ(canon("0.5"), "500m");
  EXPECT_EQ(canon(".5"), "500m");
  EXPECT_EQ(canon("64Mi"), "64Mi");
  EXPECT_EQ(canon("1Gi"), "1Gi");
  EXPECT_EQ(canon("1024Mi"), "1Gi");
  EXPECT_EQ(canon("1.5Gi"), "1536Mi");
  EXPECT_EQ(canon("2k"), "2k");
  EXPECT_EQ(canon("1000k"), "1M");
  EXPECT_EQ(canon("1000"), "1k");
  EXPECT_EQ(canon("12000"), "12k");
  EXPECT_EQ(canon("1.0"), "1");
  EXPECT_EQ(canon("0.001"), "1m");
  EXPECT_EQ(canon("0.1m"), "100u");
  EXPECT_EQ(canon("1e3"), "1e3");
  EXPECT_EQ(canon("1000e3"), "1e6");
  EXPECT_EQ(canon("1.5e3"), "1500");
  EXPECT_EQ(canon("-1.5"), "-1500m");
  EXPECT_EQ(canon("1n"), "1n");
  EXPECT_EQ(canon("5u"), "5u");
}

TEST(Quantity, BinaryFormatting) {
  EXPECT_EQ(canon("1Ki"), "1Ki");
  EXPECT_EQ(canon("1000Ki"), "1000Ki");
  EXPECT_EQ(canon("0.5Ki"), "512");     // below 1024: printed decimal
  EXPECT_EQ(canon("1.1Ki"), "1126400m");  // fractional: printed decimal
  EXPECT_EQ(canon("0.5Gi"), "512Mi");
  EXPECT_EQ(canon("8Ei"), "9223372036854775807");  // capped at 2^63-1
  EXPECT_EQ(Quantity::parse("64Mi").format(), Quantity::Format::BinarySI);
  EXPECT_EQ(Quantity::parse("0.5Ki").format(), Quantity::Format::BinarySI);
  EXPECT_EQ(Quantity::parse("0.5").format(), Quantity::Format::DecimalSI);
  EXPECT_EQ(Quantity::parse("1e3").format(), Quantity::Format::DecimalExponent);
}

TEST(Quantity, ZeroAndKubernetesQuirks) {
  EXPECT_EQ(canon("0"), "0");
  EXPECT_EQ(canon("-0"), "0");
  EXPECT_EQ(canon("00"), "0");
  EXPECT_EQ(canon("0Mi"), "0");
  EXPECT_TRUE(Quantity().is_zero());
  EXPECT_EQ(Quantity().to_string(), "0");
  // Kubernetes keeps a canonical-looking input string as written.
  EXPECT_EQ(canon("+1"), "+1");
  EXPECT_EQ(canon("1E3"), "1E3");
}

TEST(Quantity, RoundsUpToNanos) {
  EXPECT_EQ(canon("0.0000000001"), "1n");
  EXPECT_EQ(canon("1.0000000001"), "1000000001n");
  EXPECT_EQ(canon("-0.0000000001"), "-1n");
  EXPECT_EQ(canon("0.9999999999"), "1");
  EXPECT_EQ(canon("0.0000000019"), "2n");
  EXPECT_EQ(canon("1e-20"), "1e-9");  // DecimalExponent keeps its form
}

TEST(Quantity, LargeValues) {
  EXPECT_EQ(canon("1000E"), "1e21");  // beyond the "E" suffix
  EXPECT_EQ(canon("1e100"), "10e99");  // exponents are multiples of 3, as in Kubernetes
  EXPECT_EQ(canon("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(Quantity::parse("1e30").value(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Quantity::parse("-1e30").value(), std::numeric_limits<std::int64_t>::min());
}

TEST(Quantity, ValueRoundsAwayFromZero) {
  EXPECT_EQ(Quantity::parse("100m").value(), 1);
  EXPECT_EQ(Quantity::parse("100m").milli_value(), 100);
  EXPECT_EQ(Quantity::parse("1.5").value(), 2);
  EXPECT_EQ(Quantity::parse("1.5").milli_value(), 1500);
  EXPECT_EQ(Quantity::parse("-1.5").value(), -2);
  EXPECT_EQ(Quantity::parse("-1.5").milli_value(), -1500);
  EXPECT_EQ(Quantity::parse("1n").milli_value(), 1);
  EXPECT_EQ(Quantity::parse("1n").value(), 1);
  EXPECT_EQ(Quantity::parse("1Gi").value(), 1073741824);
  EXPECT_EQ(Quantity::parse("2k").value(), 2000);
  EXPECT_EQ(Quantity::parse("250m").scaled_value(-9), 250000000);
  EXPECT_EQ(Quantity::parse("0").milli_value(), 0);
}

TEST(Quantity, InvalidInputKeepsKubernetesMessages) {
  const std::string regex =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  EXPECT_EQ(error(""), regex);
  EXPECT_EQ(error("abc"), regex);
  EXPECT_EQ(error("1.2.3"), regex);
  EXPECT_EQ(error("1 Gi"), regex);
  EXPECT_EQ(error("--1"), "unable to parse quantity's suffix");
  EXPECT_EQ(error("1K"), "unable to parse quantity's suffix");
  EXPECT_EQ(error("1mi"), "unable to parse quantity's suffix");
  EXPECT_EQ(error("1e"), "unable to parse quantity's suffix");
  EXPECT_EQ(error("1Gb"), regex);
  try {
    Quantity::parse("lots");
    FAIL();
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 400);
    EXPECT_EQ(e.status().message, regex);
  }
}

TEST(Quantity, RejectsAbsurdPrecision) {
  EXPECT_EQ(error(std::string(40, '7')), "unable to parse numeric part of quantity");
  EXPECT_EQ(error("1." + std::string(30, '3') + "Ki"), "unable to parse numeric part of quantity");
}

TEST(Quantity, Comparison) {
  EXPECT_EQ(Quantity::parse("1Ki"), Quantity::parse("1024"));
  EXPECT_EQ(Quantity::parse("1e3"), Quantity::parse("1k"));
  EXPECT_EQ(Quantity::parse("0.1"), Quantity::parse("100m"));
  EXPECT_LT(Quantity::parse("500m"), Quantity::parse("1"));
  EXPECT_LT(Quantity::parse("-1"), Quantity::parse("0"));
  EXPECT_LT(Quantity::parse("-2"), Quantity::parse("-1"));
  EXPECT_GT(Quantity::parse("1Mi"), Quantity::parse("1M"));
  EXPECT_GT(Quantity::parse("1e100"), Quantity::parse("8Ei"));
  EXPECT_EQ(Quantity::parse("1.5").compare(Quantity::parse("1500m")), 0);
  EXPECT_EQ(Quantity::parse("999m").compare(Quantity::parse("1")), -1);
}

TEST(Quantity, FromJsonAndConstructors) {
  EXPECT_EQ(Quantity::from_json(1).to_string(), "1");
  EXPECT_EQ(Quantity::from_json(0.5).to_string(), "500m");
  EXPECT_EQ(Quantity::from_json(1000.0).to_string(), "1k");
  EXPECT_EQ(Quantity::from_json(" 2Gi ").to_string(), "2Gi");
  EXPECT_TRUE(Quantity::from_json(nullptr).is_zero());
  EXPECT_THROW(Quantity::from_json(true), StatusError);
  EXPECT_EQ(Quantity::from_milli(1500).to_string(), "1500m");
  EXPECT_EQ(Quantity::from_int(1024, Quantity::Format::BinarySI).to_string(), "1Ki");
  EXPECT_EQ(Quantity::from_int(1000).to_string(), "1k");
  EXPECT_EQ(Quantity::from_int(-3).value(), -3);
  EXPECT_EQ(Quantity::parse("3Gi").to_json(), nlohmann::json("3Gi"));
}

}  // namespace
}  // namespace kctl::api
