// Durability: kill -9 the apiserver in the middle of a stream of writes from several clients; after a restart
// every write that was acknowledged (201) is there, and revisions continue without reuse.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

void crash_during_writes(const std::vector<std::string>& flags) {
  ApiServerProcess server(flags);
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      kctl::http::Client c(server.url());
      for (int i = 0; !stop; ++i) {
        std::string name = "cm-" + std::to_string(t) + "-" + std::to_string(i);
        json cm = {{"metadata", {{"name", name}}}, {"data", {{"i", std::to_string(i)}}}};
        try {
          auto r = c.request("POST", "/api/v1/namespaces/default/configmaps", cm.dump(),
                             {{"Content-Type", "application/json"}});
          if (r.status == 201) {
            std::lock_guard lock(mu);
            acknowledged.insert(name);
          }
        } catch (const std::exception&) {
          return;  // the server is gone
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  server.kill9();
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_GT(acknowledged.size(), 100u) << "too few writes before the kill to prove anything";

  server.start();
  auto r = server.client().request("GET", "/api/v1/namespaces/default/configmaps");
  json list = parse_json(r.body);
  std::set<std::string> stored;
  for (const auto& item : list["items"]) stored.insert(item["metadata"]["name"].get<std::string>());
  size_t missing = 0;
  for (const auto& name : acknowledged)
    if (!stored.count(name)) ++missing;
  EXPECT_EQ(missing, 0u) << "acknowledged writes lost after kill -9 (of " << acknowledged.size() << ")";
  // Revisions continue after the restart.
  int64_t before = std::stoll(list["metadata"]["resourceVersion"].get<std::string>());
  r = server.client().request("POST", "/api/v1/namespaces/default/configmaps",
                              json{{"metadata", {{"name", "after-restart"}}}}.dump(),
                              {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201);
  EXPECT_GT(std::stoll(parse_json(r.body)["metadata"]["resourceVersion"].get<std::string>()), before);
}

}  // namespace

TEST(Crash, AcknowledgedWritesSurviveKill9WithFullSync) { crash_during_writes({}); }
TEST(Crash, AcknowledgedWritesSurviveKill9WithNormalSync) { crash_during_writes({"--storage-sync=normal"}); }
