// kctl-controller-manager as a process: two copies with Lease leader election (one leads; when it is killed the
// other takes over), and org.kctl.ControllerManager1 on a private bus as busctl sees it.
#include <thread>

#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"

using namespace kctl;
using namespace kctl::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class ControllerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    dir_ = make_temp_dir("controller-manager");
  }
  // A copy with short lease times, so that a takeover fits in a test.
  void start(ChildProcess& p, const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {std::string(KCTL_BIN_DIR) + "/kctl-controller-manager",
                                     "--apiserver=" + server_->url(), "--leader-elect-lease-duration=2s",
                                     "--leader-elect-renew-deadline=1500ms", "--leader-elect-retry-period=200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    p.start(argv, dir_ + "/" + name + ".log");
  }
  std::string holder() {
    try {
      return client_->resource("leases", "kube-system").get("kube-controller-manager")["spec"].value("holderIdentity", "");
    } catch (const api::StatusError&) {
      return "";
    }
  }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::string dir_;
};

}  // namespace

TEST_F(ControllerManagerTest, OneLeaderTakesOverFromAnotherAndTheBusShowsIt) {
  DbusDaemon bus;
  ChildProcess a, b;
  start(a, "a", {bus.apiserver_flag()});  // --dbus-address=...
  ASSERT_TRUE(eventually([&] { return !holder().empty(); }, 10s)) << a.log();
  std::string first = holder();
  start(b, "b", {"--dbus=none"});
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(holder(), first) << "the leader keeps its lease while it renews it";

  std::string bus_flag = "--address=" + bus.address();
  auto prop = [&](const std::string& name) {
    return run({"busctl", bus_flag, "get-property", "org.kctl.ControllerManager1", "/org/kctl/ControllerManager1",
                "org.kctl.ControllerManager1", name});
  };
  EXPECT_EQ(prop("Leader").out, "b true\n") << a.log();
  EXPECT_EQ(prop("ReplicaSet").rc, 0);
  auto listed = run({"busctl", bus_flag, "call", "org.kctl.ControllerManager1", "/org/kctl/ControllerManager1",
                     "org.kctl.ControllerManager1", "ListControllers"});
  EXPECT_EQ(listed.rc, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("a(sus) ", 0), 0u) << listed.out;
  auto nope = run({"busctl", bus_flag, "call", "org.kctl.ControllerManager1", "/org/kctl/ControllerManager1",
                   "org.kctl.ControllerManager1", "Resync", "s", "nope"});
  EXPECT_NE(nope.rc, 0);
  EXPECT_NE(nope.err.find("no controller \"nope\" runs here"), std::string::npos) << nope.err;

  // Killed without giving its lease up: the other copy takes over once the lease expires.
  a.kill9();
  ASSERT_TRUE(eventually([&] { return !holder().empty() && holder() != first; }, 10s)) << b.log();
  EXPECT_NE(b.log().find("leading as"), std::string::npos) << b.log();
}

TEST_F(ControllerManagerTest, UnknownControllersAreRefused) {
  auto r = run({std::string(KCTL_BIN_DIR) + "/kctl-controller-manager", "--apiserver=" + server_->url(),
                "--controllers=*,nosuch", "--dbus=none"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--controllers: unknown controller \"nosuch\""), std::string::npos) << r.err;
}

// --apiserver=https://... with kubectl's certificate flags (the scheduler and the kubelet take the same ones).
TEST(ControllerManagerHttps, LeadsOverTls) {
  TestPki pki;
  int secure = free_port();
  ApiServerProcess server(pki.apiserver_flags(secure));
  auto client = api::Client::connect(server.url());
  std::string dir = make_temp_dir("controller-manager-https");
  ChildProcess cm;
  cm.start({std::string(KCTL_BIN_DIR) + "/kctl-controller-manager", "--apiserver=https://127.0.0.1:" + std::to_string(secure),
            "--certificate-authority=" + pki.ca_cert, "--client-certificate=" + pki.client_cert,
            "--client-key=" + pki.client_key, "--dbus=none"},
           dir + "/cm.log");
  EXPECT_TRUE(eventually([&] {
    try {
      return !client.resource("leases", "kube-system").get("kube-controller-manager")["spec"]
                  .value("holderIdentity", "").empty();
    } catch (const api::StatusError&) {
      return false;
    }
  }, 10s)) << cm.log();
  // An apiserver it cannot verify is refused, with Go's words in its log.
  ChildProcess untrusting;
  untrusting.start({std::string(KCTL_BIN_DIR) + "/kctl-controller-manager",
                    "--apiserver=https://127.0.0.1:" + std::to_string(secure),
                    "--certificate-authority=" + pki.other_ca_cert, "--dbus=none", "--leader-elect-retry-period=200ms"},
                   dir + "/untrusting.log");
  EXPECT_TRUE(eventually([&] { return untrusting.log().find("certificate signed by unknown authority") != std::string::npos; },
                         10s)) << untrusting.log();
}
