// kctl-apiserver benchmark driver (not a test): fills a namespace with pods, times lists of them as JSON and as
// Table, reads the server's RSS, and times N watchers each receiving M events. run-bench calls it and prints.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/http_client.h"

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string pod_json(const std::string& name, const std::string& ns) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "bench"}, {"tier", "web"}}}}},
            {"spec",
             {{"containers",
               json::array({{{"name", "main"},
                             {"image", "registry.example/bench/app:1.0"},
                             {"command", {"/bin/app", "--port=8080", "--verbose"}},
                             {"ports", json::array({{{"name", "http"}, {"containerPort", 8080}}})},
                             {"env", json::array({{{"name", "MODE"}, {"value", "bench"}}})},
                             {"resources", {{"limits", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}}})}}}};
  return p.dump();
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void ensure_namespace(kctl::http::Client& c, const std::string& ns) {
  c.request("POST", "/api/v1/namespaces", json{{"metadata", {{"name", ns}}}}.dump(), {{"Content-Type", "application/json"}});
}

void populate(const std::string& url, const std::string& ns, int count, int concurrency) {
  kctl::http::Client admin(url);
  ensure_namespace(admin, ns);
  std::atomic<int> next{0}, failed{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t)
    threads.emplace_back([&] {
      kctl::http::Client c(url);
      for (int i; (i = next++) < count;) {
        auto r = c.request("POST", "/api/v1/namespaces/" + ns + "/pods", pod_json("pod-" + std::to_string(i), ns),
                           {{"Content-Type", "application/json"}});
        if (r.status != 201) ++failed;
      }
    });
  for (auto& t : threads) t.join();
  std::printf("populate: %d pods in %.0f ms (%d failed)\n", count, ms_since(t0), failed.load());
}

void list_latency(const std::string& url, const std::string& ns, int repeat) {
  kctl::http::Client c(url);
  for (const char* mode : {"JSON", "Table"}) {
    kctl::http::Headers h;
    if (std::string(mode) == "Table") h.emplace("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
    std::vector<double> times;
    size_t bytes = 0, items = 0;
    for (int i = 0; i < repeat; ++i) {
      auto t0 = Clock::now();
      auto r = c.request("GET", "/api/v1/namespaces/" + ns + "/pods?limit=500", "", h);
      times.push_back(ms_since(t0));
      bytes = r.body.size();
      if (i == 0) {
        json j = json::parse(r.body);
        items = std::string(mode) == "Table" ? j["rows"].size() : j["items"].size();
      }
    }
    std::sort(times.begin(), times.end());
    std::printf("list %-5s: %zu objects, %.1f MB, median %.1f ms, best %.1f ms, worst %.1f ms\n", mode, items,
                bytes / 1e6, times[times.size() / 2], times.front(), times.back());
  }
}

int connect_to(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// N raw watch connections read with epoll (one thread), M writes from 16 writer threads; the time from the first
// write until every watcher has seen all M events.
void watchers(const std::string& url, int n, int m) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  kctl::http::Client admin(url);
  const std::string ns = "bench-watch";
  ensure_namespace(admin, ns);
  auto list = json::parse(admin.request("GET", "/api/v1/namespaces/" + ns + "/configmaps").body);
  std::string rv = list["metadata"]["resourceVersion"];
  int ep = epoll_create1(0);
  struct Conn {
    int fd;
    int events = 0;
    std::string tail;
  };
  std::vector<Conn> conns;
  std::string req = "GET /api/v1/namespaces/" + ns + "/configmaps?watch=true&resourceVersion=" + rv +
                    " HTTP/1.1\r\nHost: " + admin.host() + "\r\nAccept: application/json\r\n\r\n";
  auto t_connect = Clock::now();
  for (int i = 0; i < n; ++i) {
    int fd = connect_to(admin.host(), admin.port());
    if (fd < 0) {
      std::printf("watch: connection %d failed: %s\n", i, std::strerror(errno));
      return;
    }
    (void)!::write(fd, req.data(), req.size());
    conns.push_back({fd, 0, ""});
  }
  for (int i = 0; i < n; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = uint32_t(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[size_t(i)].fd, &ev);
  }
  std::printf("watch: %d watchers connected in %.0f ms\n", n, ms_since(t_connect));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let every watch register before writing

  std::atomic<int> next{0};
  auto t0 = Clock::now();
  std::vector<std::thread> writers;
  for (int t = 0; t < 16; ++t)
    writers.emplace_back([&] {
      kctl::http::Client c(url);
      for (int i; (i = next++) < m;)
        c.request("POST", "/api/v1/namespaces/" + ns + "/configmaps",
                  json{{"metadata", {{"name", "cm-" + std::to_string(i)}}}, {"data", {{"k", "v"}}}}.dump(),
                  {{"Content-Type", "application/json"}});
    });
  const std::string marker = "{\"type\":\"";
  int complete = 0;
  std::vector<epoll_event> evs(256);
  char buf[65536];
  while (complete < n) {
    int k = epoll_wait(ep, evs.data(), int(evs.size()), 30000);
    if (k <= 0) break;
    for (int e = 0; e < k; ++e) {
      Conn& c = conns[evs[size_t(e)].data.u32];
      ssize_t r = ::read(c.fd, buf, sizeof buf);
      if (r <= 0) continue;
      std::string data = c.tail + std::string(buf, size_t(r));
      int before = c.events;
      for (size_t p = data.find(marker); p != std::string::npos; p = data.find(marker, p + 1)) ++c.events;
      c.tail = data.size() > marker.size() ? data.substr(data.size() - marker.size() + 1) : data;
      if (before < m && c.events >= m) ++complete;
    }
  }
  double total = ms_since(t0);
  for (auto& w : writers) w.join();
  int served = 0;
  long delivered = 0;
  for (auto& c : conns) {
    if (c.events >= m) ++served;
    delivered += c.events;
    ::close(c.fd);
  }
  std::printf("watch: %d/%d watchers received all %d events in %.0f ms (%ld events delivered, %.0f events/s)\n",
              served, n, m, total, delivered, delivered / (total / 1000.0));
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  std::string url = a.count("--url") ? a["--url"] : "http://127.0.0.1:8080";
  std::string what = a.count("--run") ? a["--run"] : "all";
  int pods = a.count("--pods") ? std::stoi(a["--pods"]) : 10000;
  int pid = a.count("--pid") ? std::stoi(a["--pid"]) : 0;
  if (what == "all" || what == "list") {
    populate(url, "bench-list", pods, 16);
    list_latency(url, "bench-list", 10);
    if (pid) std::printf("rss: %.1f MB with %d pods stored\n", rss_kib(pid) / 1024.0, pods);
  }
  if (what == "all" || what == "watch") {
    int n = a.count("--watchers") ? std::stoi(a["--watchers"]) : 1000;
    int m = a.count("--events") ? std::stoi(a["--events"]) : 1000;
    watchers(url, n, m);
    if (pid) std::printf("rss: %.1f MB after the watch run\n", rss_kib(pid) / 1024.0);
  }
  return 0;
}
