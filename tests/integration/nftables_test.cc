// The nftables writer against the kernel, in a network namespace of the test's own: a table, a NAT chain and rules
// committed as one batch and read back with nft; a batch replacing a table converges; a refused batch changes
// nothing and names the operation the kernel refused; large batches are acknowledged in full.
#include <sched.h>

#include <cerrno>

#include <gtest/gtest.h>
#include <linux/netfilter/nf_tables.h>

#include "daemons/common/nftables.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using nlohmann::json;

namespace {

const char* kTable = "kctl-test";

class NftablesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root"; }
  void TearDown() override { run({"nft", "delete", "table", "ip", kTable}); }

  // The rules of the table as nft's JSON shows them.
  static std::vector<json> rules(const std::string& table = kTable) {
    auto r = run({"nft", "-j", "list", "table", "ip", table});
    std::vector<json> out;
    if (r.rc != 0) return out;
    json all = parse_json(r.out);
    for (const auto& item : all["nftables"])
      if (item.contains("rule")) out.push_back(item["rule"]);
    return out;
  }
  static std::string listing(const std::string& table = kTable) {
    return run({"nft", "list", "table", "ip", table}).out;
  }

  static nft::Transaction masquerade_table(const std::string& pod_cidr, const std::string& cluster_cidr) {
    nft::Transaction tx;
    tx.replace_table(nft::Family::Ipv4, kTable);
    tx.add_chain({nft::Family::Ipv4, kTable, "postrouting",
                  nft::BaseChain{"nat", nft::Hook::Postrouting, nft::priority::kSrcNat}});
    tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "postrouting")
                    .match_ip_saddr(*nft::Ipv4Prefix::parse(pod_cidr))
                    .match_ip_daddr(*nft::Ipv4Prefix::parse(cluster_cidr), true)
                    .counter()
                    .masquerade()
                    .comment("pod egress"));
    return tx;
  }

  nft::WriterPtr writer_ = nft::make_netlink_writer();
};

}  // namespace

TEST(Ipv4PrefixTest, ParsesMasksAndContains) {
  auto p = nft::Ipv4Prefix::parse("10.244.1.7/16");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "10.244.0.0/16");
  EXPECT_EQ(nft::Ipv4Prefix::parse("192.168.1.1")->to_string(), "192.168.1.1/32");
  EXPECT_EQ(nft::Ipv4Prefix::parse("0.0.0.0/0")->to_string(), "0.0.0.0/0");
  for (const char* bad : {"", "10.244.0.0/33", "10.244.0.0/", "10.244.0/16", "10.244.0.0/1x", "fd00::/8"})
    EXPECT_FALSE(nft::Ipv4Prefix::parse(bad)) << bad;
  EXPECT_TRUE(p->contains(*nft::Ipv4Prefix::parse("10.244.3.0/24")));
  EXPECT_FALSE(p->contains(*nft::Ipv4Prefix::parse("10.245.3.0/24")));
  EXPECT_FALSE(nft::Ipv4Prefix::parse("10.244.3.0/24")->contains(*p));
  EXPECT_TRUE(nft::Ipv4Prefix::parse("0.0.0.0/0")->contains(*p));
}

TEST_F(NftablesTest, CommitsATableWithANatChainAndARuleAsNftWritesThem) {
  auto err = writer_->commit(masquerade_table("10.244.1.0/24", "10.244.0.0/16"));
  ASSERT_FALSE(err) << err->message;
  std::string text = listing();
  EXPECT_NE(text.find("type nat hook postrouting priority srcnat; policy accept;"), std::string::npos) << text;
  EXPECT_NE(text.find("ip saddr 10.244.1.0/24 ip daddr != 10.244.0.0/16 counter packets 0 bytes 0 masquerade "
                      "comment \"pod egress\""),
            std::string::npos)
      << text;
  EXPECT_EQ(rules().size(), 1u);
}

