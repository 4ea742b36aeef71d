// kctl-apiserver on a private dbus-daemon: what the real busctl and dbus-send see and do (tree, introspect,
// properties, calls, errors), a non-root caller refused writes (by the policy) and reads of Secrets (by the
// apiserver), and the D-Bus client transport.
#include <atomic>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include "api/client.h"
#include "api/dbus_status.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kName = "org.kctl.ApiServer1";
constexpr const char* kPath = "/org/kctl/ApiServer1";

json pod(const std::string& name, const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", labels}}},
          {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
}

api::ListOptions labels(const std::string& selector) {
  api::ListOptions o;
  o.label_selector = selector;
  return o;
}
api::ListOptions fields(const std::string& selector) {
  api::ListOptions o;
  o.field_selector = selector;
  return o;
}
api::ListOptions from(const std::string& resource_version) {
  api::ListOptions o;
  o.resource_version = resource_version;
  return o;
}

// A private bus with an apiserver on it; the apiserver's HTTP is ready before it owns its name, so wait for that.
class DbusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>(extra_args());
    client_ = std::make_unique<api::Client>(api::Client::connect(bus_.endpoint()));
    ASSERT_TRUE(eventually([&] {
      try {
        client_->transport().version();
        return true;
      } catch (const api::StatusError&) {
        return false;
      }
    })) << server_->log();
  }
  virtual std::vector<std::string> extra_args() { return {bus_.apiserver_flag()}; }

  // busctl against the private bus, optionally as nobody.
  CmdResult busctl(std::vector<std::string> args, bool as_nobody = false) {
    std::vector<std::string> argv;
    if (as_nobody) argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    argv.push_back("busctl");
    argv.push_back("--address=" + bus_.address());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  CmdResult call(const std::string& method, const std::string& signature, std::vector<std::string> args,
                 bool as_nobody = false) {
    std::vector<std::string> a = {"--json=short", "call", kName, kPath, kName, method, signature};
    a.insert(a.end(), args.begin(), args.end());
    return busctl(a, as_nobody);
  }
  // The JSON string a busctl --json=short call answered ({"type":"s","data":["..."]}), parsed.
  static json answer(const CmdResult& r) {
    json j = parse_json(r.out);
    return j.is_object() ? parse_json(j["data"][0].get<std::string>()) : json();
  }
  json property(const std::string& name) {
    auto r = busctl({"--json=short", "get-property", kName, kPath, kName, name});
    EXPECT_EQ(r.rc, 0) << r.err;
    return parse_json(r.out)["data"];
  }
  // dbus-send prints the error name busctl leaves out: "Error org.kctl.ApiServer1.Error.NotFound: ...".
  CmdResult dbus_send(const std::string& method, const std::vector<std::string>& args, bool as_nobody = false) {
    std::vector<std::string> argv;
    if (as_nobody) argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    argv.insert(argv.end(), {"dbus-send", "--bus=" + bus_.address(), "--print-reply", "--dest=" + std::string(kName),
                                     kPath, std::string(kName) + "." + method});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  api::ResourceClient pods() { return client_->resource("pods", "default"); }
  // The unique name of a process's (first) connection to the bus.
  std::string connection_of(int pid) {
    std::stringstream lines(busctl({"list", "--unique", "--no-legend"}).out);
    for (std::string line; std::getline(lines, line);) {
      std::stringstream fields(line);
      std::string name, p;
      fields >> name >> p;
      if (p == std::to_string(pid)) return name;
    }
    return "";
  }

  DbusDaemon bus_;
  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
};

int status_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const api::StatusError& e) {
    return e.status().code;
  }
  return 0;
}

}  // namespace

// --- busctl and dbus-send ----------------------------------------------------------------------------------------

