// EventRecorder against a real kctl-apiserver, over HTTP and over D-Bus: Events created as a controller records
// them, a repeat patched onto the first Event's count, a different message making another Event, and a
// cluster-scoped object's events in "default".
#include <map>

#include <gtest/gtest.h>

#include "api/client.h"
#include "api/event_recorder.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class EventRecorderTransportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::vector<std::string> args;
    if (GetParam() == "dbus") {
      bus_ = std::make_unique<DbusDaemon>();
      args.push_back(bus_->apiserver_flag());
    }
    server_ = std::make_unique<ApiServerProcess>(args);
    client_ = std::make_unique<api::Client>(api::Client::connect(bus_ ? bus_->endpoint() : server_->url()));
    // The apiserver owns its bus name a moment after /readyz.
    ASSERT_TRUE(eventually([&] {
      try {
        client_->transport().version();
        return true;
      } catch (const api::StatusError&) {
        return false;
      }
    })) << server_->log();
  }
  std::vector<json> events(const std::string& ns) { return client_->resource("events", ns).list().items; }

  std::unique_ptr<DbusDaemon> bus_;
  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
};

TEST_P(EventRecorderTransportTest, RepeatsAreCountedOnOneEvent) {
  json pod = client_->resource("pods", "default").create(json::parse(
      R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"kctl/busybox"}]}})"));
  api::EventRecorder recorder(client_->transport(), {"replicaset-controller", ""});
  recorder.record(pod, api::EventType::Normal, "SuccessfulCreate", "Created pod: web");
  ASSERT_TRUE(recorder.flush(10s));
  recorder.record(pod, api::EventType::Normal, "SuccessfulCreate", "Created pod: web");
  recorder.record(pod, api::EventType::Warning, "FailedCreate", "Error creating: quota exceeded");
  ASSERT_TRUE(recorder.flush(10s));

  auto items = events("default");
  ASSERT_EQ(items.size(), 2u) << json(items).dump(2);
  std::map<std::string, json> by_reason;
  for (const auto& e : items) by_reason[e["reason"]] = e;
  const json& created = by_reason["SuccessfulCreate"];
  EXPECT_EQ(created["count"], 2);
  EXPECT_EQ(created["message"], "Created pod: web");
  EXPECT_EQ(created["involvedObject"]["uid"], pod["metadata"]["uid"]);
  EXPECT_EQ(created["involvedObject"]["resourceVersion"], pod["metadata"]["resourceVersion"]);
  EXPECT_EQ(created["source"], (json{{"component", "replicaset-controller"}}));
  EXPECT_EQ(created["reportingComponent"], "replicaset-controller");
  EXPECT_EQ(by_reason["FailedCreate"]["type"], "Warning");
  EXPECT_EQ(by_reason["FailedCreate"]["count"], 1);
  auto stats = recorder.stats();
  EXPECT_EQ(stats.created, 2u);
  EXPECT_EQ(stats.patched, 1u);
  EXPECT_EQ(stats.failed + stats.dropped + stats.skipped, 0u);

  // Events about a cluster-scoped object live in "default" too.
  json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "node-9"}, {"uid", "n-9"}}}};
  recorder.record(node, api::EventType::Normal, "RegisteredNode", "Node node-9 event: Registered Node node-9");
  ASSERT_TRUE(recorder.flush(10s));
  EXPECT_EQ(events("default").size(), 3u);
  EXPECT_EQ(recorder.stats().failed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, EventRecorderTransportTest, ::testing::Values("http", "dbus"));

}  // namespace
