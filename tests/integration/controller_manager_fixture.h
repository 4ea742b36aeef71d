// The controller manager as the integration suites run it: a kctl-controller-manager child process against a test
// apiserver (no leader election, the controllers a test names), and a fixture with the apiserver, a client and the
// real kubectl beside it.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/client.h"
#include "harness.h"

namespace kctl::test {

class ControllerManagerProcess {
 public:
  ControllerManagerProcess(const std::string& apiserver_url, const std::string& controllers,
                           std::vector<std::string> extra_args = {})
      : dir_(make_temp_dir("controller-manager")) {
    std::vector<std::string> args = {std::string(KCTL_BIN_DIR) + "/kctl-controller-manager",
                                     "--apiserver=" + apiserver_url, "--leader-elect=false",
                                     "--controllers=" + controllers};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open((dir_ + "/controller-manager.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> a;
      for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    // It logs "started with" once its informers have listed and its controllers run.
    bool started = eventually([&] { return log().find("started with") != std::string::npos; }, std::chrono::seconds(30));
    if (!started) ADD_FAILURE() << "kctl-controller-manager did not start:\n" << log();
  }
  ~ControllerManagerProcess() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ControllerManagerProcess(const ControllerManagerProcess&) = delete;
  ControllerManagerProcess& operator=(const ControllerManagerProcess&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  std::string log() const {
    std::ifstream in(dir_ + "/controller-manager.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string dir_;
  int pid_ = 0;
};

// An apiserver, the controller manager running `controllers`, a typed client and kubectl 1.33.
class ControllerTest : public ::testing::Test {
 protected:
  explicit ControllerTest(std::string controllers) : controllers_(std::move(controllers)) {}
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    manager_ = std::make_unique<ControllerManagerProcess>(server_->url(), controllers_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "controller manager log:\n" << manager_->log() << std::endl;
    manager_.reset();
    kubectl_.reset();
    client_.reset();
    server_.reset();
  }
  api::ResourceClient resource(const std::string& name, const std::string& ns = "default") {
    return client_->resource(name, ns);
  }
  // The object, or null when the server answers 404.
  nlohmann::json get_or_null(const std::string& resource_name, const std::string& name,
                             const std::string& ns = "default") {
    try {
      return resource(resource_name, ns).get(name);
    } catch (const api::StatusError& e) {
      if (e.status().code == 404) return nullptr;
      throw;
    }
  }

  std::string controllers_;
  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<api::Client> client_;
  std::unique_ptr<Kubectl> kubectl_;
  std::unique_ptr<ControllerManagerProcess> manager_;
};

}  // namespace kctl::test