TEST_F(DbusTest, BusctlShowsTheObjectItsInterfaceAndProperties) {
  auto r = busctl({"tree", kName});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("/org/kctl/ApiServer1"), std::string::npos) << r.out;

  r = busctl({"introspect", kName, kPath});
  EXPECT_EQ(r.rc, 0) << r.err;
  for (const char* line : {"org.kctl.ApiServer1 +interface", "\\.Create +method +sssss +s", "\\.Get +method +ssss +s",
                           "\\.List +method +ssss +s", "\\.Patch +method +ssssss +s", "\\.Delete +method +ssss +s",
                           "\\.Watch +method +sssss +t", "\\.StopWatch +method +t", "\\.Version +method +- +s",
                           "\\.WatchEvents +signal +ta\\(ss\\)", "\\.Version +property +s +\"v1\\.33\\.0-kctl",
                           "\\.WatchCount +property +u +0 +emits-change", "\\.ObjectCount +property +t",
                           "\\.Revision +property +t", "\\.StoragePath +property +s", "\\.ListenAddresses +property +as"})
    EXPECT_TRUE(std::regex_search(r.out, std::regex(line))) << line << "\n" << r.out;

  EXPECT_EQ(property("Version"), "v1.33.0-kctl.0.1.0");
  EXPECT_EQ(property("StoragePath"), server_->dir() + "/data/state.db");
  EXPECT_EQ(property("ListenAddresses"), json::array({server_->url()}));
  EXPECT_EQ(property("WatchCount"), 0);
  // busctl's plain output, as a person reads it
  r = busctl({"get-property", kName, kPath, kName, "Version"});
  EXPECT_EQ(r.out, "s \"v1.33.0-kctl.0.1.0\"\n");

  int64_t objects = property("ObjectCount"), revision = property("Revision");
  pods().create(pod("counted"));
  EXPECT_EQ(property("ObjectCount"), objects + 1);
  EXPECT_EQ(property("Revision"), revision + 1);
}

TEST_F(DbusTest, BusctlCallsGetListCreateAndVersion) {
  auto r = call("Create", "sssss", {"pods", "default", "", "", pod("p1", {{"app", "web"}}).dump()});
  ASSERT_EQ(r.rc, 0) << r.err;
  json created = answer(r);
  EXPECT_EQ(created["metadata"]["name"], "p1");
  EXPECT_EQ(created["spec"]["restartPolicy"], "Always") << "defaulted like a POST over HTTP";

  r = call("Get", "ssss", {"pods", "default", "p1", ""});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["metadata"]["uid"], created["metadata"]["uid"]);

  r = call("List", "ssss", {"pods", "", "app=web", ""});
  ASSERT_EQ(r.rc, 0) << r.err;
  json list = answer(r);
  EXPECT_EQ(list["kind"], "PodList");
  EXPECT_FALSE(list["metadata"]["resourceVersion"].get<std::string>().empty());
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "p1");

  r = call("List", "ssss", {"deployments.apps", "kube-system", "", ""});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["kind"], "DeploymentList");

  r = call("Version", "", {});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["gitVersion"], "v1.33.0-kctl.0.1.0");
  // the same document as /version over HTTP
  EXPECT_EQ(answer(r), parse_json(server_->client().request("GET", "/version").body));
}

TEST_F(DbusTest, ErrorsCarryTheStatusReasonAndMessage) {
  json bad = pod("BAD");
  auto r = call("Create", "sssss", {"pods", "default", "", "", bad.dump()});
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("Pod \"BAD\" is invalid: metadata.name: Invalid value: \"BAD\""), std::string::npos) << r.err;
  r = dbus_send("Create", {"string:pods", "string:default", "string:", "string:", "string:" + bad.dump()});
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.Invalid: Pod \"BAD\" is invalid"), std::string::npos) << r.err;

  r = dbus_send("Get", {"string:pods", "string:default", "string:nope", "string:"});
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.NotFound: pods \"nope\" not found"), std::string::npos) << r.err;
  r = dbus_send("List", {"string:pods", "string:", "string:a in (", "string:"});
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.BadRequest:"), std::string::npos) << r.err;
  r = dbus_send("Get", {"string:widgets", "string:default", "string:x", "string:"});
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.NotFound:"), std::string::npos) << r.err;
  r = dbus_send("Create", {"string:pods", "string:default", "string:", "string:", "string:{not json"});
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.BadRequest:"), std::string::npos) << r.err;
  pods().create(pod("twice"));
  r = dbus_send("Create", {"string:pods", "string:default", "string:", "string:", "string:" + pod("twice").dump()});
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.AlreadyExists: pods \"twice\" already exists"), std::string::npos)
      << r.err;
}

