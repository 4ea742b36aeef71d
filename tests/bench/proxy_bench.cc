// kctl-proxy's sync times against the kernel, each in a fresh network namespace: a full sync of N Services with 5
// endpoints each (one has 4, one 6; from Service and EndpointSlice objects as the informers hold them to the
// kernel's answer), then changes to one Service through partial syncs: one endpoint replaced (the number of
// endpoints stays), one added (5 -> 6), one removed (5 -> 4) and two added (5 -> 7, a new pick chain). As the
// comparison, the same table loaded with
// `nft -f` (the text `nft list table ip kctl` prints of what the proxy wrote, so it is the same ruleset) and each
// change as an `nft -f` script of the same operations (the difference between the table's listings before and
// after it: new chains, changed elements deleted and re-added, chains no longer used deleted).
// Usage (tests/bench/run-proxy-bench runs it): kctl-proxy-bench [SERVICES...] (default 1000 10000); needs root and nft.
// LOCAL_SHARE=1 puts every endpoint on this node (a hairpin element for every endpoint: the worst case); the
// default spreads them over 100 nodes as a cluster would. KEEP=1 keeps the listings and scripts in /tmp.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
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
constexpr int kRepeats = 11;  // each change is timed this often (and undone in between)
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

// Services 0 and 1 have 4 and 6 endpoints, all others kEndpoints: a cluster's Services have several counts, so a
// change from 5 to 4 or 6 finds its pick chain there, and one to 7 is the case that makes a new one.
int endpoint_count(int i) { return i == 0 ? kEndpoints - 1 : i == 1 ? kEndpoints + 1 : kEndpoints; }

// `count` endpoints; generation shifts the first one (a one-endpoint replacement).
json slice(int i, bool all_local, int generation, int count = kEndpoints) {
  json endpoints = json::array();
  for (int e = 0; e < count; ++e) {
    uint32_t addr =
        0x0af40000u + uint32_t(i * (kEndpoints + 1) + e) + 2 + (e == 0 ? uint32_t(generation) * 0x00100000u : 0);
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

std::string read_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[65536];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, n);
  return out;
}

// Runs `nft -f file` in a new network namespace holding `preload` first; returns the milliseconds of the timed load.
double nft_load(const std::string& preload, const std::string& file) {
  std::string cmd = "unshare -n sh -c '" + (preload.empty() ? "" : "nft -f " + preload + " && ") +
                    "s=$(date +%s%N); nft -f " + file + " || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000 ))'";
  std::string out = read_command(cmd);
  return out.empty() ? -1 : std::atof(out.c_str()) / 1000.0;
}

// nft's JSON of a set key or map value, as nft's text writes it ("10.96.0.10 . tcp . 80 . 0", "goto pick-5").
std::string nft_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return std::to_string(v.get<long>());
  if (v.contains("concat")) {
    std::string out;
    for (const auto& f : v["concat"]) out += (out.empty() ? "" : " . ") + nft_text(f);
    return out;
  }
  if (v.contains("elem")) return nft_text(v["elem"]["val"]);
  if (v.contains("goto")) return "goto " + v["goto"]["target"].get<std::string>();
  if (v.contains("jump")) return "jump " + v["jump"]["target"].get<std::string>();
  for (const char* verdict : {"drop", "accept", "return"})
    if (v.contains(verdict)) return verdict;
  return v.dump();
}

// The table as the kernel holds it: each set's elements (key -> value) and each chain's rules as nft prints them.
struct Listing {
  std::map<std::string, std::map<std::string, std::string>> elements;
  std::map<std::string, std::vector<std::string>> chains;
};

Listing read_listing() {
  Listing out;
  json j = json::parse(read_command("nft -j list table ip kctl"));
  for (const auto& item : j["nftables"]) {
    if (item.contains("map") || item.contains("set")) {
      const json& m = item.contains("map") ? item["map"] : item["set"];
      auto& elements = out.elements[m["name"].get<std::string>()];
      if (!m.contains("elem")) continue;
      for (const auto& e : m["elem"]) {
        if (e.is_array()) elements[nft_text(e[0])] = nft_text(e[1]);
        else elements[nft_text(e)] = "";
      }
    }
    if (item.contains("chain")) out.chains[item["chain"]["name"].get<std::string>()];
  }
  // The rules in nft's own text (its JSON has no text form of a rule).
  std::stringstream text(read_command("nft list table ip kctl"));
  std::string line, chain;
  while (std::getline(text, line)) {
    auto at = line.find_first_not_of('\t');
    if (at == std::string::npos) continue;
    line = line.substr(at);
    if (line.rfind("chain ", 0) == 0) chain = line.substr(6, line.size() - 8);
    else if (line == "}") chain.clear();
    else if (!chain.empty() && line.rfind("type ", 0) != 0 && line.rfind("policy ", 0) != 0)
      out.chains[chain].push_back(line);
  }
  return out;
}

