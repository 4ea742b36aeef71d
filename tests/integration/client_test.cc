// The client library against a real kctl-apiserver: the per-kind client, watches that survive a restarted server
// and a compacted revision, informers with their indexes and handlers, and leader election between two
// candidates. Every case runs over each transport.
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "api/informer.h"
#include "api/leader_election.h"
#include "api/resumable_watch.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json pod(const std::string& name, const json& labels = json::object(), const std::string& node = "") {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", labels}}},
            {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

// Every case runs over HTTP (the server's port), over HTTPS with a client certificate (its secure port), and over
// D-Bus (the same server on a private dbus-daemon).
class ClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto args = extra_args();
    api::ClientOptions options;
    if (dbus()) {
      bus_ = std::make_unique<DbusDaemon>();
      args.push_back(bus_->apiserver_flag());
    } else if (https()) {
      pki_ = std::make_unique<TestPki>();
      secure_port_ = free_port();
      for (auto& a : pki_->apiserver_flags(secure_port_)) args.push_back(a);
      options.tls = {.ca_file = pki_->ca_cert, .cert_file = pki_->client_cert, .key_file = pki_->client_key};
    }
    server_ = std::make_unique<ApiServerProcess>(args);
    client_ = std::make_unique<api::Client>(api::Client::connect(endpoint(), options));
    ASSERT_TRUE(eventually([&] { return answers(); })) << server_->log();
  }
  bool dbus() const { return GetParam() == "dbus"; }
  bool https() const { return GetParam() == "https"; }
  std::string endpoint() const {
    return dbus() ? bus_->endpoint() : https() ? "https://127.0.0.1:" + std::to_string(secure_port_) : server_->url();
  }
  // The server is up once it answers on the transport under test (its bus name comes a moment after /readyz).
  bool answers() {
    try {
      client_->transport().version();
      return true;
    } catch (const api::StatusError&) {
      return false;
    }
  }
  virtual std::vector<std::string> extra_args() { return {}; }
  api::ResourceClient pods() { return client_->resource("pods", "default"); }
  std::unique_ptr<DbusDaemon> bus_;
  std::unique_ptr<TestPki> pki_;
  int secure_port_ = 0;
  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
};

}  // namespace

TEST_P(ClientTest, CrudAndErrors) {
  auto p = pods();
  json created = p.create(pod("a", {{"app", "x"}}));
  EXPECT_EQ(created["spec"]["restartPolicy"], "Always");
  EXPECT_EQ(p.get("a")["metadata"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(p.list({.label_selector = "app=x"}).items.size(), 1u);
  json changed = created;
  changed["metadata"]["labels"]["app"] = "y";
  json updated = p.update(changed);
  EXPECT_EQ(updated["metadata"]["labels"]["app"], "y");
  // the stale copy conflicts
  try {
    p.update(created);
    FAIL() << "stale update accepted";
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 409);
    EXPECT_EQ(e.status().reason, "Conflict");
  }
  json status = updated;
  status["status"]["phase"] = "Running";
  EXPECT_EQ(p.update_status(status)["status"]["phase"], "Running");
  EXPECT_EQ(p.patch("a", api::PatchType::Merge, {{"metadata", {{"annotations", {{"n", "1"}}}}}})["metadata"]["annotations"]["n"], "1");
  p.bind("a", "node-1");
  EXPECT_EQ(p.get("a")["spec"]["nodeName"], "node-1");
  p.remove("a", {{"gracePeriodSeconds", 0}});
  try {
    p.get("a");
    FAIL();
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 404);
    EXPECT_EQ(e.status().message, "pods \"a\" not found");
  }
  try {
    json bad = pod("BAD");
    p.create(bad);
    FAIL();
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 422);
  }
  auto rcs = client_->resource("rc", "default");
  rcs.create({{"metadata", {{"name", "r"}}},
              {"spec", {{"replicas", 1}, {"template", {{"metadata", {{"labels", {{"a", "b"}}}}}, {"spec", pod("x")["spec"]}}}}}});
  EXPECT_EQ(rcs.update_scale("r", 4)["spec"]["replicas"], 4);
  EXPECT_EQ(rcs.get_scale("r")["spec"]["replicas"], 4);
}

TEST_P(ClientTest, WatchStreamDeliversEvents) {
  auto p = pods();
  auto rv = p.list().resource_version;
  auto w = p.watch({.resource_version = rv});
  p.create(pod("w"));
  p.patch("w", api::PatchType::Merge, {{"metadata", {{"labels", {{"k", "v"}}}}}});
  p.remove("w");
  std::vector<std::string> types;
  api::WatchEvent ev;
  while (types.size() < 3 && w->next(ev)) types.push_back(api::to_string(ev.type));
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
  w->stop();
}

TEST_P(ClientTest, ResumableWatchSurvivesServerRestart) {
  auto p = pods();
  p.create(pod("before"));
  api::ResumableWatch w(client_->transport(), p.kind(), "default", {});
  std::vector<std::string> seen;
  std::mutex mu;
  std::thread reader([&] {
    api::WatchEvent ev;
    while (w.next(ev)) {
      std::lock_guard lock(mu);
      seen.push_back(std::string(api::to_string(ev.type)) + " " +
                     (ev.object.is_null() ? "" : ev.object["metadata"].value("name", "")));
    }
  });
  // A failed assertion below must not leave the reader joinable (std::terminate): stop and join on any exit.
  struct Join {
    api::ResumableWatch& w;
    std::thread& t;
    ~Join() {
      w.stop();
      if (t.joinable()) t.join();
    }
  } join{w, reader};
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 2;
  }));
  server_->stop();  // the watch connection drops
  server_->start();
  ASSERT_TRUE(eventually([&] { return answers(); }));  // on D-Bus, the name is owned just after /readyz
  p.create(pod("after"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 3;
  }));
  w.stop();
  reader.join();
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED before", "SYNCED ", "ADDED after"}));
  EXPECT_GE(w.reconnects(), 1);
  EXPECT_EQ(w.relists(), 0);
}

