// EndpointsController: Services and pods in, Endpoints out, as kube's pkg/controller/endpoint does it (the subsets,
// their repacking, the trigger-time annotation, writes only on change), and the helpers it shares with the
// EndpointSlice controller.
#include "daemons/controller-manager/endpoints_controller.h"

#include <algorithm>
#include <set>

#include "api/go_json.h"
#include "api/selector.h"
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

int64_t seconds_of(const std::string& rfc3339) {
  auto t = api::parse_rfc3339(rfc3339);
  return t ? t->seconds : 0;
}

std::string format_seconds(int64_t s) { return api::format_rfc3339(s, 0, false).value_or(""); }

// The Ready condition's lastTransitionTime: when the pod last went in or out of the Service (getPodTriggerTime).
int64_t pod_trigger_time(const json& pod) {
  for (const auto& c : pod.value("/status/conditions"_json_pointer, json::array()))
    if (c.value("type", "") == "Ready") return seconds_of(c.value("lastTransitionTime", ""));
  return 0;
}

bool is_ipv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

// An address's identity when repacking: its IP and the pod it stands for (two pods may share an IP: hostNetwork).
std::string address_key(const json& addr) {
  return addr.value("ip", "") + "|" + addr.value("/targetRef/uid"_json_pointer, std::string());
}

// The Endpoints fields the controller owns, with what the apiserver or a former write added that kube ignores
// when it compares (a targetRef's resourceVersion).
json comparable_subsets(const json& subsets) {
  json out = subsets.is_array() ? subsets : json::array();
  for (auto& s : out)
    for (const char* list : {"addresses", "notReadyAddresses"})
      if (s.contains(list))
        for (auto& a : s[list])
          if (a.contains("targetRef")) a["targetRef"].erase("resourceVersion");
  return out;
}

json labels_for(const json& service) {
  json labels = service.value("/metadata/labels"_json_pointer, json::object());
  if (!labels.is_object()) labels = json::object();
  // A headless Service's Endpoints say so, for kube-proxy to skip them.
  if (service.value("/spec/clusterIP"_json_pointer, std::string()) == "None") labels[kHeadlessServiceLabel] = "";
  return labels;
}

size_t address_count(const json& subsets) {
  size_t n = 0;
  for (const auto& s : subsets)
    n += s.value("addresses", json::array()).size() + s.value("notReadyAddresses", json::array()).size();
  return n;
}

// Keeps kMaxEndpointsAddresses addresses, ready ones first (kube spreads the cut over the subsets; what a client
// must learn from it is the over-capacity annotation, and that ready addresses are kept before others).
void truncate(json& subsets) {
  size_t budget = kMaxEndpointsAddresses;
  for (const char* list : {"addresses", "notReadyAddresses"})
    for (auto& s : subsets) {
      if (!s.contains(list)) continue;
      json& addrs = s[list];
      if (addrs.size() > budget) addrs.erase(addrs.begin() + std::ptrdiff_t(budget), addrs.end());
      budget -= addrs.size();
      if (addrs.empty()) s.erase(list);
    }
  subsets.erase(std::remove_if(subsets.begin(), subsets.end(),
                               [](const json& s) { return !s.contains("addresses") && !s.contains("notReadyAddresses"); }),
                subsets.end());
}

}  // namespace

bool pod_in_endpoints(const json& pod, bool include_terminating) {
  std::string phase = str(pod, "/status/phase"_json_pointer);
  if (phase == "Succeeded" || phase == "Failed") return false;
  if (str(pod, "/status/podIP"_json_pointer).empty() &&
      pod.value("/status/podIPs"_json_pointer, json::array()).empty())
    return false;
  return include_terminating || !being_deleted(pod);
}

std::optional<int> find_port(const json& pod, const json& service_port) {
  json target = service_port.value("targetPort", json());
  if (target.is_number_integer()) return target.get<int>();
  if (!target.is_string()) return std::nullopt;
  std::string name = target.get<std::string>();
  // A number written as a string ("8080") is a number for intstr too.
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  std::string protocol = service_port.value("protocol", "TCP");
  auto look = [&](const json& containers, bool sidecars_only) -> std::optional<int> {
    for (const auto& c : containers) {
      if (sidecars_only && c.value("restartPolicy", "") != "Always") continue;
      for (const auto& p : c.value("ports", json::array()))
        if (p.value("name", "") == name && p.value("protocol", "TCP") == protocol)
          return p.value("containerPort", 0);
    }
    return std::nullopt;
  };
  if (auto p = look(pod.value("/spec/containers"_json_pointer, json::array()), false)) return p;
  return look(pod.value("/spec/initContainers"_json_pointer, json::array()), true);
}

