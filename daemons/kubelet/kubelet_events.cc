// References and messages of the kubelet's Events (see kubelet_events.h).
#include "daemons/kubelet/kubelet_events.h"

#include "daemons/kubelet/kubelet.h"

using nlohmann::json;

namespace kctl::kubelet {

json container_ref(const json& pod, const std::string& container, bool init) {
  json ref = api::object_reference(pod, std::string(init ? "spec.initContainers{" : "spec.containers{") + container + "}");
  // Objects from the informer's list carry no kind; this one is a Pod whatever it says.
  ref["kind"] = "Pod";
  ref["apiVersion"] = "v1";
  return ref;
}

json node_ref(const std::string& node) { return {{"kind", "Node"}, {"name", node}, {"uid", node}}; }

std::string pod_description(const json& pod) {
  auto get = [&](const char* p) { return pod.value(json::json_pointer(p), std::string()); };
  return get("/metadata/name") + "_" + get("/metadata/namespace") + "(" + get("/metadata/uid") + ")";
}

void record_container_event(api::EventRecorder& events, const json& pod, const ContainerRecord& c, api::EventType type,
                            const char* reason, const std::string& message) {
  events.record_reference(container_ref(pod, c.name, c.init), type, reason, message);
}

void record_start_failure(api::EventRecorder& events, const json& pod, const json& spec, const ContainerRecord& c) {
  using api::EventType;
  std::string image = "\"" + spec.value("image", "") + "\"";
  if (c.waiting_reason == "ErrImageNeverPull") {
    record_container_event(events, pod, c, EventType::Warning, reason::kErrImageNeverPull,
                           "Container image " + image + " is not present with pull policy of Never");
    record_container_event(events, pod, c, EventType::Warning, reason::kFailed, "Error: ErrImageNeverPull");
  } else if (c.waiting_reason == "ImagePullBackOff") {
    // kctl pulls nothing: an image that is not in the node's store stays in pull back-off until it is imported.
    record_container_event(events, pod, c, EventType::Normal, reason::kBackOff, "Back-off pulling image " + image);
    record_container_event(events, pod, c, EventType::Warning, reason::kFailed, "Error: ImagePullBackOff");
  } else if (!c.waiting_reason.empty()) {
    record_container_event(events, pod, c, EventType::Warning, reason::kFailed, "Error: " + c.waiting_message);
  }
}

void record_back_off(api::EventRecorder& events, const json& pod, const ContainerRecord& c) {
  record_container_event(events, pod, c, api::EventType::Warning, reason::kBackOff,
                         "Back-off restarting failed container " + c.name + " in pod " + pod_description(pod));
}

}  // namespace kctl::kubelet
