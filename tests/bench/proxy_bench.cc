// kctl-proxy's sync times against the kernel, each in a fresh network namespace: a full sync of N Services with 5
// endpoints each (from Service and EndpointSlice objects as the informers hold them to the kernel's answer), then a
// one-endpoint change (one EndpointSlice's endpoint replaced) through a partial sync; and, as the comparison, the
// same table loaded with `nft -f` (the text `nft list table ip kctl` prints of what the proxy wrote, so it is the
// same ruleset) and the same one-endpoint change as an `nft -f` script.
// Usage (tests/bench/run-proxy-bench runs it): kctl-proxy-bench [SERVICES...] (default 1000 10000); needs root and nft.
// LOCAL_SHARE=1 puts every endpoint on this node (hairpin rules in every endpoint chain: the worst case); the
// default spreads them over 100 nodes as a cluster would.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "daemons/proxy/proxier.h"

using namespace kctl;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kEndpoints = 5;
constexpr int kNodes = 100;
const char* kNode = "node-0";

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string ip(uint32_t a) { return proxy::format_ipv4(a); }

json service(int i) {
  return {{"metadata", {{"namespace", "bench"}, {"name", "svc-" + std::to_string(i)}}},
          {"spec",
           {{"type", "ClusterIP"},
            {"clusterIP", ip(0x0a600000u + uint32_t(i) + 10)},
            {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}};
}

json slice(int i, bool all_local, int generation) {
  json endpoints = json::array();
  for (int e = 0; e < kEndpoints; ++e) {
    // generation shifts the first endpoint: the one-endpoint change.
    uint32_t addr = 0x0af40000u + uint32_t(i * kEndpoints + e) + 2 + (e == 0 ? uint32_t(generation) * 0x00100000u : 0);
    int node = all_local ? 0 : (i * kEndpoints + e) % kNodes;
    endpoints.push_back({{"addresses", {ip(addr)}},
                         {"conditions", {{"ready", true}}},
                         {"nodeName", "node-" + std::to_string(node)}});
  }
  return {{"metadata",
           {{"namespace", "bench"},
            {"name", "svc-" + std::to_string(i) + "-abcde"},
            {"labels", {{proxy::kServiceNameLabel, "svc-" + std::to_string(i)}}}}},
          {"addressType", "IPv4"},
          {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
          {"endpoints", endpoints}};
}

// The netlink writer, timing its commits (the kernel's share of a sync: sending the batch and its answer).
class TimedWriter final : public nft::Writer {
 public:
  explicit TimedWriter(nft::Writer& inner) : inner_(inner) {}
  std::optional<nft::Error> commit(const nft::Transaction& tx) override {
    auto t0 = Clock::now();
    auto err = inner_.commit(tx);
    last_commit_ms = ms_since(t0);
    return err;
  }
  std::optional<nft::TableContents> list_table(nft::Family family, const std::string& table,
                                               nft::Error* error) override {
    return inner_.list_table(family, table, error);
  }
  double last_commit_ms = 0;

 private:
  nft::Writer& inner_;
};

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// Runs `nft -f file` in a new network namespace holding `preload` first; returns the milliseconds of the timed load.
double nft_load(const std::string& preload, const std::string& file) {
  std::string cmd = "unshare -n sh -c '" + (preload.empty() ? "" : "nft -f " + preload + " && ") +
                    "s=$(date +%s%N); nft -f " + file + " || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000 ))'";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  char buf[64] = {};
  if (!p || !fgets(buf, sizeof buf, p.get())) return -1;
  return std::atof(buf) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000};
  bool all_local = std::getenv("LOCAL_SHARE") && std::string(std::getenv("LOCAL_SHARE")) == "1";
  std::string dir = "/tmp/kctl-proxy-bench-" + std::to_string(getpid());
  sh("mkdir -p " + dir);
  std::printf("endpoints %s\n", all_local ? "all on this node (hairpin rules everywhere)"
                                           : "spread over 100 nodes (1 in 100 on this node)");
  std::printf("%8s %10s %14s %12s %14s %14s %12s %12s %14s\n", "services", "ops", "full sync ms", "(commit ms)",
              "nft -f ms", "change ms", "(commit ms)", "change ops", "nft -f chg ms");
  for (int n : sizes) {
    if (unshare(CLONE_NEWNET) != 0) {
      std::perror("unshare (needs root)");
      return 1;
    }
    std::vector<api::ObjectPtr> services, slices;
    for (int i = 0; i < n; ++i) {
      services.push_back(std::make_shared<const json>(service(i)));
      slices.push_back(std::make_shared<const json>(slice(i, all_local, 0)));
    }
    proxy::ProxyConfig config{nft::Ipv4Prefix::parse("10.244.0.0/16"), nft::Ipv4Prefix::parse("10.96.0.0/12")};
    auto netlink = nft::make_netlink_writer();
    TimedWriter writer(*netlink);
    proxy::Proxier proxier(writer, config);

    // Full sync: from the cached objects (what the informers hold) to the kernel's answer.
    auto t0 = Clock::now();
    proxy::ServiceMap want;
    for (int i = 0; i < n; ++i)
      want["bench/svc-" + std::to_string(i)] = proxy::service_ports(*services[size_t(i)], {slices[size_t(i)]}, kNode);
    auto err = proxier.full_sync(want);
    double full_ms = ms_since(t0);
    if (err) {
      std::printf("full sync failed: %s\n", err->message.c_str());
      return 1;
    }
    size_t full_ops = proxier.last_operations();
    double full_commit_ms = writer.last_commit_ms;
    std::string table = dir + "/table-" + std::to_string(n) + ".nft";
    sh("nft list table ip kctl > " + table);

    // One endpoint of the middle Service replaced.
    int k = n / 2;
    std::string old_ep = proxy::endpoint_chain_name(want["bench/svc-" + std::to_string(k)][0],
                                                    want["bench/svc-" + std::to_string(k)][0].endpoints[0]);
    auto changed_slice = std::make_shared<const json>(slice(k, all_local, 1));
    t0 = Clock::now();
    proxy::ServiceMap change;
    change["bench/svc-" + std::to_string(k)] = proxy::service_ports(*services[size_t(k)], {changed_slice}, kNode);
    err = proxier.partial_sync(change);
    double change_ms = ms_since(t0);
    if (err) {
      std::printf("partial sync failed: %s\n", err->message.c_str());
      return 1;
    }
    size_t change_ops = proxier.last_operations();
    double change_commit_ms = writer.last_commit_ms;

    // The same change as an nft script: the new endpoint's chain added, the Service's chain rewritten, the old
    // endpoint's chain emptied and deleted (what the partial sync's batch does).
    std::string after = dir + "/after-" + std::to_string(n) + ".nft";
    sh("nft list table ip kctl > " + after);
    std::string script = dir + "/change-" + std::to_string(n) + ".nft";
    {
      // Take the changed Service's chains from the listing after the change.
      std::ifstream in(after);
      std::stringstream text;
      text << in.rdbuf();
      std::string all = text.str();
      std::ofstream out(script);
      const auto& port = change["bench/svc-" + std::to_string(k)][0];
      std::vector<std::string> chains;
      const auto& was = want["bench/svc-" + std::to_string(k)][0].endpoints;
      for (const auto& e : port.endpoints)
        if (std::find(was.begin(), was.end(), e) == was.end()) chains.push_back(proxy::endpoint_chain_name(port, e));
      chains.push_back(proxy::service_chain_name(port));
      for (const auto& c : chains) {
        auto at = all.find("\tchain " + c + " {");
        auto end = all.find("\n\t}", at);
        out << "add chain ip kctl " << c << "\nflush chain ip kctl " << c << "\n";
        std::stringstream body(all.substr(at, end - at));
        std::string line;
        std::getline(body, line);  // the chain line
        while (std::getline(body, line))
          if (line.find_first_not_of('\t') != std::string::npos)
            out << "add rule ip kctl " << c << " " << line.substr(line.find_first_not_of('\t')) << "\n";
      }
      out << "flush chain ip kctl " << old_ep << "\ndelete chain ip kctl " << old_ep << "\n";
    }
    double nft_full = nft_load("", table);
    double nft_change = nft_load(table, script);
    std::printf("%8d %10zu %14.1f %12.1f %14.1f %14.2f %12.2f %12zu %14.1f\n", n, full_ops, full_ms, full_commit_ms,
                nft_full, change_ms, change_commit_ms, change_ops, nft_change);
    std::fflush(stdout);
  }
  sh("rm -rf " + dir);
  return 0;
}