std::string pod_ip_for_service(const json& pod, const json& service) {
  json families = service.value("/spec/ipFamilies"_json_pointer, json::array());
  bool want_v6 = !families.empty() && families[0] == "IPv6";
  for (const auto& ip : pod.value("/status/podIPs"_json_pointer, json::array())) {
    std::string s = ip.value("ip", "");
    if (!s.empty() && is_ipv6(s) == want_v6) return s;
  }
  std::string ip = str(pod, "/status/podIP"_json_pointer);
  return !ip.empty() && is_ipv6(ip) == want_v6 ? ip : "";
}

bool service_has_selector(const json& service) {
  json sel = service.value("/spec/selector"_json_pointer, json());
  return sel.is_object() && !sel.empty();
}

json endpoint_address(const json& pod, const json& service, const std::string& ip) {
  json addr = {{"ip", ip}};
  std::string hostname = str(pod, "/spec/hostname"_json_pointer);
  if (!hostname.empty() && str(pod, "/spec/subdomain"_json_pointer) == str(service, "/metadata/name"_json_pointer))
    addr["hostname"] = hostname;
  std::string node = str(pod, "/spec/nodeName"_json_pointer);
  if (!node.empty()) addr["nodeName"] = node;
  addr["targetRef"] = {{"kind", "Pod"},
                       {"namespace", str(pod, "/metadata/namespace"_json_pointer)},
                       {"name", str(pod, "/metadata/name"_json_pointer)},
                       {"uid", str(pod, "/metadata/uid"_json_pointer)}};
  return addr;
}

json repack_subsets(const json& subsets) {
  // Each distinct port, with the addresses offering it and whether each is ready there. A subset without ports
  // (a headless Service without ports) keeps its addresses under a port-less sentinel.
  std::map<std::string, json> addresses;  // address key -> the address
  std::map<std::string, std::pair<json, std::map<std::string, bool>>> by_port;  // port dump -> port, addresses
  for (const auto& s : subsets) {
    json ports = s.value("ports", json::array());
    if (ports.empty()) ports = json::array({nullptr});
    for (const auto& port : ports) {
      auto& [p, addrs] = by_port[port.dump()];
      p = port;
      for (const auto& [list, ready] : {std::pair{"addresses", true}, std::pair{"notReadyAddresses", false}})
        for (const auto& a : s.value(list, json::array())) {
          std::string k = address_key(a);
          addresses.emplace(k, a);
          auto [it, fresh] = addrs.emplace(k, ready);
          if (!fresh && it->second) it->second = ready;  // not ready trumps ready
        }
    }
  }
  // Ports grouped by the exact set of (address, readiness) offering them: one subset per group.
  std::map<std::string, std::pair<const std::map<std::string, bool>*, json>> groups;
  for (const auto& [dump, entry] : by_port) {
    std::string signature;
    for (const auto& [k, ready] : entry.second) signature += k + (ready ? "+" : "-") + ";";
    auto& g = groups[signature];
    g.first = &entry.second;
    if (!g.second.is_array()) g.second = json::array();
    if (!entry.first.is_null()) g.second.push_back(entry.first);
  }
  json out = json::array();
  for (const auto& [signature, g] : groups) {
    json subset = json::object();
    json ready = json::array(), not_ready = json::array();
    for (const auto& [k, is_ready] : *g.first) (is_ready ? ready : not_ready).push_back(addresses[k]);
    auto by_ip = [](const json& a, const json& b) { return address_key(a) < address_key(b); };
    std::sort(ready.begin(), ready.end(), by_ip);
    std::sort(not_ready.begin(), not_ready.end(), by_ip);
    if (!ready.empty()) subset["addresses"] = ready;
    if (!not_ready.empty()) subset["notReadyAddresses"] = not_ready;
    if (!g.second.empty()) subset["ports"] = g.second;
    if (!ready.empty() || !not_ready.empty()) out.push_back(subset);
  }
  // A stable order: by the first address, then the ports.
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    auto first = [](const json& s) {
      const json& l = s.contains("addresses") ? s["addresses"] : s["notReadyAddresses"];
      return address_key(l[0]);
    };
    auto fa = first(a), fb = first(b);
    if (fa != fb) return fa < fb;
    return a.value("ports", json::array()).dump() < b.value("ports", json::array()).dump();
  });
  return out;
}

