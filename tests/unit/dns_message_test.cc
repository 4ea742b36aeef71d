// The DNS wire format of kctl-dns: parsing and writing, compression, truncation, EDNS, and malformed input
// (hand-made and random) that must never crash the parser or the responder.
#include <random>

#include <gtest/gtest.h>

#include "daemons/dns/cluster_zone.h"
#include "daemons/dns/dns_message.h"
#include "daemons/dns/dns_server.h"

using namespace kctl::dns;
using nlohmann::json;

namespace {

std::vector<uint8_t> query(const std::string& name, uint16_t qtype, std::optional<uint16_t> edns_size = {},
                           uint16_t id = 0x1234) {
  MessageWriter w(kMaxMessageSize);
  EXPECT_TRUE(w.add_question({name, qtype, kClassIN}));
  if (edns_size) w.add_edns({*edns_size, 0, 0, false});
  Header h;
  h.id = id;
  h.rd = true;
  return w.finish(h);
}

Message parse(const std::vector<uint8_t>& wire) {
  auto r = parse_message(wire);
  EXPECT_TRUE(r.message) << r.error;
  return r.message ? *r.message : Message{};
}

// A headless Service with `n` ready endpoints, each with a hostname, and one named port.
void add_headless(ClusterZone& zone, const std::string& name, int n) {
  zone.set_service(json::parse(R"({"metadata":{"namespace":"default","name":")" + name +
                               R"("},"spec":{"clusterIP":"None","ports":[{"name":"http","port":80}]}})"));
  json addrs = json::array();
  for (int i = 0; i < n; ++i)
    addrs.push_back({{"ip", "10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)},
                     {"hostname", "host-" + std::to_string(i)}});
  zone.set_endpoints({{"metadata", {{"namespace", "default"}, {"name", name}}},
                      {"subsets", json::array({{{"addresses", addrs}, {"ports", json::array({{{"name", "http"}, {"port", 8080}}})}}})}});
}

}  // namespace

TEST(DnsMessageTest, QueryRoundTripsWithEdns) {
  auto wire = query("Web.Default.svc.cluster.local", type::kA, 1232);
  Message m = parse(wire);
  EXPECT_EQ(m.header.id, 0x1234);
  EXPECT_TRUE(m.header.rd);
  EXPECT_FALSE(m.header.qr);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "Web.Default.svc.cluster.local");  // the case is kept
  EXPECT_EQ(m.questions[0].type, type::kA);
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->udp_size, 1232);
  EXPECT_TRUE(m.additional.empty());  // the OPT record is not a record of the section
}

TEST(DnsMessageTest, RecordsOfEveryTypeRoundTrip) {
  std::vector<Record> records = {
      {"a.example", type::kA, kClassIN, 30, "10.96.0.10"},
      {"a.example", type::kAAAA, kClassIN, 30, "fd00::1"},
      {"c.example", type::kCNAME, kClassIN, 30, "target.example"},
      {"1.0.96.10.in-addr.arpa", type::kPTR, kClassIN, 30, "kubernetes.default.svc.cluster.local"},
      {"t.example", type::kTXT, kClassIN, 30, "\"1.1.0\""},
      {"_http._tcp.web.example", type::kSRV, kClassIN, 30, "0 100 80 web.example"},
      {"example", type::kSOA, kClassIN, 30, "ns.dns.example hostmaster.example 42 7200 1800 86400 30"},
      {"example", type::kNS, kClassIN, 30, "ns.dns.example"},
  };
  MessageWriter w(kMaxMessageSize);
  for (const auto& r : records) ASSERT_TRUE(w.add_record(Section::Answer, r)) << r.data;
  Message m = parse(w.finish({}));
  EXPECT_EQ(m.answers, records);
}

