// ControllerManagerProcess: fork and exec of kctl-controller-manager with its output in a log file.
#include "controller_manager_process.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

namespace kctl::test {

ControllerManagerProcess::ControllerManagerProcess(const std::string& apiserver, std::vector<std::string> args)
    : apiserver_(apiserver), dir_(make_temp_dir("controller-manager")), args_(std::move(args)) {
  start();
}

ControllerManagerProcess::~ControllerManagerProcess() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ControllerManagerProcess::start() {
  if (pid_ > 0) return;
  std::vector<std::string> argv = {std::string(KCTL_BIN_DIR) + "/kctl-controller-manager", "--apiserver=" + apiserver_,
                                   "--leader-elect=false"};
  argv.insert(argv.end(), args_.begin(), args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open((dir_ + "/controller-manager.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
}

void ControllerManagerProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

std::string ControllerManagerProcess::log() const {
  std::ifstream in(dir_ + "/controller-manager.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace kctl::test
