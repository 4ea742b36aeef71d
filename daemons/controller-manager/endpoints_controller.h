// The endpoints controller (kube's "endpoint"): for every Service with a selector, an Endpoints object of the same
// name listing the selected pods' addresses (ready ones in addresses, others in notReadyAddresses) and the Service's
// ports resolved per pod; deleted with its Service. The pure helpers are shared with the EndpointSlice controller.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/event_recorder.h"
#include "daemons/controller-manager/controller.h"
#include "daemons/controller-manager/node_predicates.h"  // pod_ready: podutil.IsPodReady

namespace kctl::controllers {

// What kube's endpoints controller writes on an Endpoints besides its subsets (k8s.io/api/core/v1 constants).
inline constexpr const char* kLastChangeTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr const char* kOverCapacityAnnotation = "endpoints.kubernetes.io/over-capacity";
inline constexpr const char* kHeadlessServiceLabel = "service.kubernetes.io/headless";
// Endpoints carrying it are the apiserver's or a leader election's record, never a Service's: left alone.
inline constexpr const char* kLeaderAnnotation = "control-plane.alpha.kubernetes.io/leader";
// An Endpoints lists at most this many addresses (kube's maxCapacity): a bigger Service is truncated and annotated
// over-capacity, since one object holding every address of a huge Service is what EndpointSlices exist to avoid.
inline constexpr size_t kMaxEndpointsAddresses = 1000;

// endpointsliceutil.ShouldPodBeInEndpoints: not terminal (Succeeded/Failed), has an IP, and not being deleted unless
// include_terminating (a Service with publishNotReadyAddresses).
bool pod_in_endpoints(const nlohmann::json& pod, bool include_terminating);
// podutil.FindPort: a number targetPort as is; a name looked up among the pod's container ports of the Service
// port's protocol (and restartable init containers, sidecars). nullopt when the pod has no such port.
std::optional<int> find_port(const nlohmann::json& pod, const nlohmann::json& service_port);
// The pod's IP of the Service's first IP family (status.podIPs, else status.podIP); "" when it has none of that family.
std::string pod_ip_for_service(const nlohmann::json& pod, const nlohmann::json& service);
// True when the Service selects pods: a non-empty spec.selector (an absent or empty one leaves the Endpoints to the
// user, who writes them for Services pointing outside the cluster).
bool service_has_selector(const nlohmann::json& service);

// An EndpointAddress for `pod` behind `service`: ip, nodeName, targetRef (kind Pod), and hostname when the pod's
// subdomain names the Service.
nlohmann::json endpoint_address(const nlohmann::json& pod, const nlohmann::json& service, const std::string& ip);
// endpoints.RepackSubsets: every (address, port) pair regrouped so that addresses offering the same ports share one
// subset (a named targetPort that resolves to different numbers in different pods gives several subsets); an
// address not ready for some port is not ready for it. Sorted, so equal contents compare equal.
nlohmann::json repack_subsets(const nlohmann::json& subsets);

// The Services in `pod`'s namespace whose selector matches its labels (as "ns/name" keys).
std::vector<std::string> services_selecting(const api::Informer& services, const nlohmann::json& pod);
// The pods of `service`'s namespace its selector matches.
std::vector<api::ObjectPtr> pods_selected_by(const api::Informer& pods, const nlohmann::json& service);

struct DesiredEndpoints {
  nlohmann::json subsets = nlohmann::json::array();
  int ready = 0, not_ready = 0;
  bool truncated = false;  // more than kMaxEndpointsAddresses
};
// The subsets kube's syncService computes for `service` from `pods` (already selected by the Service's selector).
DesiredEndpoints desired_endpoints(const nlohmann::json& service, const std::vector<api::ObjectPtr>& pods);

// The time to export as last-change-trigger-time (kube's TriggerTimeTracker): for a Service first seen, its
// creation; afterwards the earliest of the pods' Ready transitions (and the Service's creation) that changed since
// the previous sync of that Service; "" when nothing changed. One caller per key at a time (the work queue's rule).
class TriggerTimeTracker {
 public:
  std::string compute(const std::string& key, const nlohmann::json& service, const std::vector<api::ObjectPtr>& pods);
  void forget(const std::string& key);

 private:
  struct State {
    std::map<std::string, int64_t> pod_times;  // pod name -> Ready lastTransitionTime (s since the epoch)
    int64_t service_time = 0;
  };
  std::mutex mutex_;
  std::map<std::string, State> states_;  // guarded by mutex_
};

class EndpointsController : public Controller {
 public:
  explicit EndpointsController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& key) override;

 private:
  void enqueue_services_of(const nlohmann::json& pod);

  api::Informer& services_;
  api::Informer& pods_;
  api::Informer& endpoints_;
  TriggerTimeTracker triggers_;
  api::EventRecorder recorder_;
};

}  // namespace kctl::controllers