TEST_F(DbusTest, PolicyLetsAnyoneLookButOnlyRootChange) {
  pods().create(pod("mine"));
  auto r = busctl({"introspect", kName, kPath}, true);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find(".Create"), std::string::npos);
  r = busctl({"get-property", kName, kPath, kName, "ObjectCount"}, true);
  EXPECT_EQ(r.rc, 0) << r.err;
  r = call("Get", "ssss", {"pods", "default", "mine", ""}, true);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["metadata"]["name"], "mine");
  r = call("List", "ssss", {"pods", "", "", ""}, true);
  EXPECT_EQ(r.rc, 0) << r.err;

  r = call("Create", "sssss", {"pods", "default", "", "", pod("theirs").dump()}, true);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
  r = call("Delete", "ssss", {"pods", "default", "mine", ""}, true);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
  r = call("Patch", "ssssss", {"pods", "default", "mine", "", "merge", R"({"metadata":{"labels":{"x":"y"}}})"}, true);
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
  // nothing changed
  EXPECT_EQ(status_code_of([&] { pods().get("theirs"); }), 404);
  EXPECT_FALSE(pods().get("mine")["metadata"].contains("labels") &&
               pods().get("mine")["metadata"]["labels"].contains("x"));
  // and nobody cannot take the name either
  r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "busctl", "--address=" + bus_.address(),
           "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su",
           "org.kctl.Scheduler1", "4"});
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.out << r.err;
}

TEST_F(DbusTest, SecretsAreRootsToReadOnTheBus) {
  const std::string encoded = "aHVudGVyMg==";  // hunter2
  client_->resource("secrets", "default").create({{"metadata", {{"name", "db"}}}, {"data", {{"password", encoded}}}});
  pods().create(pod("web"));
  // nobody may still look at pods...
  auto r = call("List", "ssss", {"pods", "", "", ""}, true);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["items"].size(), 1u);
  r = call("Get", "ssss", {"pods", "default", "web", ""}, true);
  EXPECT_EQ(r.rc, 0) << r.err;
  r = call("Watch", "sssss", {"pods", "", "", "", ""}, true);
  EXPECT_EQ(r.rc, 0) << r.err;

  // ...but not at Secrets: by name, in a namespace, across all of them, by the group-qualified plural, or watched.
  struct Refused {
    std::string method, signature;
    std::vector<std::string> args;
    std::string message;
  };
  const std::string tail = " over D-Bus: only root may read Secrets on the bus";
  for (const auto& c : std::vector<Refused>{
           {"Get", "ssss", {"secrets", "default", "db", ""},
            "secrets \"db\" is forbidden: uid 65534 cannot get resource \"secrets\" in the namespace \"default\""},
           {"Get", "ssss", {"secrets", "default", "nope", ""},
            "secrets \"nope\" is forbidden: uid 65534 cannot get resource \"secrets\" in the namespace \"default\""},
           {"List", "ssss", {"secrets", "default", "", ""},
            "secrets is forbidden: uid 65534 cannot list resource \"secrets\" in the namespace \"default\""},
           {"List", "ssss", {"secrets", "", "", ""},
            "secrets is forbidden: uid 65534 cannot list resource \"secrets\" at the cluster scope"},
           {"List", "ssss", {"secrets.", "", "", ""},
            "secrets is forbidden: uid 65534 cannot list resource \"secrets\" at the cluster scope"},
           {"Watch", "sssss", {"secrets", "", "", "", ""},
            "secrets is forbidden: uid 65534 cannot watch resource \"secrets\" at the cluster scope"},
           {"Watch", "sssss", {"secrets", "default", "", "", "0"},
            "secrets is forbidden: uid 65534 cannot watch resource \"secrets\" in the namespace \"default\""},
       }) {
    r = call(c.method, c.signature, c.args, true);
    EXPECT_NE(r.rc, 0) << c.method << " " << c.args[0] << ": " << r.out;
    EXPECT_NE(r.err.find(c.message + tail), std::string::npos) << c.method << " " << c.args[0] << ": " << r.err;
    EXPECT_EQ(r.out.find(encoded), std::string::npos) << r.out;
  }
  // A D-Bus error a client maps back to 403 Forbidden.
  r = dbus_send("Get", {"string:secrets", "string:default", "string:db", "string:"}, true);
  EXPECT_NE(r.err.find("Error org.kctl.ApiServer1.Error.Forbidden: secrets \"db\" is forbidden"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find(encoded), std::string::npos) << r.out;
  EXPECT_EQ(api::status_from_dbus_error("org.kctl.ApiServer1.Error.Forbidden", "x").code, 403);
  EXPECT_EQ(property("WatchCount"), 0) << "a refused watch was opened";

  // Root keeps everything.
  r = call("Get", "ssss", {"secrets", "default", "db", ""});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["data"]["password"], encoded);
  r = call("List", "ssss", {"secrets", "", "", ""});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(answer(r)["items"].size(), 1u);
  auto w = client_->resource("secrets", "default").watch();
  api::WatchEvent ev;
  ASSERT_TRUE(w->next(ev));
  EXPECT_EQ(ev.object["data"]["password"], encoded);
  w->stop();
}