TEST(DnsMessageTest, NamesAreCompressedCaseInsensitivelyButNotSrvTargets) {
  MessageWriter w(kMaxMessageSize);
  w.add_question({"WEB.default.svc.cluster.local", type::kA, kClassIN});
  size_t after_question = w.size();
  // The owner is the question's name in another case: a 2-octet pointer to offset 12.
  ASSERT_TRUE(w.add_record(Section::Answer, {"web.default.svc.cluster.local", type::kA, kClassIN, 30, "10.96.0.5"}));
  EXPECT_EQ(w.size() - after_question, 2u + 10u + 4u);
  auto wire = w.finish({});
  EXPECT_EQ(wire[after_question], 0xC0);
  EXPECT_EQ(wire[after_question + 1], 12);
  // An SRV target is written in full (RFC 2782), though its suffix was written before.
  size_t before_srv = wire.size();
  MessageWriter w2(kMaxMessageSize);
  w2.add_question({"web.default.svc.cluster.local", type::kSRV, kClassIN});
  before_srv = w2.size();
  ASSERT_TRUE(w2.add_record(Section::Answer, {"web.default.svc.cluster.local", type::kSRV, kClassIN, 30,
                                              "0 100 80 web.default.svc.cluster.local"}));
  EXPECT_EQ(w2.size() - before_srv, 2u + 10u + 6u + 31u);
  // ... and a later name may point into it.
  size_t before_a = w2.size();
  ASSERT_TRUE(w2.add_record(Section::Additional, {"web.default.svc.cluster.local", type::kA, kClassIN, 30, "10.0.0.1"}));
  EXPECT_EQ(w2.size() - before_a, 2u + 10u + 4u);
  Message m = parse(w2.finish({}));
  EXPECT_EQ(m.answers[0].data, "0 100 80 web.default.svc.cluster.local");
  EXPECT_EQ(m.additional[0].name, "web.default.svc.cluster.local");
}

TEST(DnsMessageTest, WriterRefusesWhatDoesNotFitAndKeepsTheMessageValid) {
  MessageWriter w(64);
  ASSERT_TRUE(w.add_question({"x.example", type::kA, kClassIN}));
  int added = 0;
  while (w.add_record(Section::Answer, {"host-" + std::to_string(added) + ".x.example", type::kA, kClassIN, 30, "10.0.0.1"}))
    ++added;
  EXPECT_GT(added, 0);
  auto wire = w.finish({});
  EXPECT_LE(wire.size(), 64u);
  EXPECT_EQ(parse(wire).answers.size(), size_t(added));
}

TEST(DnsMessageTest, WriterRefusesBadNamesAndData) {
  MessageWriter w(kMaxMessageSize);
  EXPECT_FALSE(w.add_record(Section::Answer, {std::string(64, 'a') + ".example", type::kA, kClassIN, 30, "10.0.0.1"}));
  EXPECT_FALSE(w.add_record(Section::Answer, {"a..example", type::kA, kClassIN, 30, "10.0.0.1"}));
  EXPECT_FALSE(w.add_record(Section::Answer, {"a.example", type::kA, kClassIN, 30, "not-an-ip"}));
  EXPECT_FALSE(w.add_record(Section::Answer, {"a.example", type::kSRV, kClassIN, 30, "0 0 99999 x"}));
  EXPECT_EQ(w.size(), 12u);
  EXPECT_TRUE(valid_name("cluster.local"));
  EXPECT_FALSE(valid_name(std::string(64, 'a')));
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcde.";
  EXPECT_FALSE(valid_name(long_name));  // 300 octets
}

TEST(DnsMessageTest, MalformedMessagesAreRefusedNotTrusted) {
  auto q = query("a.example", type::kA);
  // Truncated anywhere: an error, never a crash.
  for (size_t n = 0; n < q.size(); ++n) {
    auto r = parse_message(std::span(q.data(), n));
    EXPECT_FALSE(r.message) << n;
    EXPECT_EQ(bool(r.header), n >= 12) << n;
  }
  // A pointer to itself, and one pointing forward.
  std::vector<uint8_t> loop = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  EXPECT_FALSE(parse_message(loop).message);
  std::vector<uint8_t> forward = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 1, 'a', 0, 0, 1, 0, 1};
  EXPECT_FALSE(parse_message(forward).message);
  // A label length with the reserved bits (64), and counts that promise more than the message holds.
  std::vector<uint8_t> label64 = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 'a', 0, 0, 1, 0, 1};
  EXPECT_FALSE(parse_message(label64).message);
  std::vector<uint8_t> counts = {0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  EXPECT_FALSE(parse_message(counts).message);
  // A name longer than 255 octets, made of pointers to a 60-octet label chain.
  std::vector<uint8_t> longname = {0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    longname.push_back(60);
    longname.insert(longname.end(), 60, 'x');
  }
  longname.push_back(0);
  longname.insert(longname.end(), {0, 1, 0, 1});
  longname.push_back(60);
  longname.insert(longname.end(), 60, 'y');
  longname.insert(longname.end(), {0xC0, 12, 0, 1, 0, 1});  // 61 + 245 octets
  EXPECT_FALSE(parse_message(longname).message);
}

