// The EndpointSlice controller ("endpointslice"), as kube's pkg/controller/endpointslice: for every Service with a
// selector, discovery.k8s.io/v1 EndpointSlices listing its pods with their conditions (ready, serving,
// terminating), one group of slices per distinct set of resolved ports, owned by the Service (the garbage collector
// deletes them with it). kubectl 1.33's `describe service` and kube-proxy read these, not Endpoints.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemons/controller-manager/endpoints_controller.h"

namespace kctl::controllers {

// The labels every managed slice carries (k8s.io/api/discovery/v1 LabelServiceName, LabelManagedBy).
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr const char* kEndpointSliceControllerName = "endpointslice-controller.k8s.io";
// Endpoints per slice: kube-controller-manager's --max-endpoints-per-slice default. Small slices keep a change
// to one pod a small write for every watcher.
inline constexpr size_t kMaxEndpointsPerSlice = 100;

struct DesiredSlice {
  nlohmann::json ports = nlohmann::json::array();      // EndpointPorts, the same for every endpoint of the slice
  nlohmann::json endpoints = nlohmann::json::array();  // sorted by address
};
// The slices `service`'s pods make, without names: pods grouped by the ports they resolve, each group cut into
// slices of at most `max_per_slice`. An empty result means a single placeholder slice (kube keeps one, so that a
// Service without endpoints still has a slice saying so).
std::vector<DesiredSlice> desired_slices(const nlohmann::json& service, const std::vector<api::ObjectPtr>& pods,
                                         size_t max_per_slice = kMaxEndpointsPerSlice);

class EndpointSliceController : public Controller {
 public:
  explicit EndpointSliceController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  // kube's EndpointSliceTracker: the slices this controller wrote (their resourceVersion) or deleted (-1), per
  // Service, until the informer shows them. A sync that would read a cache older than its own writes (and create
  // a slice twice) waits instead for the slice's event, which queues the Service again.
  bool cache_is_stale(const std::string& service_key);
  void expect(const std::string& service_key, const std::string& slice, int64_t resource_version);

  api::Informer& services_;
  api::Informer& pods_;
  api::Informer& slices_;
  TriggerTimeTracker triggers_;
  std::mutex expected_mutex_;
  std::map<std::string, std::map<std::string, int64_t>> expected_;  // guarded by expected_mutex_
};

}  // namespace kctl::controllers
