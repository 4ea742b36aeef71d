#include "api/ipv4.h"

#include <gtest/gtest.h>

using namespace kctl::api;

TEST(Ipv4, ParseAndFormat) {
  uint32_t a = 0;
  ASSERT_TRUE(parse_ipv4("10.96.0.1", a));
  EXPECT_EQ(a, 0x0a600001u);
  EXPECT_EQ(format_ipv4(a), "10.96.0.1");
  EXPECT_EQ(format_ipv4(0xffffffffu), "255.255.255.255");
  for (const char* bad : {"", "10.96.0", "10.96.0.256", "10.96.0.1/16", "::1", "10.96.0.1 ", "a.b.c.d"})
    EXPECT_FALSE(parse_ipv4(bad, a)) << bad;
}

TEST(Ipv4, Cidr) {
  uint32_t a = 0;
  int p = -1;
  ASSERT_TRUE(parse_ipv4_cidr("10.244.3.7/16", a, p));
  EXPECT_EQ(a, 0x0af40307u);  // as written: the caller masks
  EXPECT_EQ(p, 16);
  EXPECT_EQ(a & ipv4_mask(p), 0x0af40000u);
  ASSERT_TRUE(parse_ipv4_cidr("0.0.0.0/0", a, p));
  EXPECT_EQ(ipv4_mask(p), 0u);
  EXPECT_EQ(ipv4_mask(32), 0xffffffffu);
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/1a", "10.0.0/8", "/8",
                          "10.0.0.0/0016"})
    EXPECT_FALSE(parse_ipv4_cidr(bad, a, p)) << bad;
}
