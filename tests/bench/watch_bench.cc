// Watch delivery benchmark (not a test): how many watch events per second reach 1 and N watchers over HTTP and over
// D-Bus, when the apiserver replays the ADDED events of M pod-sized objects (what informers starting on a full
// master receive). run-watch-bench starts the bus and the apiserver and calls it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "api/client.h"
#include "api/dbus_status.h"
#include "api/http_client.h"
#include "daemons/common/dbus_service.h"

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kNamespace = "bench-watch";
// Writers filling the namespace (the figure measured is delivery, not writes).
constexpr int kWriters = 16;
// A watcher that has not received everything after this long is counted as it is.
constexpr auto kGiveUp = std::chrono::seconds(120);

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A pod as a controller would create it (about 1 KB stored once defaulted).
std::string pod_json(const std::string& name) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", kNamespace}, {"labels", {{"app", "bench"}, {"tier", "web"}}}}},
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

// Creates `count` pods and returns the revision just before the first, to watch from.
std::string populate(const std::string& url, int count) {
  kctl::http::Client admin(url);
  admin.request("POST", "/api/v1/namespaces", json{{"metadata", {{"name", kNamespace}}}}.dump(),
                {{"Content-Type", "application/json"}});
  std::string pods = std::string("/api/v1/namespaces/") + kNamespace + "/pods";
  std::string rv = json::parse(admin.request("GET", pods).body)["metadata"]["resourceVersion"];
  std::atomic<int> next{0};
  auto t0 = Clock::now();
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t)
    writers.emplace_back([&] {
      kctl::http::Client c(url);
      for (int i; (i = next++) < count;)
        c.request("POST", pods, pod_json("pod-" + std::to_string(i)), {{"Content-Type", "application/json"}});
    });
  for (auto& w : writers) w.join();
  size_t stored = json::parse(admin.request("GET", pods + "/pod-0").body).dump().size();
  std::printf("populate: %d pods (%zu bytes each as stored) in %.1f s\n", count, stored, seconds_since(t0));
  return rv;
}

void report(const char* transport, int watchers, int events, long delivered, double secs) {
  std::printf("%-5s %3d watcher%s: %ld of %ld events in %.3f s = %.0f events/s in all, %.0f per watcher\n", transport,
              watchers, watchers == 1 ? " " : "s", delivered, long(watchers) * events, secs, delivered / secs,
              delivered / secs / watchers);
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

// N raw HTTP watch streams read by one epoll thread, counting event lines.
void http_rate(const std::string& url, const std::string& rv, int n, int m) {
  kctl::http::Client admin(url);
  std::string req = std::string("GET /api/v1/namespaces/") + kNamespace + "/pods?watch=true&resourceVersion=" + rv +
                    " HTTP/1.1\r\nHost: " + admin.host() + "\r\nAccept: application/json\r\n\r\n";
  int ep = epoll_create1(0);
  struct Conn {
    int fd;
    long events = 0;
    std::string tail;
  };
  std::vector<Conn> conns(size_t(n), Conn{-1, 0, ""});
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    conns[size_t(i)].fd = connect_to(admin.host(), admin.port());
    (void)!::write(conns[size_t(i)].fd, req.data(), req.size());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = uint32_t(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[size_t(i)].fd, &ev);
  }
  const std::string marker = "{\"type\":\"";
  int complete = 0;
  std::vector<epoll_event> evs(256);
  static char buf[1 << 16];
  while (complete < n && Clock::now() - t0 < kGiveUp) {
    int k = epoll_wait(ep, evs.data(), int(evs.size()), 1000);
    for (int e = 0; e < k; ++e) {
      Conn& c = conns[evs[size_t(e)].data.u32];
      ssize_t r = ::read(c.fd, buf, sizeof buf);
      if (r <= 0) continue;
      std::string data = c.tail + std::string(buf, size_t(r));
      long before = c.events;
      for (size_t p = data.find(marker); p != std::string::npos; p = data.find(marker, p + 1)) ++c.events;
      c.tail = data.size() > marker.size() ? data.substr(data.size() - marker.size() + 1) : data;
      if (before < m && c.events >= m) ++complete;
    }
  }
  double secs = seconds_since(t0);
  long delivered = 0;
  for (auto& c : conns) {
    delivered += std::min<long>(c.events, m);
    ::close(c.fd);
  }
  ::close(ep);
  report("HTTP", n, m, delivered, secs);
}

