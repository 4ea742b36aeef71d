// `kctl local up|down|status`: a local cluster of the kctl daemons on one machine without systemd as PID 1.
// A supervisor process (what systemd would be) starts the daemons, reaps and restarts them, and stops them in
// reverse order; everything lives under one directory: state, logs, pid files, kubeconfig.
#pragma once

#include <string>
#include <vector>

namespace kctl::cli {

struct LocalClusterOptions {
  std::string dir = "/var/lib/kctl-local";
  int api_port = 8080;
  std::string examples_dir;  // default: examples/ of the source tree the binaries were built from
  bool apply_examples = true;
  int start_timeout_seconds = 30;
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options);

  int up();         // starts the supervisor (if not running), waits, writes the kubeconfig, applies examples
  int down();       // stops everything and removes the directory
  int status();     // 0 when everything that should run does
  int supervise();  // the supervisor's main loop (hidden subcommand `kctl local supervise`)

  struct Component {
    std::string name;  // the binary, e.g. kctl-apiserver
    std::vector<std::string> args;
  };

 private:
  std::vector<Component> components() const;
  std::string path(const std::string& rel) const;
  int supervisor_pid() const;
  bool wait_until_serving(std::string& error) const;
  int apply_examples() const;
  void write_kubeconfig() const;
  std::string api_url() const;

  LocalClusterOptions options_;
};

// The directory of the running executable (to find the daemons built beside it).
std::string executable_dir();
// Looks for a binary beside kctl, then on PATH; returns "" when missing.
std::string find_binary(const std::string& name);
// The pid in a pid file if that process is alive (not a zombie), else 0.
int live_pid_from_file(const std::string& pid_file);

}  // namespace kctl::cli
