// ControllerManagerProcess: the command line of kctl-controller-manager for a test, run as a ChildProcess.
#include "controller_manager_process.h"

#include <algorithm>
#include <filesystem>

namespace kctl::test {

ControllerManagerProcess::ControllerManagerProcess(const std::string& apiserver, std::vector<std::string> args)
    : apiserver_(apiserver), dir_(make_temp_dir("controller-manager")), args_(std::move(args)) {
  start();
}

ControllerManagerProcess::~ControllerManagerProcess() {
  process_.stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ControllerManagerProcess::start() {
  if (process_.pid() > 0) return;
  std::vector<std::string> argv = {std::string(KCTL_BIN_DIR) + "/kctl-controller-manager", "--apiserver=" + apiserver_,
                                   "--leader-elect=false"};
  // Tests never touch the machine's system bus.
  bool dbus_flag = std::any_of(args_.begin(), args_.end(), [](const std::string& a) { return a.rfind("--dbus", 0) == 0; });
  if (!dbus_flag) argv.push_back("--dbus=none");
  argv.insert(argv.end(), args_.begin(), args_.end());
  process_.start(argv, dir_ + "/controller-manager.log");
}

}  // namespace kctl::test
