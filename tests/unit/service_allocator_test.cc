// ClusterIP allocation: random addresses stay out of the static band while the rest of the range has room, so the
// kube-dns Service can always have the tenth address it asks for.
#include <set>

#include <gtest/gtest.h>

#include "api/status.h"
#include "daemons/apiserver/service_allocator.h"

using kctl::apiserver::ServiceAllocator;
using nlohmann::json;

namespace {
json service(const std::string& ip = "") {
  json s = {{"spec", {{"ports", json::array({{{"port", 53}}})}}}};
  if (!ip.empty()) s["spec"]["clusterIP"] = ip;
  return s;
}
}  // namespace

TEST(ServiceAllocatorTest, StaticBandAsKubernetesSizesIt) {
  EXPECT_EQ(ServiceAllocator("10.96.0.0/12", 30000, 32767).static_band(), 256u);
  EXPECT_EQ(ServiceAllocator("10.96.0.0/24", 30000, 32767).static_band(), 16u);
  EXPECT_EQ(ServiceAllocator("10.96.0.0/20", 30000, 32767).static_band(), 256u);
  EXPECT_EQ(ServiceAllocator("10.96.0.0/21", 30000, 32767).static_band(), 128u);
}

TEST(ServiceAllocatorTest, RandomAddressesAvoidTheStaticBandUntilTheRestIsFull) {
  ServiceAllocator a("10.96.0.0/24", 30000, 32767);  // .1-.15 static, .16-.254 dynamic
  std::set<std::string> got;
  for (int i = 16; i <= 254; ++i) {
    json s = service();
    a.allocate(s);
    std::string ip = s["spec"]["clusterIP"];
    int last = std::stoi(ip.substr(ip.rfind('.') + 1));
    EXPECT_GE(last, 16) << ip;
    got.insert(ip);
  }
  EXPECT_EQ(got.size(), 239u);
  // The dynamic band is full; the tenth address can still be had by asking for it ...
  json dns = service("10.96.0.10");
  a.allocate(dns);
  EXPECT_EQ(dns["spec"]["clusterIP"], "10.96.0.10");
  // ... and random allocation now falls back to the static band, then runs out.
  for (int i = 0; i < 14; ++i) {
    json s = service();
    a.allocate(s);
    EXPECT_NE(s["spec"]["clusterIP"], "10.96.0.10");
  }
  json full = service();
  EXPECT_THROW(a.allocate(full), kctl::api::StatusError);
}
