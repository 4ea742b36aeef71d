// The fixture of the endpoints, namespace and garbage collector suites: an apiserver, the controller manager
// running the controllers a test names (the shared ControllerManagerProcess, waited for until its informers have
// listed), a typed client and the real kubectl 1.33.
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/client.h"
#include "controller_manager_process.h"
#include "harness.h"

namespace kctl::test {

// An apiserver, the controller manager running `controllers`, a typed client and kubectl 1.33.
class ControllerTest : public ::testing::Test {
 protected:
  explicit ControllerTest(std::string controllers) : controllers_(std::move(controllers)) {}
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(server_->url()));
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    manager_ = std::make_unique<ControllerManagerProcess>(server_->url(),
                                                          std::vector<std::string>{"--controllers=" + controllers_});
    // It logs "started with" once its informers have listed and its controllers run.
    ASSERT_TRUE(eventually([&] { return manager_->log().find("started with") != std::string::npos; },
                           std::chrono::seconds(30)))
        << "kctl-controller-manager did not start:\n" << manager_->log();
  }
  void TearDown() override {
    if (HasFailure() && manager_) std::cerr << "controller manager log:\n" << manager_->log() << std::endl;
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