TEST_F(DbusTest, WatchEndsWhenItsOwnerLeavesTheBus) {
  // busctl opens a watch and exits: the server notices its owner went and drops the watch.
  auto r = call("Watch", "sssss", {"pods", "default", "", "", ""});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(parse_json(r.out)["type"], "t");
  EXPECT_TRUE(eventually([&] { return property("WatchCount") == 0; }, 5s));
  // a watch of ours counts until it stops
  auto w = pods().watch();
  EXPECT_EQ(property("WatchCount"), 1);
  w->stop();
  EXPECT_EQ(property("WatchCount"), 0);
}

// --- the client transport ------------------------------------------------------------------------------------------

TEST_F(DbusTest, ClientCrudAndErrors) {
  auto p = pods();
  json created = p.create(pod("a", {{"app", "x"}}));
  EXPECT_EQ(created["spec"]["restartPolicy"], "Always");
  EXPECT_EQ(p.get("a")["metadata"]["uid"], created["metadata"]["uid"]);
  auto listed = p.list(labels("app=x"));
  EXPECT_EQ(listed.items.size(), 1u);
  EXPECT_FALSE(listed.resource_version.empty());
  EXPECT_EQ(p.list(fields("metadata.name=a")).items.size(), 1u);
  json changed = created;
  changed["metadata"]["labels"]["app"] = "y";
  json updated = p.update(changed);
  EXPECT_EQ(updated["metadata"]["labels"]["app"], "y");
  try {
    p.update(created);  // stale
    FAIL() << "stale update accepted";
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 409);
    EXPECT_EQ(e.status().reason, "Conflict");
  }
  json status = updated;
  status["status"]["phase"] = "Running";
  EXPECT_EQ(p.update_status(status)["status"]["phase"], "Running");
  EXPECT_EQ(p.patch("a", api::PatchType::Merge, {{"metadata", {{"annotations", {{"n", "1"}}}}}})["metadata"]["annotations"]["n"], "1");
  EXPECT_EQ(p.patch("a", api::PatchType::Json, json::array({{{"op", "add"}, {"path", "/metadata/labels/j"}, {"value", "2"}}}))
                ["metadata"]["labels"]["j"], "2");
  EXPECT_EQ(p.patch("a", api::PatchType::Strategic, {{"metadata", {{"labels", {{"s", "3"}}}}}})["metadata"]["labels"]["s"], "3");
  json applied = p.patch("b", api::PatchType::Apply, pod("b"));  // apply creates
  EXPECT_EQ(applied["metadata"]["name"], "b");
  p.bind("a", "node-1");
  EXPECT_EQ(p.get("a")["spec"]["nodeName"], "node-1");
  json gone = p.remove("a", {{"gracePeriodSeconds", 0}});
  EXPECT_EQ(gone["metadata"]["name"], "a");
  try {
    p.get("a");
    FAIL();
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 404);
    EXPECT_EQ(e.status().reason, "NotFound");
    EXPECT_EQ(e.status().message, "pods \"a\" not found");
  }
  EXPECT_EQ(status_code_of([&] { p.create(pod("BAD")); }), 422);
  EXPECT_EQ(status_code_of([&] { p.create(pod("b")); }), 409);
  EXPECT_EQ(status_code_of([&] { p.list(labels("a in (")); }), 400);
  EXPECT_EQ(status_code_of([&] { p.list(fields("spec.unknown=x")); }), 400);
  EXPECT_EQ(status_code_of([&] { client_->resource("nodes").get("nope"); }), 404);

  auto rcs = client_->resource("rc", "default");
  rcs.create({{"metadata", {{"name", "r"}}},
              {"spec", {{"replicas", 1}, {"template", {{"metadata", {{"labels", {{"a", "b"}}}}}, {"spec", pod("x")["spec"]}}}}}});
  EXPECT_EQ(rcs.update_scale("r", 4)["spec"]["replicas"], 4);
  EXPECT_EQ(rcs.get_scale("r")["spec"]["replicas"], 4);
  auto leases = client_->resource("leases", "kube-system");  // a qualified plural: leases.coordination.k8s.io
  leases.create({{"metadata", {{"name", "l"}}}, {"spec", {{"holderIdentity", "me"}}}});
  EXPECT_EQ(leases.get("l")["spec"]["holderIdentity"], "me");
  auto nodes = client_->resource("nodes");  // cluster-scoped
  nodes.create({{"metadata", {{"name", "n1"}}}});
  EXPECT_EQ(nodes.list().items.size(), 1u);
}