TEST(DnsMessageTest, RespondAnswersFromTheZone) {
  ClusterZone zone;
  zone.set_service(json::parse(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.5"}})"));
  auto r = respond(zone, query("web.default.svc.cluster.local", type::kA, {}, 7), true, false);
  ASSERT_EQ(r.action, Response::Action::Reply);
  Message m = parse(r.reply);
  EXPECT_EQ(m.header.id, 7);
  EXPECT_TRUE(m.header.qr);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.header.rd);
  EXPECT_FALSE(m.header.ra);  // nothing to recurse to
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].data, "10.96.0.5");
  EXPECT_EQ(m.answers[0].ttl, 30u);
  EXPECT_FALSE(m.edns);
}

TEST(DnsMessageTest, RespondRefusesForwardsAndRejects) {
  ClusterZone zone;
  // Outside the cluster domain: forwarded when there are upstreams, REFUSED when not.
  EXPECT_EQ(respond(zone, query("debian.org", type::kA), true, true).action, Response::Action::Forward);
  auto refused = respond(zone, query("debian.org", type::kA), true, false);
  EXPECT_EQ(parse(refused.reply).header.rcode, rcode::kRefused);
  // A response is never answered.
  auto q = query("x.cluster.local", type::kA);
  q[2] |= 0x80;
  EXPECT_EQ(respond(zone, q, true, true).action, Response::Action::Drop);
  // No question: FORMERR; opcode STATUS (2): NOTIMP.
  MessageWriter empty(kMaxMessageSize);
  EXPECT_EQ(parse(respond(zone, empty.finish({}), true, true).reply).header.rcode, rcode::kFormErr);
  q = query("x.cluster.local", type::kA);
  q[2] |= 2 << 3;
  EXPECT_EQ(parse(respond(zone, q, true, true).reply).header.rcode, rcode::kNotImp);
  // EDNS version 1: BADVERS (16: 0 in the header, 1 in the OPT record).
  q = query("x.cluster.local", type::kA, 1232);
  q[q.size() - 5] = 1;  // the version octet of the OPT record's TTL
  Message bad = parse(respond(zone, q, true, true).reply);
  EXPECT_EQ(bad.header.rcode, 0);
  ASSERT_TRUE(bad.edns);
  EXPECT_EQ(bad.edns->extended_rcode, 1);
  // Zone transfers are refused.
  EXPECT_EQ(parse(respond(zone, query("cluster.local", 252), false, true).reply).header.rcode, rcode::kRefused);
  // Garbage: FORMERR with the id when there is a header, nothing when there is not.
  std::vector<uint8_t> junk = {0xAB, 0xCD, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xFF};
  Message formerr = parse(respond(zone, junk, true, true).reply);
  EXPECT_EQ(formerr.header.id, 0xABCD);
  EXPECT_EQ(formerr.header.rcode, rcode::kFormErr);
  EXPECT_EQ(respond(zone, std::vector<uint8_t>{1, 2, 3}, true, true).action, Response::Action::Drop);
}