// The `nft -f` script that turns `was` into `now`: new chains with their rules, changed elements deleted and
// re-added, new ones added, chains nothing uses any more deleted (what a partial sync's batch does).
void write_change_script(const Listing& was, const Listing& now, const std::string& path) {
  std::ofstream out(path);
  for (const auto& [c, rules] : now.chains)
    if (!was.chains.count(c)) {
      out << "add chain ip kctl " << c << "\n";
      for (const auto& r : rules) out << "add rule ip kctl " << c << " " << r << "\n";
    }
  for (const auto& [set, elements] : now.elements) {
    auto old = was.elements.find(set);
    for (const auto& [k, v] : old == was.elements.end() ? std::map<std::string, std::string>{} : old->second) {
      auto n = elements.find(k);
      if (n == elements.end() || n->second != v) out << "delete element ip kctl " << set << " { " << k << " }\n";
    }
    for (const auto& [k, v] : elements) {
      bool same = old != was.elements.end() && old->second.count(k) && old->second.at(k) == v;
      if (!same) out << "add element ip kctl " << set << " { " << k << (v.empty() ? "" : " : " + v) << " }\n";
    }
  }
  for (const auto& [c, rules] : was.chains)
    if (!now.chains.count(c)) out << "flush chain ip kctl " << c << "\ndelete chain ip kctl " << c << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000};
  bool all_local = std::getenv("LOCAL_SHARE") && std::string(std::getenv("LOCAL_SHARE")) == "1";
  std::string dir = "/tmp/kctl-proxy-bench-" + std::to_string(getpid());
  sh("mkdir -p " + dir);
  std::printf("endpoints %s\n", all_local ? "all on this node (hairpin elements for every endpoint)"
                                           : "spread over 100 nodes (1 in 100 on this node)");
  std::printf("%8s %-28s %8s %12s %12s %12s\n", "services", "sync (changes: median of 11)", "ops", "ms",
              "(commit ms)", "nft -f ms");
  for (int n : sizes) {
    if (unshare(CLONE_NEWNET) != 0) {
      std::perror("unshare (needs root)");
      return 1;
    }
    std::vector<api::ObjectPtr> services, slices;
    for (int i = 0; i < n; ++i) {
      services.push_back(std::make_shared<const json>(service(i)));
      slices.push_back(std::make_shared<const json>(slice(i, all_local, 0, endpoint_count(i))));
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
    std::printf("%8d %-28s %8zu %12.1f %12.1f %12.1f\n", n, "full", full_ops, full_ms, full_commit_ms,
                nft_load("", table));
    std::fflush(stdout);

    // The middle Service's endpoints changed: one replaced (N stays 5), one added (N 5 -> 6), one removed (N 5 ->
    // 4), two added (N 5 -> 7: pick-7 made, and deleted when undone); each through a partial sync and undone by
    // another, kRepeats times (the median and the fastest are shown: a commit's time varies with what else the
    // machine does), and once as the same change by `nft -f`.
    int k = n / 2;
    auto partial = [&](int generation, int count) {
      auto changed_slice = std::make_shared<const json>(slice(k, all_local, generation, count));
      auto t = Clock::now();
      proxy::ServiceMap change;
      change["bench/svc-" + std::to_string(k)] = proxy::service_ports(*services[size_t(k)], {changed_slice}, kNode);
      if (auto e = proxier.partial_sync(change)) {
        std::printf("partial sync failed: %s\n", e->message.c_str());
        std::exit(1);
      }
      return std::pair{ms_since(t), writer.last_commit_ms};
    };
    struct Change {
      const char* what;
      int generation, count;
    };
    int step = 0;
    for (const Change& c : {Change{"one endpoint replaced", 1, 5}, Change{"one endpoint added (5->6)", 0, 6},
                            Change{"one endpoint removed (5->4)", 0, 4}, Change{"two added, new pick-7", 0, 7}}) {
      std::string before = dir + "/before-" + std::to_string(n) + "-" + std::to_string(step) + ".nft";
      sh("nft list table ip kctl > " + before);
      Listing was = read_listing();
      std::vector<double> total, commit;
      size_t ops = 0;
      double nft_ms = 0;
      for (int r = 0; r < kRepeats; ++r) {
        auto [ms, commit_ms] = partial(c.generation, c.count);
        total.push_back(ms);
        commit.push_back(commit_ms);
        ops = proxier.last_operations();
        if (r == 0) {
          std::string script = dir + "/change-" + std::to_string(n) + "-" + std::to_string(step++) + ".nft";
          write_change_script(was, read_listing(), script);
          nft_ms = nft_load(before, script);
        }
        partial(0, kEndpoints);  // undone
      }
      std::sort(total.begin(), total.end());
      std::sort(commit.begin(), commit.end());
      std::printf("%8d %-28s %8zu %12.2f %12.2f %12.1f   (fastest %.2f / %.2f)\n", n, c.what, ops,
                  total[total.size() / 2], commit[commit.size() / 2], nft_ms, total[0], commit[0]);
      std::fflush(stdout);
    }
  }
  if (!std::getenv("KEEP")) sh("rm -rf " + dir);
  return 0;
}
