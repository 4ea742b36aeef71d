// The kube-dns Service, Endpoints and EndpointSlice kctl-dns registers itself with, and the tenth address of a
// service range that its ClusterIP defaults to.
#include <gtest/gtest.h>

#include "daemons/dns/service_registration.h"

using namespace kctl::dns;
using nlohmann::json;

TEST(ServiceRegistrationTest, TenthAddressOfTheServiceRange) {
  EXPECT_EQ(tenth_address("10.96.0.0/12"), "10.96.0.10");
  EXPECT_EQ(tenth_address("10.100.7.0/24"), "10.100.7.10");
  EXPECT_EQ(tenth_address("10.96.3.4/12"), "10.96.0.10");  // host bits set: the range is what counts
  EXPECT_EQ(tenth_address("172.16.0.0/28"), "172.16.0.10");
  EXPECT_FALSE(tenth_address("10.96.0.0/29"));  // eight addresses have no tenth
  EXPECT_FALSE(tenth_address("10.96.0.0"));
  EXPECT_FALSE(tenth_address("10.96.0.0/12x"));
  EXPECT_FALSE(tenth_address("fd00::/108"));
}

TEST(ServiceRegistrationTest, ObjectsAsKubernetesShapesThem) {
  ServiceRegistrationOptions o{"10.96.0.10", "10.250.0.1", 5353};
  json svc = desired_dns_service(o);
  EXPECT_EQ(svc["metadata"]["namespace"], "kube-system");
  EXPECT_EQ(svc["metadata"]["labels"]["k8s-app"], "kube-dns");
  EXPECT_FALSE(svc["spec"].contains("selector"));
  EXPECT_EQ(svc["spec"]["clusterIP"], "10.96.0.10");
  EXPECT_EQ(svc["spec"]["ports"], json::parse(R"([{"name":"dns","protocol":"UDP","port":53,"targetPort":5353},
                                                 {"name":"dns-tcp","protocol":"TCP","port":53,"targetPort":5353}])"));
  json ep = desired_dns_endpoints(o);
  EXPECT_EQ(ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"], "true");
  EXPECT_EQ(ep["subsets"][0]["addresses"][0]["ip"], "10.250.0.1");
  EXPECT_EQ(ep["subsets"][0]["ports"][1], json::parse(R"({"name":"dns-tcp","protocol":"TCP","port":5353})"));
  json slice = desired_dns_slice(o, "uid-1");
  EXPECT_EQ(slice["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_EQ(slice["metadata"]["labels"]["kubernetes.io/service-name"], "kube-dns");
  EXPECT_EQ(slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "kctl-dns");
  EXPECT_EQ(slice["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ(slice["endpoints"][0]["addresses"], json::array({"10.250.0.1"}));
  EXPECT_EQ(slice["endpoints"][0]["conditions"]["ready"], true);
  EXPECT_EQ(slice["ports"][0], json::parse(R"({"name":"dns","protocol":"UDP","port":5353})"));
}
