// kctl-local: `kctl local up|down|status|supervise`, in a binary of its own so that kctl itself links no D-Bus
// and starts fast; kctl execs this one (from its own directory) for the `local` verb.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/local_cluster.h"

namespace {

const char* kUsage =
    "kctl controls a kctl cluster.\n"
    "\n"
    "Local cluster (the daemons on this machine, without systemd):\n"
    "  kctl local up [--dir DIR] [--api-port PORT] [--examples DIR] [--no-examples]\n"
    "      start the daemons in the background, write DIR/kubeconfig, apply the examples\n"
    "  kctl local status [--dir DIR]   say what runs\n"
    "  kctl local down [--dir DIR]     stop everything and remove DIR\n"
    "\n"
    "DIR defaults to /var/lib/kctl-local, PORT to 8080.\n";

int local_command(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  kctl::cli::LocalClusterOptions o;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < args.size()) return args[++i];
      return "\x01";
    };
    std::string v;
    if ((v = value("--dir")) != "\x01") {
      o.dir = v;
    } else if ((v = value("--api-port")) != "\x01") {
      o.api_port = std::atoi(v.c_str());
      if (o.api_port <= 0 || o.api_port > 65535) {
        std::cerr << "kctl local: --api-port must be a port number, not " << v << "\n";
        return 2;
      }
    } else if ((v = value("--examples")) != "\x01") {
      o.examples_dir = v;
    } else if (a == "--no-examples") {
      o.apply_examples = false;
    } else {
      std::cerr << "kctl local: unknown argument " << a << "\n\n" << kUsage;
      return 2;
    }
  }
  kctl::cli::LocalCluster cluster(o);
  if (args[0] == "up") return cluster.up();
  if (args[0] == "down") return cluster.down();
  if (args[0] == "status") return cluster.status();
  if (args[0] == "supervise") return cluster.supervise();
  std::cerr << "kctl local: unknown command " << args[0] << "\n\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // argv: kctl-local local VERB ...: the first argument is the "local" kctl was given.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "local") args.erase(args.begin());
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::cout << kUsage;
    return 0;
  }
  return local_command(args);
}