TEST_P(ClientTest, InformerCachesIndexesAndNotifies) {
  auto p = pods();
  p.create(pod("a", {{"app", "web"}}, "n1"));
  p.create(pod("b", {{"app", "db"}}, "n2"));
  api::Informer inf(client_->transport(), p.kind(), "", {}, 1s);
  std::atomic<int> adds{0}, updates{0}, deletes{0};
  inf.add_handler({[&](const api::ObjectPtr&) { ++adds; },
                   [&](const api::ObjectPtr&, const api::ObjectPtr&) { ++updates; },
                   [&](const api::ObjectPtr&) { ++deletes; }});
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(10s));
  EXPECT_EQ(adds, 2);
  EXPECT_EQ(inf.size(), 2u);
  EXPECT_EQ(inf.by_index(api::index::kNodeName, "n1").size(), 1u);
  EXPECT_EQ(inf.by_index(api::index::kLabel, "app=db").size(), 1u);
  EXPECT_EQ(inf.by_index(api::index::kNamespace, "default").size(), 2u);
  p.patch("a", api::PatchType::Merge, {{"metadata", {{"labels", {{"app", "api"}}}}}});
  p.remove("b", {{"gracePeriodSeconds", 0}});  // bound to a node: without grace 0 it would wait for a kubelet
  ASSERT_TRUE(eventually([&] { return deletes == 1 && inf.size() == 1u; }));
  EXPECT_TRUE(eventually([&] { return inf.by_index(api::index::kLabel, "app=api").size() == 1u; }));
  EXPECT_TRUE(inf.by_index(api::index::kLabel, "app=web").empty());
  EXPECT_EQ(inf.get("default/a")->value("/metadata/labels/app"_json_pointer, std::string()), "api");
  int before = updates;
  EXPECT_TRUE(eventually([&] { return updates >= before + 1; }, 3s)) << "no resync";
  inf.stop();
}

class ClientCompactionTest : public ClientTest {
 protected:
  std::vector<std::string> extra_args() override { return {"--compaction-interval-seconds=1"}; }
};

TEST_P(ClientCompactionTest, InformerRelistsAfterGone) {
  auto p = pods();
  json first = p.create(pod("old"));
  std::string old_rv = first["metadata"]["resourceVersion"];
  for (int i = 0; i < 3; ++i) p.patch("old", api::PatchType::Merge, {{"metadata", {{"labels", {{"i", std::to_string(i)}}}}}});
  std::this_thread::sleep_for(2600ms);  // two compaction intervals: old_rv is gone
  // A watcher that last saw old_rv resumes: the server says 410, the watch relists and carries on.
  api::ResumableWatch w(client_->transport(), p.kind(), "default", {.resource_version = old_rv});
  api::WatchEvent ev;
  ASSERT_TRUE(w.next(ev));
  EXPECT_EQ(ev.type, api::WatchEvent::Type::Added);
  EXPECT_EQ(ev.object["metadata"]["labels"]["i"], "2");
  EXPECT_EQ(w.relists(), 1);
  p.create(pod("new"));
  ASSERT_TRUE(w.next(ev));
  EXPECT_EQ(ev.object["metadata"]["name"], "new");
  w.stop();
}

TEST_P(ClientTest, LeaderElectionHandsOverWhenTheLeaderDies) {
  std::atomic<int> leaders{0}, max_leaders{0};
  auto make = [&](const std::string& id) {
    api::LeaderElectionConfig c;
    c.lease_name = "test-controller";
    c.identity = id;
    c.lease_duration = 1200ms;
    c.renew_deadline = 800ms;
    c.retry_period = 200ms;
    c.on_started_leading = [&] {
      int n = ++leaders;
      int m = max_leaders;
      while (n > m && !max_leaders.compare_exchange_weak(m, n)) {
      }
    };
    c.on_stopped_leading = [&] { --leaders; };
    return std::make_unique<api::LeaderElector>(client_->transport(), c);
  };
  auto a = make("a"), b = make("b");
  std::thread ta([&] { a->run(); }), tb([&] { b->run(); });
  ASSERT_TRUE(eventually([&] { return a->is_leader() || b->is_leader(); }));
  std::this_thread::sleep_for(600ms);
  EXPECT_NE(a->is_leader(), b->is_leader()) << "exactly one leader";
  auto& leader = a->is_leader() ? a : b;
  auto& follower = a->is_leader() ? b : a;
  auto& leader_thread = a->is_leader() ? ta : tb;
  leader->stop(/*release=*/false);  // as if killed: the lease is not given up, it expires
  leader_thread.join();
  ASSERT_TRUE(eventually([&] { return follower->is_leader(); }, 5s));
  json lease = client_->resource("leases", "kube-system").get("test-controller");
  EXPECT_EQ(lease["spec"]["holderIdentity"], follower == a ? "a" : "b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  follower->stop();
  (follower == a ? ta : tb).join();
  EXPECT_EQ(max_leaders, 1);
  EXPECT_EQ(client_->resource("leases", "kube-system").get("test-controller")["spec"]["holderIdentity"], "");
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientTest, ::testing::Values("http", "https", "dbus"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Transports, ClientCompactionTest, ::testing::Values("http", "dbus"),
                         [](const auto& info) { return info.param; });