TEST_F(DbusTest, ClientWatchDeliversEvents) {
  auto p = pods();
  p.create(pod("before", {{"team", "x"}}));
  // From "": the current objects first.
  auto all = p.watch(labels("team=x"));
  api::WatchEvent ev;
  ASSERT_TRUE(all->next(ev));
  EXPECT_EQ(ev.type, api::WatchEvent::Type::Added);
  EXPECT_EQ(ev.object["metadata"]["name"], "before");

  auto rv = p.list().resource_version;
  auto w = p.watch(from(rv));
  p.create(pod("w", {{"team", "x"}}));
  p.patch("w", api::PatchType::Merge, {{"metadata", {{"labels", {{"k", "v"}}}}}});
  p.patch("w", api::PatchType::Merge, {{"metadata", {{"labels", {{"team", "y"}}}}}});  // leaves team=x
  p.remove("w");
  std::vector<std::string> types;
  while (types.size() < 4 && w->next(ev)) types.push_back(api::to_string(ev.type));
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "MODIFIED", "DELETED"}));
  // the selector's view of the same changes: entering, changing, leaving
  types.clear();
  while (types.size() < 3 && all->next(ev)) types.push_back(api::to_string(ev.type));
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
  w->stop();
  all->stop();
  EXPECT_FALSE(w->next(ev));
}

TEST_F(DbusTest, ClientWatchOfManyEventsKeepsOrder) {
  auto p = pods();
  auto rv = p.list().resource_version;
  auto w = p.watch(from(rv));
  constexpr int kEvents = 300;
  std::thread writer([&] {
    try {
      for (int i = 0; i < kEvents; ++i) p.create(pod("m" + std::to_string(i)));
    } catch (const api::StatusError& e) {
      ADD_FAILURE() << "create: " << e.status().message << "\n" << server_->log();
      w->stop();
    }
  });
  api::WatchEvent ev;
  int64_t last = 0;
  int seen = 0;
  while (seen < kEvents && w->next(ev)) {
    int64_t rev = std::stoll(ev.object["metadata"]["resourceVersion"].get<std::string>());
    EXPECT_GT(rev, last);
    last = rev;
    ++seen;
  }
  writer.join();
  EXPECT_EQ(seen, kEvents);
}