TEST_F(NftablesTest, ReplacingATableConvergesWhateverItHeld) {
  ASSERT_FALSE(writer_->commit(masquerade_table("10.244.1.0/24", "10.244.0.0/16")));
  // Someone (or an older version of us) added a chain and a rule by hand.
  ASSERT_EQ(run({"nft", "add", "chain", "ip", kTable, "stray"}).rc, 0);
  ASSERT_EQ(run({"nft", "add", "rule", "ip", kTable, "postrouting", "counter"}).rc, 0);
  ASSERT_EQ(rules().size(), 2u);
  auto err = writer_->commit(masquerade_table("10.244.2.0/24", "10.0.0.0/8"));
  ASSERT_FALSE(err) << err->message;
  auto now = rules();
  ASSERT_EQ(now.size(), 1u) << listing();
  std::string text = listing();
  EXPECT_NE(text.find("ip saddr 10.244.2.0/24 ip daddr != 10.0.0.0/8"), std::string::npos) << text;
  EXPECT_EQ(text.find("stray"), std::string::npos) << text;
}

TEST_F(NftablesTest, ARefusedTransactionChangesNothingAndNamesTheOperation) {
  ASSERT_FALSE(writer_->commit(masquerade_table("10.244.1.0/24", "10.244.0.0/16")));
  std::string before = listing();
  nft::Transaction tx = masquerade_table("10.244.9.0/24", "10.244.0.0/16");
  tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "missing").counter());
  auto err = writer_->commit(tx);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, ENOENT);
  EXPECT_EQ(err->message.rfind("add rule ip kctl-test missing: No such file or directory", 0), 0u) << err->message;
  EXPECT_EQ(listing(), before) << "the first operations of a refused batch took effect";

  // Deleting a table that is not there.
  nft::Transaction del;
  del.delete_table(nft::Family::Ipv4, "kctl-test-absent");
  err = writer_->commit(del);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message.rfind("delete table ip kctl-test-absent: No such file or directory", 0), 0u) << err->message;

  // The writer keeps its socket: after refusals, its next commits take effect and are answered as their own.
  ASSERT_FALSE(writer_->commit(masquerade_table("10.244.9.0/24", "10.244.0.0/16")));
  EXPECT_NE(listing().find("10.244.9.0/24"), std::string::npos) << listing();
  nft::Transaction flush;
  flush.flush_chain(nft::Family::Ipv4, kTable, "missing-too");
  err = writer_->commit(flush);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message.rfind("flush chain ip kctl-test missing-too", 0), 0u) << err->message;
}

TEST_F(NftablesTest, RegularChainsJumpsAndDeletion) {
  nft::Transaction tx;
  tx.add_table(nft::Family::Ipv4, kTable);
  tx.add_chain({nft::Family::Ipv4, kTable, "forward",
                nft::BaseChain{"filter", nft::Hook::Forward, nft::priority::kFilter}});
  tx.add_chain({nft::Family::Ipv4, kTable, "services", std::nullopt});
  tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "forward")
                  .match_ip_daddr(*nft::Ipv4Prefix::parse("10.96.0.0/12"))
                  .verdict(nft::Verdict::Jump, "services"));
  tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "services")
                  .meta(NFT_META_L4PROTO)
                  .cmp(nft::Register::R1, nft::CmpOp::Eq, {6})
                  .verdict(nft::Verdict::Accept));
  auto err = writer_->commit(tx);
  ASSERT_FALSE(err) << err->message;
  std::string text = listing();
  EXPECT_NE(text.find("ip daddr 10.96.0.0/12 jump services"), std::string::npos) << text;
  EXPECT_NE(text.find("meta l4proto tcp accept"), std::string::npos) << text;

  nft::Transaction flush;
  flush.flush_chain(nft::Family::Ipv4, kTable, "services");
  ASSERT_FALSE(writer_->commit(flush));
  EXPECT_EQ(rules().size(), 1u) << listing();

  nft::Transaction del;
  del.delete_table(nft::Family::Ipv4, kTable);
  ASSERT_FALSE(writer_->commit(del));
  EXPECT_NE(run({"nft", "list", "table", "ip", kTable}).rc, 0);
}

