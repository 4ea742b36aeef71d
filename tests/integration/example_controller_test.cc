// The user's control loop of examples/controllers/mypod-controller.py (Python, standard library only, plain JSON
// over HTTP) against a real kctl-apiserver: it deletes the extra pods and creates the missing ones.
#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using nlohmann::json;

namespace {

size_t live_mypods(api::Client& client) {
  size_t n = 0;
  api::ListOptions o;
  o.label_selector = "name=mypod";
  for (const auto& p : client.resource("pods", "default").list(o).items)
    n += !p["metadata"].contains("deletionTimestamp");
  return n;
}

}  // namespace

TEST(ExampleController, PythonLoopKeepsItsPods) {
  ApiServerProcess server;
  auto client = api::Client::connect(server.url());
  auto pods = client.resource("pods", "default");
  for (int i = 0; i < 5; ++i)
    pods.create(json::parse(R"({"metadata":{"name":"extra-)" + std::to_string(i) +
                            R"(","labels":{"name":"mypod"}},"spec":{"containers":[{"name":"c","image":"kctl/busybox"}]}})"));
  std::string script = std::string(KCTL_SOURCE_DIR) + "/examples/controllers/mypod-controller.py";
  auto loop = [&](int iterations) {
    return run({"python3", script, "--api", server.url(), "--replicas", "3", "--iterations", std::to_string(iterations)});
  };
  auto r = loop(2);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "saw 5 pods, want 3\nsaw 3 pods, want 3\n");
  EXPECT_EQ(live_mypods(client), 3u);
  // Two go: the loop makes two new ones from its template.
  api::ListOptions o;
  o.label_selector = "name=mypod";
  auto left = pods.list(o).items;
  pods.remove(left[0]["metadata"]["name"]);
  pods.remove(left[1]["metadata"]["name"]);
  r = loop(1);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "saw 1 pods, want 3\n");
  EXPECT_EQ(live_mypods(client), 3u);
  size_t generated = 0;
  for (const auto& p : pods.list(o).items) generated += p["metadata"]["name"].get<std::string>().rfind("mypod-", 0) == 0;
  EXPECT_EQ(generated, 2u);
}
