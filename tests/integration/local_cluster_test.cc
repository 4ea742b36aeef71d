// `kctl local up|status|down` as the README runs it: the daemons start in the background, the examples are
// applied, kubectl works with the written kubeconfig, and down removes every process and file.
#include <filesystem>

#include <gtest/gtest.h>

#include "harness.h"

using namespace kctl::test;

TEST(LocalCluster, UpStatusDown) {
  std::string dir = make_temp_dir("local") + "/cluster";
  std::string port = std::to_string(free_port());
  std::string kctl = std::string(KCTL_BIN_DIR) + "/kctl";
  auto r = run({kctl, "local", "up", "--dir", dir, "--api-port", port, "--examples",
                std::string(KCTL_SOURCE_DIR) + "/examples"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("deployment/web created"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/kubeconfig"));

  r = run({kctl, "local", "status", "--dir", dir, "--api-port", port});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("kctl-apiserver: running"), std::string::npos) << r.out;

  std::string kubectl = Kubectl::find("");
  r = run({"env", "HOME=" + dir, kubectl, "--kubeconfig", dir + "/kubeconfig", "--cache-dir", dir + "/cache", "get",
           "deploy,svc,rc", "-n", "demo"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("deployment.apps/web"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("service/echo"), std::string::npos) << r.out;

  // up again is harmless: the cluster is there, the examples are re-applied
  r = run({kctl, "local", "up", "--dir", dir, "--api-port", port, "--examples", std::string(KCTL_SOURCE_DIR) + "/examples"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;

  r = run({kctl, "local", "down", "--dir", dir});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir));
  r = run({kctl, "local", "status", "--dir", dir, "--api-port", port});
  EXPECT_EQ(r.rc, 3);
  r = run({"sh", "-c", "pgrep -f '[k]ctl-apiserver --data-dir=" + dir + "' || true"});
  EXPECT_EQ(r.out, "") << "a daemon outlived `kctl local down`";
}
