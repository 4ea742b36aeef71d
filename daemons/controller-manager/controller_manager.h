// kctl-controller-manager's core: the controllers it runs (each by the name kube-controller-manager gives it), the
// informers they share, and Lease leader election: only the leader's controllers act, so two copies can run.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/leader_election.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

struct ControllerManagerOptions {
  std::string apiserver = "dbus:";
  api::ClientOptions client;
  ControllerOptions controllers;
  // --controllers: "*" for every controller, names to pick, "-name" to leave one out ("*,-nodelifecycle").
  std::vector<std::string> enabled = {"*"};
  bool leader_elect = true;
  api::LeaderElectionConfig election;  // the Lease: kube-system/kube-controller-manager
};

using ControllerFactory = std::function<ControllerPtr(ControllerContext&)>;
// Every controller, by the name --controllers knows it: adding a controller is one line there.
const std::vector<std::pair<std::string, ControllerFactory>>& known_controllers();

class ControllerManager {
 public:
  explicit ControllerManager(ControllerManagerOptions options);  // throws std::invalid_argument for bad --controllers
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Campaigns for the Lease (or not, without leader election) and, once leading, starts the informers and the
  // controllers. `lost` is called (from another thread) when leadership is lost after it was held: the daemon then
  // exits and is restarted, as kube-controller-manager does, since its caches and queues can no longer be trusted.
  void start(std::function<void()> lost = {});
  void stop();

  bool leading() const { return leading_; }
  std::vector<Controller*> controllers() const;
  Controller* controller(const std::string& name) const;  // null when not running

 private:
  void start_controllers();

  ControllerManagerOptions options_;
  api::TransportPtr transport_;
  std::unique_ptr<api::InformerFactory> informers_;
  std::unique_ptr<ControllerContext> context_;
  std::vector<ControllerPtr> controllers_;
  std::unique_ptr<api::LeaderElector> elector_;
  std::thread election_thread_;
  std::atomic<bool> leading_{false};
  std::function<void()> lost_;
};

// Whether --controllers (already split at commas) turns on the controller `name`.
bool controller_enabled(const std::vector<std::string>& enabled, const std::string& name);

}  // namespace kctl::controllers