TEST(DnsMessageTest, LargeAnswersAreTruncatedOverUdpOnly) {
  ClusterZone zone;
  add_headless(zone, "many", 100);  // 100 A records: 1,600+ octets
  // Without EDNS: at most 512 octets, whole records, TC set.
  Message classic = parse(respond(zone, query("many.default.svc.cluster.local", type::kA), true, false).reply);
  EXPECT_TRUE(classic.header.tc);
  EXPECT_GT(classic.answers.size(), 0u);
  EXPECT_LT(classic.answers.size(), 100u);
  EXPECT_LE(respond(zone, query("many.default.svc.cluster.local", type::kA), true, false).reply.size(), 512u);
  // With EDNS asking for 4096: capped at 1232, with our OPT record.
  auto edns_reply = respond(zone, query("many.default.svc.cluster.local", type::kA, 4096), true, false).reply;
  EXPECT_LE(edns_reply.size(), kMaxUdpAnswerSize);
  Message edns = parse(edns_reply);
  EXPECT_TRUE(edns.header.tc);
  EXPECT_GT(edns.answers.size(), classic.answers.size());
  ASSERT_TRUE(edns.edns);
  EXPECT_EQ(edns.edns->udp_size, kMaxUdpAnswerSize);
  // Over TCP: everything.
  Message tcp = parse(respond(zone, query("many.default.svc.cluster.local", type::kA), false, false).reply);
  EXPECT_FALSE(tcp.header.tc);
  EXPECT_EQ(tcp.answers.size(), 100u);
  // A small answer is not truncated.
  add_headless(zone, "few", 3);
  Message few = parse(respond(zone, query("few.default.svc.cluster.local", type::kA), true, false).reply);
  EXPECT_FALSE(few.header.tc);
  EXPECT_EQ(few.answers.size(), 3u);
}

TEST(DnsMessageTest, ErrorReplyKeepsTheIdAndQuestion) {
  Message m = parse(error_reply(query("debian.org", type::kA, {}, 99), rcode::kServFail));
  EXPECT_EQ(m.header.id, 99);
  EXPECT_EQ(m.header.rcode, rcode::kServFail);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "debian.org");
  EXPECT_TRUE(error_reply(std::vector<uint8_t>{1}, rcode::kServFail).empty());
}

TEST(DnsMessageTest, UpstreamsParse) {
  Upstream u;
  ASSERT_TRUE(parse_upstream("10.0.0.2", u));
  EXPECT_EQ(u.text, "10.0.0.2:53");
  ASSERT_TRUE(parse_upstream("10.0.0.2:5353", u));
  EXPECT_EQ(u.text, "10.0.0.2:5353");
  ASSERT_TRUE(parse_upstream("fd00::1", u));
  EXPECT_EQ(u.text, "[fd00::1]:53");
  ASSERT_TRUE(parse_upstream("[fd00::1]:5353", u));
  EXPECT_EQ(u.text, "[fd00::1]:5353");
  EXPECT_FALSE(parse_upstream("dns.example", u));
  EXPECT_FALSE(parse_upstream("10.0.0.2:0", u));
  EXPECT_FALSE(parse_upstream("10.0.0.2:70000", u));
}

// Fuzz-style: random messages, and valid ones with random octets changed, through the parser and the responder.
// Neither may crash (the sanitizer-free build still catches out-of-bounds reads as crashes often enough, and
// ASan builds catch them all); every reply must itself parse and fit its limit.
TEST(DnsMessageTest, RandomAndMutatedInputNeverCrashes) {
  ClusterZone zone;
  add_headless(zone, "many", 60);
  zone.set_service(json::parse(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.5",
      "ports":[{"name":"http","port":80}]}})"));
  std::mt19937 rng(20240607);
  std::vector<std::vector<uint8_t>> seeds = {query("many.default.svc.cluster.local", type::kA, 1232),
                                             query("_http._tcp.web.default.svc.cluster.local", type::kSRV),
                                             query("nothing.cluster.local", type::kAAAA, 512)};
  int replies = 0;
  for (int i = 0; i < 50000; ++i) {
    std::vector<uint8_t> msg;
    if (i % 2 == 0) {
      msg.resize(rng() % 80);
      for (auto& b : msg) b = uint8_t(rng());
      if (msg.size() >= 3 && i % 4 == 0) msg[2] &= 0x7F;  // a query, mostly
    } else {
      msg = seeds[size_t(i) % seeds.size()];
      for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k) msg[rng() % msg.size()] = uint8_t(rng());
      if (rng() % 4 == 0) msg.resize(rng() % msg.size());
    }
    parse_message(msg);
    bool udp = i % 3 != 0;
    Response r = respond(zone, msg, udp, i % 5 != 0);
    if (r.action != Response::Action::Reply) continue;
    ++replies;
    ASSERT_TRUE(parse_message(r.reply).message) << "reply " << i << " does not parse";
    if (udp) {
      ASSERT_LE(r.reply.size(), kMaxUdpAnswerSize);
    }
  }
  EXPECT_GT(replies, 1000);
}
