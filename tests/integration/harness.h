// Test harness for the integration suites: real daemons as child processes on free ports with temporary
// directories, private D-Bus daemons, commands run with captured output, and the real kubectl with a private
// kubeconfig and cache.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http_client.h"

namespace kctl::test {

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

// Runs argv (argv[0] looked up on PATH), feeding `input` to stdin; waits at most timeout_seconds (then kills).
CmdResult run(const std::vector<std::string>& argv, const std::string& input = "", int timeout_seconds = 60);
int free_port();
std::string make_temp_dir(const std::string& tag);
std::string write_file(const std::string& dir, const std::string& name, const std::string& content);

// A daemon as a child process, its stdout and stderr appended to a log file. Stopped (SIGTERM, then waited for)
// when destroyed.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  void start(const std::vector<std::string>& argv, const std::string& log_path);  // argv[0]: a path
  void stop();   // SIGTERM, wait
  void kill9();  // SIGKILL, wait
  int pid() const { return pid_; }
  std::string log() const;

 private:
  int pid_ = 0;
  std::string log_path_;
};

// A private dbus-daemon child process with the kctl policy (units/org.kctl.conf), any local user allowed to
// connect (its directory is world-readable so a test can call it as nobody).
class DbusDaemon {
 public:
  DbusDaemon();   // waits until it listens
  ~DbusDaemon();  // SIGTERM, wait, remove the directory
  const std::string& address() const { return address_; }  // unix:path=...
  std::string endpoint() const { return "dbus:" + address_; }  // for api::make_transport
  std::string apiserver_flag() const { return "--dbus-address=" + address_; }

 private:
  std::string dir_, address_;
  int pid_ = 0;
};

// A kctl-apiserver child process. Without a --dbus or --dbus-address flag in extra_args it runs with --dbus=none:
// tests never touch the machine's system bus; without --secure-port, with --secure-port=0 (no HTTPS): tests never
// take the default 6443.
class ApiServerProcess {
 public:
  explicit ApiServerProcess(std::vector<std::string> extra_args = {});
  ~ApiServerProcess();
  void start();       // waits until /readyz answers
  void stop();        // SIGTERM, wait
  void kill9();       // SIGKILL, wait
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  http::Client& client() { return *client_; }
  std::string log() const;

 private:
  std::vector<std::string> extra_;
  std::string dir_;
  int port_;
  ChildProcess process_;
  std::unique_ptr<http::Client> client_;
};

// The real kubectl against a server, with a private kubeconfig, HOME and discovery cache.
class Kubectl {
 public:
  // version: "" for kubectl.1.33 when present (else `kubectl`), or "1.27", "1.32", ... for kubectl.<version>.
  explicit Kubectl(const std::string& server, const std::string& version = "");
  CmdResult operator()(const std::vector<std::string>& args, const std::string& input = "", int timeout = 60) const;
  const std::string& binary() const { return binary_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  static std::string find(const std::string& version);

 private:
  std::string binary_, dir_, kubeconfig_;
};

// A test CA with a serving certificate for 127.0.0.1 and localhost and a client certificate (CN admin, O
// system:masters), all made with the openssl command into a temporary directory; and a second CA nobody trusts.
struct TestPki {
  TestPki();
  ~TestPki();
  // kctl-apiserver's flags to serve HTTPS on 127.0.0.1:port with these certificates.
  std::vector<std::string> apiserver_flags(int port) const;
  std::string dir, ca_cert, server_cert, server_key, client_cert, client_key, other_ca_cert;
};

nlohmann::json parse_json(const std::string& s);

// The permission bits of a file (0600), 0 when it does not exist.
unsigned mode_of(const std::string& path);

// Polls cond every 20 ms until it holds or `timeout` passes; the last answer counts.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace kctl::test