TEST_F(DbusTest, ClientWatchEndsWhenTheServerLeavesAndTheClientRecovers) {
  auto w = pods().watch();
  server_->stop();
  api::WatchEvent ev;
  std::atomic<bool> ended{false};
  std::thread reader([&] {
    while (w->next(ev)) {
    }
    ended = true;
  });
  EXPECT_TRUE(eventually([&] { return ended.load(); }, 5s)) << "the stream outlived the server";
  if (!ended) w->stop();
  reader.join();
  EXPECT_EQ(status_code_of([&] { client_->transport().version(); }), 503);
  server_->start();
  EXPECT_TRUE(eventually([&] { return status_code_of([&] { client_->transport().version(); }) == 0; }));
  pods().create(pod("after"));
  EXPECT_EQ(pods().get("after")["metadata"]["name"], "after");
}

TEST_F(DbusTest, WatchSignalsGoToTheirOwnerOnly) {
  // A bystander listening for every WatchEvents signal on the bus gets none of another peer's watch.
  auto bystander = sdbus::createSessionBusConnectionWithAddress(bus_.address());
  std::atomic<int> overheard{0};
  auto slot = bystander->addMatch("type='signal',interface='org.kctl.ApiServer1',member='WatchEvents'",
                                  [&](sdbus::Message&) { ++overheard; });
  bystander->enterEventLoopAsync();
  auto w = pods().watch();
  pods().create(pod("private"));
  api::WatchEvent ev;
  ASSERT_TRUE(w->next(ev));
  EXPECT_EQ(ev.object["metadata"]["name"], "private");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(overheard, 0);
  w->stop();
  slot.reset();
  bystander->leaveEventLoop();
}

TEST_F(DbusTest, ClientIgnoresWatchEventsFromAnyoneButTheApiServer) {
  auto p = pods();
  auto w = p.watch(from(p.list().resource_version));
  // This process's connection (the client's): any local user may send a unicast signal to it.
  std::string me = connection_of(getpid());
  ASSERT_FALSE(me.empty());
  for (int id = 1; id <= 3; ++id) {  // the watch ids a server hands out first
    auto r = busctl({"emit", "--destination=" + me, kPath, kName, "WatchEvents", "ta(ss)", std::to_string(id), "1",
                     "ADDED", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"spoofed"}})"},
                    true);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  // A peer that also claims, in a NameOwnerChanged of its own, to own org.kctl.ApiServer1 now.
  auto attacker = sdbus::createSessionBusConnectionWithAddress(bus_.address());
  auto driver = sdbus::createObject(*attacker, "/org/freedesktop/DBus");
  auto server = sdbus::createObject(*attacker, kPath);
  sdbus::Signal claim = driver->createSignal("org.freedesktop.DBus", "NameOwnerChanged");
  claim.setDestination(me);
  claim << std::string(kName) << std::string() << attacker->getUniqueName();
  driver->emitSignal(claim);
  for (uint64_t id = 1; id <= 3; ++id) {
    sdbus::Signal fake = server->createSignal(kName, "WatchEvents");
    fake.setDestination(me);
    fake << id << std::vector<sdbus::Struct<std::string, std::string>>{
                      {"ADDED", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"spoofed"}})"}};
    server->emitSignal(fake);
  }
  p.create(pod("real"));
  api::WatchEvent ev;
  ASSERT_TRUE(w->next(ev));
  EXPECT_EQ(ev.object["metadata"]["name"], "real");
}