DesiredEndpoints desired_endpoints(const json& service, const std::vector<ObjectPtr>& pods) {
  DesiredEndpoints d;
  bool tolerate_unready = service.value("/spec/publishNotReadyAddresses"_json_pointer, false);
  json service_ports = service.value("/spec/ports"_json_pointer, json::array());
  bool headless = str(service, "/spec/clusterIP"_json_pointer) == "None";
  json subsets = json::array();
  for (const auto& pod_ptr : pods) {
    const json& pod = *pod_ptr;
    if (!pod_in_endpoints(pod, tolerate_unready)) continue;
    std::string ip = pod_ip_for_service(pod, service);
    if (ip.empty()) continue;  // none of the Service's family
    json addr = endpoint_address(pod, service, ip);
    bool ready = tolerate_unready || pod_ready(pod);
    auto add = [&](const json& ports) {
      json subset = {{ready ? "addresses" : "notReadyAddresses", json::array({addr})}, {"ports", ports}};
      subsets.push_back(subset);
      (ready ? d.ready : d.not_ready)++;
    };
    // A headless Service without ports still lists its pods' addresses (for DNS).
    if (service_ports.empty() && headless) add(json::array());
    for (const auto& sp : service_ports) {
      auto port = find_port(pod, sp);
      if (!port) continue;  // this pod does not serve that port
      json ep = {{"port", *port}, {"protocol", sp.value("protocol", "TCP")}};
      if (!sp.value("name", "").empty()) ep["name"] = sp["name"];
      if (sp.contains("appProtocol")) ep["appProtocol"] = sp["appProtocol"];
      add(json::array({ep}));
    }
  }
  d.subsets = repack_subsets(subsets);
  if (address_count(d.subsets) > kMaxEndpointsAddresses) {
    truncate(d.subsets);
    d.truncated = true;
  }
  return d;
}

std::vector<std::string> services_selecting(const api::Informer& services, const json& pod) {
  std::vector<std::string> out;
  json labels = pod.value("/metadata/labels"_json_pointer, json::object());
  for (const auto& s : services.by_index(api::index::kNamespace, str(pod, "/metadata/namespace"_json_pointer))) {
    if (!service_has_selector(*s)) continue;
    auto sel = (*s)["spec"]["selector"].get<std::map<std::string, std::string>>();
    if (api::LabelSelector::from_set(sel).matches(labels)) out.push_back(key_of(*s));
  }
  return out;
}

std::vector<ObjectPtr> pods_selected_by(const api::Informer& pods, const json& service) {
  std::vector<ObjectPtr> out;
  if (!service_has_selector(service)) return out;
  auto selector = api::LabelSelector::from_set(service["spec"]["selector"].get<std::map<std::string, std::string>>());
  for (auto& p : pods.by_index(api::index::kNamespace, str(service, "/metadata/namespace"_json_pointer)))
    if (selector.matches(p->value("/metadata/labels"_json_pointer, json::object()))) out.push_back(p);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

std::string TriggerTimeTracker::compute(const std::string& key, const json& service,
                                        const std::vector<ObjectPtr>& pods) {
  State fresh;
  int64_t min_changed = 0;
  std::lock_guard lock(mutex_);
  auto it = states_.find(key);
  bool known = it != states_.end();
  for (const auto& p : pods) {
    int64_t t = pod_trigger_time(*p);
    if (t == 0) continue;
    std::string name = str(*p, "/metadata/name"_json_pointer);
    fresh.pod_times[name] = t;
    int64_t before = 0;
    if (known)
      if (auto pt = it->second.pod_times.find(name); pt != it->second.pod_times.end()) before = pt->second;
    if (t > before && (min_changed == 0 || t < min_changed)) min_changed = t;
  }
  fresh.service_time = seconds_of(str(service, "/metadata/creationTimestamp"_json_pointer));
  if (known && fresh.service_time > it->second.service_time && (min_changed == 0 || fresh.service_time < min_changed))
    min_changed = fresh.service_time;
  states_[key] = fresh;
  if (!known) return format_seconds(fresh.service_time);
  return min_changed ? format_seconds(min_changed) : "";
}

void TriggerTimeTracker::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  states_.erase(key);
}

// ---------------------------------------------------------------------------------------------------------------

