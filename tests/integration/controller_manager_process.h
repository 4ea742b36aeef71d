// A kctl-controller-manager child process for the controller tests: started against an apiserver with
// --leader-elect=false, off D-Bus (unless the test gives a --dbus flag), and the flags a test gives (which
// controllers, grace periods, CIDRs), its log kept in a temporary directory.
#pragma once

#include <string>
#include <vector>

#include "harness.h"

namespace kctl::test {

class ControllerManagerProcess {
 public:
  // Starts it at once; `args` are added to --apiserver and --leader-elect=false.
  ControllerManagerProcess(const std::string& apiserver, std::vector<std::string> args);
  ~ControllerManagerProcess();  // stop(), then the directory goes
  ControllerManagerProcess(const ControllerManagerProcess&) = delete;
  ControllerManagerProcess& operator=(const ControllerManagerProcess&) = delete;

  void start();
  void stop() { process_.stop(); }  // SIGTERM, wait
  std::string log() const { return process_.log(); }

 private:
  std::string apiserver_, dir_;
  std::vector<std::string> args_;
  ChildProcess process_;
};

}  // namespace kctl::test