// N bus connections (as N components would have), one watch each, counting the events of the WatchEvents signals.
void dbus_rate(const std::string& address, const std::string& rv, int n, int m) {
  struct Watcher {
    std::unique_ptr<sdbus::IConnection> conn;
    std::unique_ptr<sdbus::IProxy> proxy;
    sdbus::Slot match;
    long events = 0;  // guarded by mu
  };
  std::mutex mu;
  std::condition_variable cv;
  int complete = 0;
  std::vector<std::unique_ptr<Watcher>> ws;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Watcher>();
    w->conn = sdbus::createSessionBusConnectionWithAddress(address);
    Watcher* self = w.get();
    w->match = w->conn->addMatch(
        "type='signal',interface='org.kctl.ApiServer1',member='WatchEvents'", [&, self](sdbus::Message& msg) {
          uint64_t id = 0;
          std::vector<sdbus::Struct<std::string, std::string>> events;
          msg >> id >> events;
          std::lock_guard lock(mu);
          long before = self->events;
          self->events += long(events.size());
          if (before < m && self->events >= m && ++complete == n) cv.notify_all();
        });
    w->proxy = sdbus::createProxy(*w->conn, kctl::api::kApiServerBusName, kctl::api::kApiServerObjectPath);
    w->conn->enterEventLoopAsync();
    ws.push_back(std::move(w));
  }
  auto t0 = Clock::now();
  for (auto& w : ws) {
    uint64_t id = 0;
    w->proxy->callMethod("Watch")
        .onInterface(kctl::api::kApiServerBusName)
        .withArguments(std::string("pods"), std::string(kNamespace), std::string(), std::string(), rv)
        .storeResultsTo(id);
  }
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, kGiveUp, [&] { return complete == n; });
  }
  double secs = seconds_since(t0);
  long delivered = 0;
  {
    std::lock_guard lock(mu);
    for (auto& w : ws) delivered += std::min<long>(w->events, m);
  }
  for (auto& w : ws) {
    w->match.reset();
    w->proxy.reset();
    w->conn->leaveEventLoop();
  }
  report("D-Bus", n, m, delivered, secs);
}

// One watcher through the client library (events parsed into JSON), over either transport.
void client_rate(const std::string& endpoint, const std::string& rv, int m) {
  auto client = kctl::api::Client::connect(endpoint);
  kctl::api::ListOptions o;
  o.resource_version = rv;
  auto t0 = Clock::now();
  auto w = client.resource("pods", kNamespace).watch(o);
  kctl::api::WatchEvent ev;
  long n = 0;
  while (n < m && w->next(ev)) ++n;
  double secs = seconds_since(t0);
  w->stop();
  std::printf("client library, %-32s 1 watcher: %ld events in %.3f s = %.0f events/s (parsed)\n", endpoint.c_str(), n,
              secs, n / secs);
}

std::vector<int> parse_counts(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');) out.push_back(std::stoi(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  if (a.count("--bus-config")) {  // --bus-config SOCKET --policy FILE: the private bus's configuration
    std::cout << kctl::private_bus_config(a["--bus-config"], a["--policy"]);
    return 0;
  }
  std::string url = a.count("--url") ? a["--url"] : "http://127.0.0.1:8080";
  std::string bus = a["--bus"];
  int pods = a.count("--pods") ? std::stoi(a["--pods"]) : 5000;
  std::vector<int> watchers = parse_counts(a.count("--watchers") ? a["--watchers"] : "1,100");
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  // --rv: the pods are there already (from an earlier run), watch from this revision.
  std::string rv = a.count("--rv") ? a["--rv"] : populate(url, pods);
  std::printf("watching from resourceVersion %s\n", rv.c_str());
  for (int n : watchers) {
    if (a["--http"] != "no") http_rate(url, rv, n, pods);
    if (!bus.empty()) dbus_rate(bus, rv, n, pods);
  }
  if (a["--client"] == "no") return 0;
  client_rate(url, rv, pods);
  if (!bus.empty()) client_rate("dbus:" + bus, rv, pods);
  return 0;
}