EndpointsController::EndpointsController(ControllerContext& context)
    : Controller("endpoint", context),
      services_(context.informer("services")),
      pods_(context.informer("pods")),
      endpoints_(context.informer("endpoints")),
      recorder_(context.transport, {"endpoint-controller", ""}) {
  auto service_key = [this](const ObjectPtr& s) { enqueue(key_of(*s)); };
  services_.add_handler({service_key, [service_key](const ObjectPtr&, const ObjectPtr& s) { service_key(s); },
                         service_key});
  pods_.add_handler({[this](const ObjectPtr& p) { enqueue_services_of(*p); },
                     [this](const ObjectPtr& old_pod, const ObjectPtr& pod) {
                       // A pod whose labels changed may have left a Service: both sides are looked at.
                       if (old_pod != pod &&
                           old_pod->value("/metadata/labels"_json_pointer, json()) !=
                               pod->value("/metadata/labels"_json_pointer, json()))
                         enqueue_services_of(*old_pod);
                       enqueue_services_of(*pod);
                     },
                     [this](const ObjectPtr& p) { enqueue_services_of(*p); }});
  endpoints_.add_handler({[this](const ObjectPtr& ep) {
                            // checkLeftoverEndpoints: an Endpoints found at start whose Service is gone was left by
                            // a Service deleted while no controller ran; its sync deletes it.
                            if (!endpoints_.has_synced() &&
                                !ep->contains(json::json_pointer("/metadata/annotations/control-plane.alpha.kubernetes.io~1leader")))
                              enqueue(key_of(*ep));
                          },
                          nullptr,
                          // Deleted by someone else while its Service selects pods: written again.
                          [this](const ObjectPtr& ep) { enqueue(key_of(*ep)); }});
}

void EndpointsController::resync() {
  for (const auto& s : services_.list()) enqueue(key_of(*s));
}

void EndpointsController::enqueue_services_of(const json& pod) {
  for (const auto& key : services_selecting(services_, pod)) enqueue(key);
}

void EndpointsController::sync(const std::string& key) {
  auto slash = key.find('/');
  std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  auto client = context_.client("endpoints", ns);
  ObjectPtr service = services_.get(key);
  if (!service) {
    // The Service is gone: so is its Endpoints (kube deletes it whoever wrote it).
    triggers_.forget(key);
    if (!endpoints_.get(key)) return;
    try {
      client.remove(name);
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;
    }
    return;
  }
  // Without a selector the Endpoints are the user's.
  if (!service_has_selector(*service)) return;
  if (being_deleted(*service)) return;  // it goes; its Endpoints with it once it is gone

  std::vector<ObjectPtr> pods = pods_selected_by(pods_, *service);
  DesiredEndpoints want = desired_endpoints(*service, pods);
  std::string trigger = triggers_.compute(key, *service, pods);
  json labels = labels_for(*service);

  ObjectPtr current = endpoints_.get(key);
  if (current) {
    json have_labels = current->value("/metadata/labels"_json_pointer, json::object());
    bool capacity_ok = current->contains(json::json_pointer("/metadata/annotations/endpoints.kubernetes.io~1over-capacity")) ==
                       want.truncated;
    if (comparable_subsets(current->value("subsets", json::array())) == want.subsets && have_labels == labels &&
        capacity_ok)
      return;  // nothing to write
  }
  json ep = current ? *current : json{{"apiVersion", "v1"}, {"kind", "Endpoints"},
                                      {"metadata", {{"name", name}, {"namespace", ns}}}};
  json& meta = ep["metadata"];
  meta["labels"] = labels;
  if (meta["labels"].empty()) meta.erase("labels");
  json annotations = meta.value("annotations", json::object());
  if (!trigger.empty())
    annotations[kLastChangeTriggerTimeAnnotation] = trigger;
  else
    annotations.erase(kLastChangeTriggerTimeAnnotation);
  if (want.truncated)
    annotations[kOverCapacityAnnotation] = "truncated";
  else
    annotations.erase(kOverCapacityAnnotation);
  if (annotations.empty())
    meta.erase("annotations");
  else
    meta["annotations"] = annotations;
  if (want.subsets.empty())
    ep.erase("subsets");
  else
    ep["subsets"] = want.subsets;

  try {
    if (current)
      client.update(ep);
    else
      client.create(ep);
  } catch (const api::StatusError& e) {
    // A namespace being deleted refuses new objects: nothing to retry, its Service goes too.
    if (!current && e.status().code == 403) return;
    if (e.status().code != 409) {
      if (current)
        recorder_.record(*service, api::EventType::Warning, "FailedToUpdateEndpoint",
                         "Failed to update endpoint " + key + ": " + e.what());
      else
        recorder_.record(*service, api::EventType::Warning, "FailedToCreateEndpoint",
                         "Failed to create endpoint for service " + key + ": " + e.what());
    }
    throw;
  }
}

}  // namespace kctl::controllers
