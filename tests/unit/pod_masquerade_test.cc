// The kubelet's masquerade table as a transaction, without a kernel: what it is made of, the CIDRs it refuses, and
// the kernel's refusal passed on by program_pod_masquerade (through a fake nftables writer).
#include <cerrno>

#include <gtest/gtest.h>

#include "daemons/kubelet/pod_masquerade.h"

using namespace kctl;
using namespace kctl::kubelet;

namespace {

class FakeWriter : public nft::Writer {
 public:
  std::optional<nft::Error> commit(const nft::Transaction& tx) override {
    committed.push_back(tx.operations());
    return answer;
  }
  std::vector<std::vector<std::string>> committed;
  std::optional<nft::Error> answer;
};

}  // namespace

TEST(PodMasqueradeTest, ReplacesTheTableWithOneChainAndOneRule) {
  auto tx = pod_masquerade_transaction("10.244.1.0/24", "10.244.0.0/16");
  EXPECT_EQ(tx.operations(), (std::vector<std::string>{"add table ip kctl-kubelet", "delete table ip kctl-kubelet",
                                                       "add table ip kctl-kubelet",
                                                       "add chain ip kctl-kubelet postrouting",
                                                       "add rule ip kctl-kubelet postrouting"}));
}

TEST(PodMasqueradeTest, RefusesCidrsThatAreNotIpv4Prefixes) {
  for (const char* bad : {"10.244.1.0", "10.244.1.0/33", "fd00::/64", ""}) {
    EXPECT_THROW(pod_masquerade_transaction(bad, "10.244.0.0/16"), std::invalid_argument) << bad;
    EXPECT_THROW(pod_masquerade_transaction("10.244.1.0/24", bad), std::invalid_argument) << bad;
  }
}

TEST(PodMasqueradeTest, ProgrammingCommitsOnceAndPassesTheKernelsRefusalOn) {
  FakeWriter w;
  program_pod_masquerade(w, "10.244.1.0/24", "10.244.0.0/16");
  EXPECT_EQ(w.committed.size(), 1u);
  w.answer = nft::Error{EPERM, "nftables transaction: Operation not permitted"};
  try {
    program_pod_masquerade(w, "10.244.1.0/24", "10.244.0.0/16");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "cannot program pod egress masquerade (table ip kctl-kubelet): nftables transaction: Operation not "
                 "permitted");
  }
}