// The proxy's pick chains: a data map declared by typeof (its key ends in numgen's plain integer, which nft's
// `type` cannot name), filled with address . port values, and a DNAT through it; nft lists both as it would write
// them, and loads that listing back.
TEST_F(NftablesTest, ATypeofDataMapAndADnatThroughIt) {
  nft::Transaction tx;
  tx.replace_table(nft::Family::Ipv4, kTable);
  nft::Set m{nft::Family::Ipv4, kTable, "endpoints", {}, std::nullopt};
  m.key_typeof = {nft::Field::IpDaddr, nft::Field::L4Proto, nft::Field::ThDport, nft::Field::NumgenRandom};
  m.data_typeof = {nft::Field::IpDaddr, nft::Field::TcpDport};
  tx.add_set(m);
  tx.add_set({nft::Family::Ipv4, kTable, "pairs", {nft::DataType::Ipv4Addr, nft::DataType::Ipv4Addr}, std::nullopt});
  tx.add_elements(nft::Family::Ipv4, kTable, "endpoints",
                  {{nft::Key().ipv4(0x0a600001).proto(6).port(80).number(1), nft::Verdict::Continue, "",
                    nft::Key().ipv4(0x0af40105).port(8080).bytes()}});
  tx.add_elements(nft::Family::Ipv4, kTable, "pairs", {{nft::Key().ipv4(0x0af40105).ipv4(0x0af40105)}});
  tx.add_chain({nft::Family::Ipv4, kTable, "pick", std::nullopt});
  tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "pick")
                  .load_daddr_l4proto_dport()
                  .numgen_random(2, nft::reg32(3))
                  .map("endpoints", nft::Register::R1, nft::Register::R1)
                  .dnat(nft::Register::R1, nft::reg32(1)));
  tx.add_chain({nft::Family::Ipv4, kTable, "post", std::nullopt});
  tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "post")
                  .match_ct_status_dnat()
                  .load_ip_saddr_daddr()
                  .lookup("pairs")
                  .verdict(nft::Verdict::Accept));
  auto err = writer_->commit(tx);
  ASSERT_FALSE(err) << err->message;
  std::string text = listing();
  EXPECT_NE(text.find("typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . tcp dport"),
            std::string::npos) << text;
  EXPECT_NE(text.find("10.96.0.1 . tcp . 80 . 1 : 10.244.1.5 . 8080"), std::string::npos) << text;
  EXPECT_NE(text.find("dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints"),
            std::string::npos) << text;
  EXPECT_NE(text.find("ct status dnat ip saddr . ip daddr @pairs accept"), std::string::npos) << text;
  // nft loads its own listing of it (into a fresh table of another name).
  std::string copy = text;
  copy.replace(copy.find(kTable), std::string(kTable).size(), "kctl-test-copy");
  auto r = run({"nft", "-f", "-"}, copy);
  EXPECT_EQ(r.rc, 0) << r.err << copy;
  run({"nft", "delete", "table", "ip", "kctl-test-copy"});
}

// The proxy commits thousands of rules in one sync: every one of them is acknowledged, none is lost.
TEST_F(NftablesTest, ALargeBatchIsCommittedInFull) {
  constexpr int kRules = 5000;
  nft::Transaction tx;
  tx.replace_table(nft::Family::Ipv4, kTable);
  tx.add_chain({nft::Family::Ipv4, kTable, "many", std::nullopt});
  for (int i = 0; i < kRules; ++i)
    tx.add_rule(nft::Rule(nft::Family::Ipv4, kTable, "many")
                    .match_ip_daddr(nft::Ipv4Prefix{0x0a600000u + uint32_t(i), 32})
                    .counter()
                    .verdict(nft::Verdict::Accept));
  auto t0 = std::chrono::steady_clock::now();
  auto err = writer_->commit(tx);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(rules().size(), size_t(kRules));
  std::cout << kRules << " rules committed in one batch in " << took.count() << " ms\n";
}

TEST(NftablesRuleTest, LimitsAreEnforcedBeforeTheKernelSeesAnything) {
  nft::Rule r(nft::Family::Ipv4, kTable, "c");
  EXPECT_THROW(r.comment(std::string(200, 'x')), std::length_error);
  EXPECT_THROW(r.cmp(nft::Register::R1, nft::CmpOp::Eq, {}), std::length_error);
  EXPECT_THROW(r.verdict(nft::Verdict::Jump), std::invalid_argument);
  for (int i = 0; i < 64; ++i) r.counter();
  EXPECT_THROW(r.counter(), std::length_error);
}
