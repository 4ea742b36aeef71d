// Daemon flags: --name=value and --name value, booleans, a --config file, and the command line winning over it.
#include "daemons/common/daemon.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

TEST(DaemonFlags, CommandLineOverridesConfigFile) {
  auto path = std::filesystem::temp_directory_path() / ("kctl-flags-" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << "data-dir: /from/config\ninsecure-port: 9090\nverbose: true\n";
  std::string dir = "/default", addr = "127.0.0.1";
  int port = 8080;
  bool verbose = false;
  kctl::Flags f("test", "a test");
  f.add("data-dir", &dir, "d");
  f.add("insecure-port", &port, "p");
  f.add("insecure-bind-address", &addr, "a");
  f.add("verbose", &verbose, "v");
  std::string cfg = "--config=" + path.string();
  const char* argv[] = {"test", cfg.c_str(), "--insecure-port", "7070", "--insecure-bind-address=0.0.0.0"};
  f.parse(5, const_cast<char**>(argv));
  EXPECT_EQ(dir, "/from/config");
  EXPECT_EQ(port, 7070);
  EXPECT_EQ(addr, "0.0.0.0");
  EXPECT_TRUE(verbose);
  std::filesystem::remove(path);
}

TEST(DaemonFlags, BadValueExitsWithUsageError) {
  int port = 0;
  kctl::Flags f("test", "a test");
  f.add("insecure-port", &port, "p");
  const char* argv[] = {"test", "--insecure-port=abc"};
  EXPECT_EXIT(f.parse(2, const_cast<char**>(argv)), ::testing::ExitedWithCode(2), "takes an integer");
}