TEST_F(DbusTest, ServerIgnoresPeersClaimingAWatcherLeft) {
  auto w = pods().watch();
  std::string watcher = connection_of(getpid());
  auto r = busctl({"--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "GetNameOwner", "s", kName});
  std::string server = parse_json(r.out)["data"][0];  // the apiserver's unique name
  ASSERT_FALSE(server.empty());
  // A peer tells the apiserver, in a NameOwnerChanged of its own, that the watcher left the bus.
  auto liar = sdbus::createSessionBusConnectionWithAddress(bus_.address());
  auto driver = sdbus::createObject(*liar, "/org/freedesktop/DBus");
  sdbus::Signal left = driver->createSignal("org.freedesktop.DBus", "NameOwnerChanged");
  left.setDestination(server);
  left << watcher << watcher << std::string();
  driver->emitSignal(left);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(property("WatchCount"), 1);
  pods().create(pod("still-watched"));
  api::WatchEvent ev;
  ASSERT_TRUE(w->next(ev));
  EXPECT_EQ(ev.object["metadata"]["name"], "still-watched");
}

TEST(DbusClient, UnreachableBusOrNameIs503) {
  auto nowhere = api::make_transport("dbus:unix:path=/nonexistent/kctl-bus");
  try {
    nowhere->version();
    FAIL();
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 503);
    EXPECT_EQ(e.status().reason, "ServiceUnavailable");
  }
  DbusDaemon empty_bus;  // a bus without an apiserver on it
  auto nobody_home = api::make_transport(empty_bus.endpoint());
  try {
    nobody_home->get(*api::Registry::builtin().resolve("pods"), "default", "x");
    FAIL();
  } catch (const api::StatusError& e) {
    EXPECT_EQ(e.status().code, 503) << e.status().message;
  }
}

TEST(DbusLocalCluster, UpRunsTheApiServerOnTheClustersOwnBus) {
  std::string parent = make_temp_dir("local-bus");
  std::filesystem::permissions(parent, std::filesystem::perms(0755));  // so nobody can reach the bus below
  std::string dir = parent + "/cluster";
  std::string port = std::to_string(free_port());
  std::string kctl = std::string(KCTL_BIN_DIR) + "/kctl";
  std::string address = "unix:path=" + dir + "/dbus/bus";
  auto r = run({kctl, "local", "up", "--dir", dir, "--api-port", port, "--workers", "0", "--no-examples"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("on D-Bus at " + address), std::string::npos) << r.out;

  r = run({kctl, "local", "status", "--dir", dir, "--api-port", port});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("dbus-daemon: running"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("D-Bus:      " + address + " (org.kctl.ApiServer1 answering"), std::string::npos) << r.out;
  r = run({"busctl", "--address=" + address, "tree", kName});
  EXPECT_NE(r.out.find(kPath), std::string::npos) << r.out << r.err;
  auto t = api::make_transport("dbus:" + address);
  EXPECT_EQ(t->get(*api::Registry::builtin().resolve("namespaces"), "", "default")["metadata"]["name"], "default");
  // the bus enforces the kctl policy: nobody may look but not write
  r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "busctl", "--address=" + address, "call",
           kName, kPath, kName, "Delete", "ssss", "namespaces", "", "default", ""});
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.out << r.err;

  r = run({kctl, "local", "down", "--dir", dir});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir));
  r = run({"sh", "-c", "pgrep -f '[d]bus-daemon --nofork --nopidfile --config-file=" + dir + "' || true"});
  EXPECT_EQ(r.out, "") << "the cluster's bus outlived `kctl local down`";
  std::filesystem::remove_all(parent);
}

class DbusCompactionTest : public DbusTest {
 protected:
  std::vector<std::string> extra_args() override { return {bus_.apiserver_flag(), "--compaction-interval-seconds=1"}; }
};

TEST_F(DbusCompactionTest, WatchFromACompactedRevisionGetsExpiredThenEnds) {
  auto p = pods();
  std::string old_rv = p.create(pod("old"))["metadata"]["resourceVersion"];
  for (int i = 0; i < 3; ++i) p.patch("old", api::PatchType::Merge, {{"metadata", {{"labels", {{"i", std::to_string(i)}}}}}});
  std::this_thread::sleep_for(2600ms);  // two compaction intervals: old_rv is gone
  auto w = p.watch(from(old_rv));
  api::WatchEvent ev;
  ASSERT_TRUE(w->next(ev));
  EXPECT_EQ(ev.type, api::WatchEvent::Type::Error);
  EXPECT_EQ(ev.object["code"], 410);
  EXPECT_EQ(ev.object["reason"], "Expired");
  EXPECT_FALSE(w->next(ev)) << "the stream ends after its ERROR";
  EXPECT_TRUE(eventually([&] { return property("WatchCount") == 0; }, 5s));
}
