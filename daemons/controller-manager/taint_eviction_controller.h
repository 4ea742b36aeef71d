// Taint-based eviction ("taint-eviction-controller", kube's tainteviction package): a pod on a node with NoExecute
// taints is deleted at once when it does not tolerate one of them, after the shortest tolerationSeconds of the
// tolerations it uses when they all have one, and never when one tolerates for ever. Every pod gets 300 s
// tolerations of not-ready and unreachable from the apiserver's DefaultTolerationSeconds admission.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "api/event_recorder.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

class TaintEvictionController : public Controller {
 public:
  explicit TaintEvictionController(ControllerContext& context);
  ~TaintEvictionController() override;
  void resync() override;

 protected:
  void sync(const std::string& key) override;  // a pod's "namespace/name"

 private:
  using WallClock = std::chrono::system_clock;
  // When the node's NoExecute taints began: the earliest timeAdded, or when this controller first saw them.
  WallClock::time_point taints_since(const std::string& node_name, const nlohmann::json& taints);
  void cancel(const std::string& key);
  void evict(const nlohmann::json& pod);
  void enqueue_pods_on(const std::string& node_name);

  api::Informer& nodes_;
  api::Informer& pods_;
  api::EventRecorder events_;
  std::mutex mutex_;
  std::map<std::string, WallClock::time_point> first_seen_;  // node -> when its NoExecute taints were seen; mutex_
  std::map<std::string, WallClock::time_point> scheduled_;   // pod key -> when it is to be deleted; mutex_
};

}  // namespace kctl::controllers
