// kctl-local: `kctl local up|down|status|supervise` and `kctl image ...`, in a binary of its own so that kctl itself links no D-Bus
// and starts fast; kctl execs this one (from its own directory) for the `local` verb.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "api/go_json.h"
#include "cli/image_command.h"
#include "cli/local_cluster.h"

namespace {

const char* kUsage =
    "kctl controls a kctl cluster.\n"
    "\n"
    "Local cluster (the daemons on this machine, without systemd):\n"
    "  kctl local up [--dir DIR] [--api-port PORT] [--secure-port PORT] [--workers N] [--name NAME]\n"
    "                [--examples DIR] [--no-examples] [--node-monitor-grace-period DURATION]\n"
    "      start the daemons in the background: the master (bus, apiserver) and N worker nodes, each in its\n"
    "      own network namespace running a kubelet; write DIR/kubeconfig, apply the examples, show the nodes\n"
    "      and pods\n"
    "  kctl local status [--dir DIR]   say what runs\n"
    "  kctl local down [--dir DIR]     delete the pods, stop everything, remove the node network and DIR\n"
    "\n"
    "DIR defaults to /var/lib/kctl-local, --api-port (plain HTTP on 127.0.0.1, the master's superuser) to 8080,\n"
    "--secure-port (HTTPS, where the workers' kubelets and proxies and the pods reach the API) to 6443, N to 2\n"
    "(0: the master only), NAME to kctl (the prefix of the node names, kctl-worker-1, ..., and of the network:\n"
    "bridge kctl-nodes on 10.250.0.0/24, namespaces kctl-worker-N; pods of worker N on 10.244.N.0/24).\n";

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
    } else if ((v = value("--secure-port")) != "\x01") {
      o.secure_port = std::atoi(v.c_str());
      if (o.secure_port <= 0 || o.secure_port > 65535) {
        std::cerr << "kctl local: --secure-port must be a port number, not " << v << "\n";
        return 2;
      }
    } else if ((v = value("--workers")) != "\x01") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 0 || n > 200) {
        std::cerr << "kctl local: --workers must be a number from 0 to 200, not " << v << "\n";
        return 2;
      }
      o.workers = int(n);
    } else if ((v = value("--name")) != "\x01") {
      if (v.empty() || v.size() > 8 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos) {
        std::cerr << "kctl local: --name must be 1 to 8 lowercase letters and digits, not " << v << "\n";
        return 2;
      }
      o.name = v;
    } else if ((v = value("--node-monitor-grace-period")) != "\x01") {
      if (!kctl::api::parse_duration(v) || *kctl::api::parse_duration(v) <= 0) {
        std::cerr << "kctl local: --node-monitor-grace-period must be a duration such as 40s, not " << v << "\n";
        return 2;
      }
      o.node_monitor_grace_period = v;
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
  if (!args.empty() && args[0] == "image") return kctl::cli::image_command({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "local") args.erase(args.begin());
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::cout << kUsage;
    return 0;
  }
  return local_command(args);
}
