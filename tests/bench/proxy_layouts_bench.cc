// Which nftables layout can hold 10,000 Services of 5 endpoints: each candidate built through the project's netlink
// writer (not `nft -f`) in a fresh network namespace and committed as one batch, with the time the kernel took.
// All share kube-proxy's frame (a `services` chain dispatching `ip daddr . meta l4proto . th dport` through a
// verdict map into one chain per service, one chain per endpoint that marks hairpin traffic and DNATs); they differ
// in how the service chain picks its endpoint:
//   anonymous  kube-proxy's `numgen random mod N vmap { 0 : goto ep0, ... }`: one inline map per service
//   shared     one named verdict map for all services, `ip daddr . meta l4proto . th dport . numgen random mod N
//              vmap @service-endpoints`
//   per-service one named verdict map per service, `numgen random mod N vmap @endpoints-<service>`
//   cascade    no map: `numgen random mod N-i 0 goto ep_i` for i < N-1, then `goto ep_N-1` (each rule draws its
//              own number, so endpoint i is taken with 1/(N-i) of what reaches it: 1/N each)
// Usage: kctl-proxy-layouts-bench [SERVICES...] (default 1000 2000 4000 10000); needs root.
#include <sched.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <linux/netfilter/nf_tables.h>

#include "daemons/common/nftables.h"

using namespace kctl;
using nft::Family;

namespace {

// CPU time of this process (user + system): the kernel's share of a commit is spent in our send.
double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

constexpr int kEndpoints = 5;
const char* kTable = "bench";

uint32_t service_ip(int s) { return 0x0a600000u + uint32_t(s) + 1; }                 // 10.96.x.y
uint32_t endpoint_ip(int s, int e) { return 0x0af40000u + uint32_t(s * kEndpoints + e) + 2; }  // 10.244.x.y
std::string svc_chain(int s) { return "service-" + std::to_string(s); }
std::string ep_chain(int s, int e) { return "endpoint-" + std::to_string(s) + "-" + std::to_string(e); }

nft::Rule rule(const std::string& chain) { return nft::Rule(Family::Ipv4, kTable, chain); }

nft::Transaction build(const std::string& layout, int services) {
  nft::Transaction tx;
  tx.add_table(Family::Ipv4, kTable);
  tx.add_chain({Family::Ipv4, kTable, "nat-prerouting", nft::BaseChain{"nat", nft::Hook::Prerouting, -100}});
  tx.add_chain({Family::Ipv4, kTable, "services", std::nullopt});
  nft::Set ips{Family::Ipv4, kTable, "service-ips",
               {nft::DataType::Ipv4Addr, nft::DataType::InetProto, nft::DataType::InetService},
               nft::DataType::Verdict};
  tx.add_set(ips);
  if (layout == "shared")
    tx.add_set({Family::Ipv4, kTable, "service-endpoints",
                {nft::DataType::Ipv4Addr, nft::DataType::InetProto, nft::DataType::InetService, nft::DataType::Mark},
                nft::DataType::Verdict});
  std::vector<nft::Element> dispatch, shared;
  for (int s = 0; s < services; ++s) {
    for (int e = 0; e < kEndpoints; ++e) {
      tx.add_chain({Family::Ipv4, kTable, ep_chain(s, e), std::nullopt});
      tx.add_rule(rule(ep_chain(s, e)).match_ip_saddr_is(endpoint_ip(s, e)).set_mark_or(0x4000));
      tx.add_rule(rule(ep_chain(s, e)).match_l4proto(6).dnat_to(endpoint_ip(s, e), 8080));
    }
    tx.add_chain({Family::Ipv4, kTable, svc_chain(s), std::nullopt});
    if (layout == "anonymous" || layout == "per-service") {
      std::string map = (layout == "anonymous" ? "__map" : "endpoints-") + std::to_string(s);
      nft::Set m{Family::Ipv4, kTable, map, {nft::DataType::Mark}, nft::DataType::Verdict};
      m.anonymous = layout == "anonymous";
      tx.add_set(m);
      std::vector<nft::Element> elements;
      for (int e = 0; e < kEndpoints; ++e)
        elements.push_back({nft::Key().mark(uint32_t(e)), nft::Verdict::Goto, ep_chain(s, e)});
      tx.add_elements(Family::Ipv4, kTable, map, elements);
      tx.add_rule(rule(svc_chain(s)).numgen_random(kEndpoints).vmap(map));
    } else if (layout == "shared") {
      tx.add_rule(rule(svc_chain(s)).load_daddr_l4proto_dport().numgen_random(kEndpoints, nft::reg32(3))
                      .vmap("service-endpoints"));
      for (int e = 0; e < kEndpoints; ++e)
        shared.push_back({nft::Key().ipv4(service_ip(s)).proto(6).port(80).mark(uint32_t(e)), nft::Verdict::Goto,
                          ep_chain(s, e)});
    } else {
      for (int e = 0; e < kEndpoints - 1; ++e)
        tx.add_rule(rule(svc_chain(s))
                        .numgen_random(uint32_t(kEndpoints - e))
                        .cmp(nft::Register::R1, nft::CmpOp::Eq, {0, 0, 0, 0})
                        .verdict(nft::Verdict::Goto, ep_chain(s, e)));
      tx.add_rule(rule(svc_chain(s)).verdict(nft::Verdict::Goto, ep_chain(s, kEndpoints - 1)));
    }
    dispatch.push_back({nft::Key().ipv4(service_ip(s)).proto(6).port(80), nft::Verdict::Goto, svc_chain(s)});
  }
  if (!shared.empty()) tx.add_elements(Family::Ipv4, kTable, "service-endpoints", shared);
  tx.add_elements(Family::Ipv4, kTable, "service-ips", dispatch);
  tx.add_rule(rule("services").load_daddr_l4proto_dport().vmap("service-ips"));
  tx.add_rule(rule("nat-prerouting").verdict(nft::Verdict::Jump, "services"));
  return tx;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 2000, 4000, 10000};
  auto writer = nft::make_netlink_writer();
  std::printf("%-12s %8s %10s %10s %10s %14s\n", "layout", "services", "messages", "build ms", "commit ms",
              "commit cpu ms");
  std::vector<std::string> layouts = {"cascade", "per-service", "shared", "anonymous"};
  if (const char* only = std::getenv("LAYOUTS")) layouts = {only};
  for (const std::string& layout_name : layouts) {
    const char* layout = layout_name.c_str();
    for (int n : sizes) {
      if (unshare(CLONE_NEWNET) != 0) {
        std::perror("unshare (needs root)");
        return 1;
      }
      auto t0 = std::chrono::steady_clock::now();
      nft::Transaction tx = build(layout, n);
      auto t1 = std::chrono::steady_clock::now();
      double c0 = cpu_ms();
      auto err = writer->commit(tx);
      double cpu = cpu_ms() - c0;
      auto t2 = std::chrono::steady_clock::now();
      auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
      std::printf("%-12s %8d %10zu %10.1f %10.1f %14.1f%s%s\n", layout, n, tx.size(), ms(t1 - t0), ms(t2 - t1), cpu,
                  err ? "  FAILED: " : "", err ? err->message.c_str() : "");
      std::fflush(stdout);
      // Quadratic layouts: stop growing them once one size takes over 20 s.
      if (ms(t2 - t1) > 20000) break;
    }
  }
  return 0;
}
