// What kube's built-in signers accept (signer_problem), on requests made by api/pki as kubelets make them.
#include "daemons/controller-manager/certificate_controllers.h"

#include <gtest/gtest.h>

using namespace kctl;
using namespace kctl::controllers;

namespace {
pki::CertificateRequest request(const pki::Subject& s, const pki::AltNames& names = {}) {
  return pki::parse_certificate_request(pki::make_certificate_request(s, names).csr_pem);
}
const pki::Subject kNode = {"system:node:w1", {"system:nodes"}};
}  // namespace

TEST(SignerProblem, KubeletClientRequestsAreNodesWithClientUsagesOnly) {
  EXPECT_EQ(signer_problem(kKubeletClientSigner, request(kNode), {"digital signature", "client auth"}), "");
  EXPECT_EQ(signer_problem(kKubeletClientSigner, request(kNode), {"key encipherment", "digital signature", "client auth"}), "");
  EXPECT_EQ(signer_problem(kKubeletClientSigner, request({"system:node:w1", {"system:masters"}}), {"digital signature", "client auth"}),
            "subject organization is not system:nodes");
  EXPECT_EQ(signer_problem(kKubeletClientSigner, request({"admin", {"system:nodes"}}), {"digital signature", "client auth"}),
            "subject common name does not begin with system:node:");
  EXPECT_EQ(signer_problem(kKubeletClientSigner, request(kNode, {{"w1"}, {}}), {"digital signature", "client auth"}),
            "DNS subjectAltNames are not allowed");
  EXPECT_EQ(signer_problem(kKubeletClientSigner, request(kNode), {"digital signature", "client auth", "server auth"}),
            "usages did not match [client auth digital signature] or [client auth digital signature key encipherment]");
}

TEST(SignerProblem, KubeletServingNeedsANameAndServerUsage) {
  EXPECT_EQ(signer_problem(kKubeletServingSigner, request(kNode, {{"w1"}, {"10.0.0.7"}}), {"digital signature", "server auth"}), "");
  EXPECT_EQ(signer_problem(kKubeletServingSigner, request(kNode), {"digital signature", "server auth"}),
            "DNS or IP subjectAltName is required");
  EXPECT_NE(signer_problem(kKubeletServingSigner, request(kNode, {{"w1"}, {}}), {"digital signature", "client auth"}), "");
}

TEST(SignerProblem, ApiserverClientsNeedClientAuthAndNothingForServers) {
  EXPECT_EQ(signer_problem(kApiserverClientSigner, request({"jane", {"dev"}}), {"digital signature", "client auth"}), "");
  EXPECT_EQ(signer_problem(kApiserverClientSigner, request({"jane", {}}), {"digital signature"}), "usages must include client auth");
  EXPECT_EQ(signer_problem(kApiserverClientSigner, request({"jane", {}}), {"client auth", "server auth"}),
            "invalid usage for client certificate: server auth");
  EXPECT_EQ(signer_problem("example.com/other", request({"jane", {}}), {"client auth"}), "unknown signer example.com/other");
}
