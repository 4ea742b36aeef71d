// EndpointSliceController: the desired slices of a Service and their reconciliation with the slices it has (kept
// when equal, rewritten when their ports match, created or deleted otherwise), writing only what changed.
#include "daemons/controller-manager/endpointslice_controller.h"

#include <algorithm>
#include <map>

#include "daemons/common/daemon.h"

namespace kctl::controllers {

using api::ObjectPtr;
using nlohmann::json;

namespace {

std::string str(const json& obj, const json::json_pointer& p) {
  if (!obj.contains(p)) return "";
  const json& v = obj[p];
  return v.is_string() ? v.get<std::string>() : "";
}

std::string address_type(const json& service) {
  json families = service.value("/spec/ipFamilies"_json_pointer, json::array());
  return !families.empty() && families[0] == "IPv6" ? "IPv6" : "IPv4";
}

json slice_labels(const json& service) {
  json labels = service.value("/metadata/labels"_json_pointer, json::object());
  if (!labels.is_object()) labels = json::object();
  labels[kServiceNameLabel] = str(service, "/metadata/name"_json_pointer);
  labels[kManagedByLabel] = kEndpointSliceControllerName;
  if (str(service, "/spec/clusterIP"_json_pointer) == "None") labels[kHeadlessServiceLabel] = "";
  return labels;
}

json owner_reference(const json& service) {
  return {{"apiVersion", "v1"},          {"kind", "Service"},
          {"name", service["metadata"]["name"]}, {"uid", service["metadata"]["uid"]},
          {"controller", true},          {"blockOwnerDeletion", true}};
}

bool owned_by(const json& slice, const std::string& uid) {
  for (const auto& r : slice.value("/metadata/ownerReferences"_json_pointer, json::array()))
    if (r.value("uid", "") == uid && r.value("controller", false)) return true;
  return false;
}

}  // namespace

std::vector<DesiredSlice> desired_slices(const json& service, const std::vector<ObjectPtr>& pods, size_t max_per_slice) {
  bool publish_not_ready = service.value("/spec/publishNotReadyAddresses"_json_pointer, false);
  json service_ports = service.value("/spec/ports"_json_pointer, json::array());
  std::map<std::string, DesiredSlice> groups;  // ports dump -> every endpoint with those ports
  for (const auto& p : pods) {
    const json& pod = *p;
    // Terminating pods stay, marked so (kube-proxy drains to them while nothing else serves).
    if (!pod_in_endpoints(pod, true)) continue;
    std::string ip = pod_ip_for_service(pod, service);
    if (ip.empty()) continue;
    json ports = json::array();
    for (const auto& sp : service_ports) {
      auto port = find_port(pod, sp);
      if (!port) continue;
      json ep = {{"name", sp.value("name", "")}, {"port", *port}, {"protocol", sp.value("protocol", "TCP")}};
      if (sp.contains("appProtocol")) ep["appProtocol"] = sp["appProtocol"];
      ports.push_back(ep);
    }
    bool terminating = being_deleted(pod);
    bool serving = pod_ready(pod);
    // Never ready while terminating, unless the Service publishes every address.
    bool ready = publish_not_ready || (serving && !terminating);
    json addr = endpoint_address(pod, service, ip);
    json endpoint = {{"addresses", json::array({ip})},
                     {"conditions", {{"ready", ready}, {"serving", serving || publish_not_ready}, {"terminating", terminating}}},
                     {"targetRef", addr["targetRef"]}};
    if (addr.contains("nodeName")) endpoint["nodeName"] = addr["nodeName"];
    if (addr.contains("hostname")) endpoint["hostname"] = addr["hostname"];
    auto& g = groups[ports.dump()];
    g.ports = ports;
    g.endpoints.push_back(endpoint);
  }
  std::vector<DesiredSlice> out;
  for (auto& [dump, g] : groups) {
    std::sort(g.endpoints.begin(), g.endpoints.end(),
              [](const json& a, const json& b) { return a["addresses"][0] < b["addresses"][0]; });
    for (size_t i = 0; i < g.endpoints.size(); i += max_per_slice) {
      DesiredSlice s;
      s.ports = g.ports;
      size_t end = std::min(g.endpoints.size(), i + max_per_slice);
      s.endpoints = json(std::vector<json>(g.endpoints.begin() + std::ptrdiff_t(i), g.endpoints.begin() + std::ptrdiff_t(end)));
      out.push_back(std::move(s));
    }
  }
  return out;
}

EndpointSliceController::EndpointSliceController(ControllerContext& context)
    : Controller("endpointslice", context),
      services_(context.informer("services")),
      pods_(context.informer("pods")),
      slices_(context.informer("endpointslices.discovery.k8s.io")) {
  auto service_key = [this](const ObjectPtr& s) { enqueue(key_of(*s)); };
  services_.add_handler({service_key, [service_key](const ObjectPtr&, const ObjectPtr& s) { service_key(s); },
                         service_key});
  auto pod_changed = [this](const ObjectPtr& p) {
    for (const auto& key : services_selecting(services_, *p)) enqueue(key);
  };
  pods_.add_handler({pod_changed,
                     [this, pod_changed](const ObjectPtr& old_pod, const ObjectPtr& pod) {
                       if (old_pod != pod) pod_changed(old_pod);
                       pod_changed(pod);
                     },
                     pod_changed});
  // A managed slice changed or deleted by someone else: its Service is looked at again.
  auto slice_changed = [this](const ObjectPtr& s) {
    if (str(*s, json::json_pointer("/metadata/labels/endpointslice.kubernetes.io~1managed-by")) !=
        kEndpointSliceControllerName)
      return;
    std::string service = str(*s, json::json_pointer("/metadata/labels/kubernetes.io~1service-name"));
    if (!service.empty()) enqueue(str(*s, "/metadata/namespace"_json_pointer) + "/" + service);
  };
  slices_.add_handler({slice_changed, [slice_changed](const ObjectPtr&, const ObjectPtr& s) { slice_changed(s); },
                       [this, slice_changed](const ObjectPtr& s) {
                         // Gone, whoever deleted it: nothing more to wait for about it.
                         std::string service = str(*s, json::json_pointer("/metadata/labels/kubernetes.io~1service-name"));
                         {
                           std::lock_guard lock(expected_mutex_);
                           auto it = expected_.find(str(*s, "/metadata/namespace"_json_pointer) + "/" + service);
                           if (it != expected_.end()) it->second.erase(str(*s, "/metadata/name"_json_pointer));
                         }
                         slice_changed(s);
                       }});
}

bool EndpointSliceController::cache_is_stale(const std::string& service_key) {
  std::string ns = service_key.substr(0, service_key.find('/'));
  std::lock_guard lock(expected_mutex_);
  auto it = expected_.find(service_key);
  if (it == expected_.end()) return false;
  for (auto e = it->second.begin(); e != it->second.end();) {
    ObjectPtr cached = slices_.get(ns + "/" + e->first);
    bool seen = e->second < 0 ? !cached
                              : cached && std::stoll(str(*cached, "/metadata/resourceVersion"_json_pointer)) >= e->second;
    if (!seen) return true;
    e = it->second.erase(e);
  }
  expected_.erase(it);
  return false;
}

void EndpointSliceController::expect(const std::string& service_key, const std::string& slice, int64_t rv) {
  std::lock_guard lock(expected_mutex_);
  expected_[service_key][slice] = rv;
}

void EndpointSliceController::resync() {
  for (const auto& s : services_.list()) enqueue(key_of(*s));
}

void EndpointSliceController::sync(const std::string& key) {
  auto slash = key.find('/');
  std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  ObjectPtr service = services_.get(key);
  if (!service) {
    // Its slices are owned by it: the garbage collector deletes them.
    triggers_.forget(key);
    return;
  }
  // Without a selector the slices are the user's (or the mirroring of the user's Endpoints).
  if (!service_has_selector(*service) || being_deleted(*service)) return;
  if (cache_is_stale(key)) return;  // the awaited slice event queues it again

  std::vector<ObjectPtr> pods = pods_selected_by(pods_, *service);
  std::vector<DesiredSlice> want = desired_slices(*service, pods);
  if (want.empty()) want.push_back({});  // the placeholder
  std::string trigger = triggers_.compute(key, *service, pods);
  std::string uid = str(*service, "/metadata/uid"_json_pointer);
  json labels = slice_labels(*service);
  std::string type = address_type(*service);

  std::vector<ObjectPtr> have;
  for (const auto& s : slices_.by_index(api::index::kLabel, std::string(kServiceNameLabel) + "=" + name))
    if (str(*s, "/metadata/namespace"_json_pointer) == ns && owned_by(*s, uid) &&
        str(*s, json::json_pointer("/metadata/labels/endpointslice.kubernetes.io~1managed-by")) ==
            kEndpointSliceControllerName)
      have.push_back(s);
  std::sort(have.begin(), have.end(), [](const ObjectPtr& a, const ObjectPtr& b) { return key_of(*a) < key_of(*b); });

  auto same_ports = [](const json& slice, const DesiredSlice& d) { return slice.value("ports", json::array()) == d.ports; };
  auto same_all = [&](const json& slice, const DesiredSlice& d) {
    return same_ports(slice, d) && slice.value("endpoints", json::array()) == d.endpoints &&
           slice.value("addressType", "") == type && slice.value("/metadata/labels"_json_pointer, json::object()) == labels;
  };
  // Pair each desired slice with an existing one: an identical one first, then one with the same ports.
  std::vector<ObjectPtr> match(want.size());
  std::vector<bool> used(have.size(), false);
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < want.size(); ++i) {
      if (match[i]) continue;
      for (size_t j = 0; j < have.size(); ++j)
        if (!used[j] && (pass == 0 ? same_all(*have[j], want[i]) : same_ports(*have[j], want[i]))) {
          match[i] = have[j];
          used[j] = true;
          break;
        }
    }
  // Slices whose ports no longer occur are reused for new port sets rather than deleted and created.
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t j = 0; j < have.size() && !match[i]; ++j)
      if (!used[j] && str(*have[j], "/addressType"_json_pointer) == type) {
        match[i] = have[j];
        used[j] = true;
      }

  api::ResourceClient client = context_.client("endpointslices.discovery.k8s.io", ns);
  auto fill = [&](json& slice, const DesiredSlice& d) {
    slice["metadata"]["labels"] = labels;
    json annotations = slice["metadata"].value("annotations", json::object());
    if (!trigger.empty()) annotations[kLastChangeTriggerTimeAnnotation] = trigger;
    if (annotations.empty())
      slice["metadata"].erase("annotations");
    else
      slice["metadata"]["annotations"] = annotations;
    slice["addressType"] = type;
    slice["endpoints"] = d.endpoints;
    if (d.ports.empty())
      slice.erase("ports");
    else
      slice["ports"] = d.ports;
  };
  for (size_t i = 0; i < want.size(); ++i) {
    if (match[i]) {
      if (same_all(*match[i], want[i])) continue;
      json slice = *match[i];
      fill(slice, want[i]);
      json written = client.update(slice);  // 409: retried from a fresher cache
      expect(key, str(written, "/metadata/name"_json_pointer), std::stoll(str(written, "/metadata/resourceVersion"_json_pointer)));
      continue;
    }
    json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                  {"kind", "EndpointSlice"},
                  {"metadata", {{"generateName", name + "-"}, {"namespace", ns},
                                {"ownerReferences", json::array({owner_reference(*service)})}}}};
    fill(slice, want[i]);
    try {
      json written = client.create(slice);
      expect(key, str(written, "/metadata/name"_json_pointer), std::stoll(str(written, "/metadata/resourceVersion"_json_pointer)));
    } catch (const api::StatusError& e) {
      if (e.status().code == 403) return;  // its namespace is being deleted
      throw;
    }
  }
  for (size_t j = 0; j < have.size(); ++j) {
    if (used[j]) continue;
    try {
      client.remove(str(*have[j], "/metadata/name"_json_pointer));
      expect(key, str(*have[j], "/metadata/name"_json_pointer), -1);
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;
    }
  }
}

}  // namespace kctl::controllers
