// Plumbing every kctl daemon shares: command-line flags in kube's --name=value style, logging (the journal when
// journald is there, stderr otherwise), sd_notify, and waiting for SIGTERM/SIGINT.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kctl {

// --name=value, --name value, and --flag for booleans. Unknown flags and missing values are errors.
class Flags {
 public:
  Flags(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}
  void add(const std::string& name, std::string* target, const std::string& help);
  void add(const std::string& name, int* target, const std::string& help);
  void add(const std::string& name, bool* target, const std::string& help);
  // A Go duration as kube's flags take them: "40s", "5m", "1m30s".
  void add(const std::string& name, std::chrono::milliseconds* target, const std::string& help);
  // Runs after the flags are set; a non-empty answer is a usage error (printed, exit 2), as a bad flag is.
  void add_check(std::function<std::string()> check) { checks_.push_back(std::move(check)); }
  // Parses argv; on --help prints usage and exits 0; on error prints the problem and exits 2. A --config=FILE
  // (YAML or JSON, keys named like the flags without dashes) is read first; flags on the command line win.
  void parse(int argc, char** argv);
  std::string usage() const;

 private:
  bool set(const std::string& name, const std::string& value, bool has_value, std::string& error);
  struct Flag {
    enum class Type { String, Int, Bool, Duration } type;
    void* target;
    std::string help;
  };
  std::string program_, summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::function<std::string()>> checks_;
};

}  // namespace kctl

namespace kctl::api {
struct ClientOptions;
}

namespace kctl {

// The flags every daemon reaches the apiserver with: --apiserver=ENDPOINT (dbus:[ADDRESS] or http(s)://HOST:PORT)
// and, for https, kubectl's --certificate-authority, --client-certificate, --client-key and --token; with
// `kubeconfig_flag`, also kube's --kubeconfig=FILE, whose current context gives the server and credentials (the
// other flags, when given, win over it).
void add_apiserver_flags(Flags& flags, std::string* endpoint, api::ClientOptions* options, bool kubeconfig_flag = true);
// Fills what is still unset of `endpoint` (when it is `default_endpoint`) and `options` from the kubeconfig FILE;
// throws api::ConfigError.
void apply_kubeconfig(const std::string& file, const std::string& default_endpoint, std::string* endpoint,
                      api::ClientOptions* options);

enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

// Logs one line. To the journal (with PRIORITY, SYSLOG_IDENTIFIER and the given KEY=value fields) when stderr is
// connected to journald, otherwise to stderr with a timestamp.
void log(LogLevel level, const std::string& message, const std::vector<std::string>& fields = {});
void set_log_identifier(const std::string& identifier);
void set_log_verbosity(LogLevel max_level);

// The journal fields naming the object a log line concerns (OBJECT_KIND=, OBJECT_NAMESPACE=, OBJECT_NAME=).
std::vector<std::string> object_fields(const std::string& kind, const std::string& ns, const std::string& name);

// sd_notify wrappers; harmless without a NOTIFY_SOCKET.
void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();
// When the unit sets WatchdogSec=, pings the watchdog (WATCHDOG=1) at half the interval for as long as `healthy`
// returns true; a daemon that stops being healthy is restarted by systemd. No-op otherwise.
void start_watchdog(std::function<bool()> healthy);
void stop_watchdog();

// Raises the soft limit on open files to the hard limit: every watch is a connection, and the default soft limit of
// 1024 would cap a daemon at fewer watchers than a cluster has components. Returns the new limit.
long raise_fd_limit();

// Blocks SIGTERM and SIGINT in the calling thread (call first in main, before any thread starts, so every thread
// inherits the mask), then wait_for_termination() returns the signal that arrived.
void block_termination_signals();
int wait_for_termination();

}  // namespace kctl
