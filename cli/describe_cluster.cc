// kubectl's describers for Deployments, Services, Nodes, Namespaces, ConfigMaps and Secrets, and the choice of
// describer for a kind (the generic one for kinds kubectl has none for).
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "api/go_json.h"
#include "api/quantity.h"
#include "api/resource_path.h"
#include "api/selector.h"
#include "cli/describe_internal.h"
#include "cli/jsonpath.h"
#include "cli/rest_client.h"
#include "cli/resource_args.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

json without_hash(json tmpl) {
  if (tmpl.contains("metadata") && tmpl["metadata"].contains("labels")) {
    tmpl["metadata"]["labels"].erase("pod-template-hash");
    if (tmpl["metadata"]["labels"].empty()) tmpl["metadata"].erase("labels");
  }
  return tmpl;
}

std::string rs_list(const std::vector<json>& rss) {
  std::string out;
  for (const auto& rs : rss)
    out += (out.empty() ? "" : ", ") + str(rs, "/metadata/name") + " (" + str(rs, "/status/replicas", "0") + "/" +
           str(rs, "/spec/replicas", "1") + " replicas created)";
  return out.empty() ? "<none>" : out;
}

std::string describe_deployment(RestClient& rest, const json& d, const json* events) {
  std::string out;
  DescribeWriter w(out);
  std::string ns = str(d, "/metadata/namespace");
  w.write(0, "Name:\t" + str(d, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + ns + "\n");
  w.write(0, "CreationTimestamp:\t" + rfc1123z(str(d, "/metadata/creationTimestamp")) + "\n");
  print_labels_multiline(w, "Labels", d.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", d.value("/metadata/annotations"_json_pointer, json::object()));
  w.write(0, "Selector:\t" + api::LabelSelector::from_json(d.value("/spec/selector"_json_pointer, json::object())).to_string() + "\n");
  w.write(0, "Replicas:\t" + str(d, "/spec/replicas", "1") + " desired | " + str(d, "/status/updatedReplicas", "0") + " updated | " +
                 str(d, "/status/replicas", "0") + " total | " + str(d, "/status/availableReplicas", "0") + " available | " +
                 str(d, "/status/unavailableReplicas", "0") + " unavailable\n");
  w.write(0, "StrategyType:\t" + str(d, "/spec/strategy/type") + "\n");
  w.write(0, "MinReadySeconds:\t" + str(d, "/spec/minReadySeconds", "0") + "\n");
  if (d.contains("/spec/strategy/rollingUpdate"_json_pointer))
    w.write(0, "RollingUpdateStrategy:\t" + str(d, "/spec/strategy/rollingUpdate/maxUnavailable") + " max unavailable, " +
                   str(d, "/spec/strategy/rollingUpdate/maxSurge") + " max surge\n");
  describe_pod_template(w, d.value("/spec/template"_json_pointer, json::object()));
  const json conds = d.value("/status/conditions"_json_pointer, json::array());
  if (!conds.empty()) {
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n");
    w.write(1, "----\t------\t------\n");
    for (const auto& c : conds) w.write(1, c.value("type", "") + " \t" + c.value("status", "") + "\t" + c.value("reason", "") + "\n");
  }
  // The ReplicaSets this Deployment controls: the one with its template is new, the others old.
  std::vector<json> old_rss, new_rss;
  try {
    json rss = rest.call("GET", api::collection_path(resolve_kind("replicasets"), ns)).value("items", json::array());
    json tmpl = without_hash(d.value("/spec/template"_json_pointer, json::object()));
    for (const auto& rs : rss) {
      bool owned = false;
      for (const auto& ref : rs.value("/metadata/ownerReferences"_json_pointer, json::array()))
        if (ref.value("controller", false) && ref.value("uid", "") == str(d, "/metadata/uid")) owned = true;
      if (!owned) continue;
      if (new_rss.empty() && without_hash(rs.value("/spec/template"_json_pointer, json::object())) == tmpl) new_rss.push_back(rs);
      else old_rss.push_back(rs);
    }
  } catch (const api::StatusError&) {
  }
  if (!old_rss.empty() || !new_rss.empty()) {
    w.write(0, "OldReplicaSets:\t" + rs_list(old_rss) + "\n");
    w.write(0, "NewReplicaSet:\t" + rs_list(new_rss) + "\n");
  }
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

std::string join(const json& arr, const std::string& sep) {
  std::string out;
  for (const auto& v : arr) out += (out.empty() ? "" : sep) + go_sprint(v);
  return out;
}

// kubectl's formatEndpointSlices: the ready endpoints of the slices' ports named `port_name` as ip:port, three at most
// ("a,b,c + 2 more..."); a slice without ports gives its addresses alone. "<none>" without slices.
std::string format_endpoint_slices(const json& slices, const std::string& port_name) {
  if (!slices.is_array() || slices.empty()) return "<none>";
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  size_t count = 0;
  bool more = false;
  auto add = [&](const json& ep, const std::string& port) {
    if (list.size() == kMax) more = true;
    bool ready = ep.value("/conditions/ready"_json_pointer, json(true)) != json(false);
    json addrs = ep.value("addresses", json::array());
    if (!more && ready && !addrs.empty()) {
      std::string addr = addrs[0].get<std::string>();
      if (!port.empty() && addr.find(':') != std::string::npos) addr = "[" + addr + "]";
      list.push_back(port.empty() ? addr : addr + ":" + port);
    }
    ++count;
  };
  for (const auto& slice : slices) {
    json eps = slice.value("endpoints", json::array());
    json ports = slice.value("ports", json::array());
    if (!ports.is_array() || ports.empty()) {
      for (const auto& ep : eps) add(ep, "");
      continue;
    }
    for (const auto& p : ports) {
      if (p.value("name", "") != port_name) continue;
      for (const auto& ep : eps) add(ep, str(p, "/port"));
    }
  }
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ",") + item;
  return more ? out + " + " + std::to_string(count - kMax) + " more..." : out;
}

std::string describe_service(const json& s, const json& slices, const json* events) {
  std::string out;
  DescribeWriter w(out);
  const json spec = s.value("spec", json::object());
  w.write(0, "Name:\t" + str(s, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + str(s, "/metadata/namespace") + "\n");
  print_labels_multiline(w, "Labels", s.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", s.value("/metadata/annotations"_json_pointer, json::object()));
  w.write(0, "Selector:\t" + format_labels(spec.value("selector", json::object())) + "\n");
  w.write(0, "Type:\t" + str(spec, "/type") + "\n");
  if (spec.contains("ipFamilyPolicy")) w.write(0, "IP Family Policy:\t" + str(spec, "/ipFamilyPolicy") + "\n");
  const json families = spec.value("ipFamilies", json::array());
  w.write(0, "IP Families:\t" + (families.empty() ? "<none>" : join(families, ",")) + "\n");
  w.write(0, "IP:\t" + str(spec, "/clusterIP") + "\n");
  const json ips = spec.value("clusterIPs", json::array());
  w.write(0, "IPs:\t" + (ips.empty() ? "<none>" : join(ips, ",")) + "\n");
  if (spec.contains("externalIPs") && !spec["externalIPs"].empty()) w.write(0, "External IPs:\t" + join(spec["externalIPs"], ",") + "\n");
  if (!str(spec, "/loadBalancerIP").empty()) w.write(0, "Desired LoadBalancer IP:\t" + str(spec, "/loadBalancerIP") + "\n");
  if (!str(spec, "/externalName").empty()) w.write(0, "External Name:\t" + str(spec, "/externalName") + "\n");
  const json ingress = s.value("/status/loadBalancer/ingress"_json_pointer, json::array());
  if (!ingress.empty()) {
    std::string list;
    for (const auto& i : ingress) list += (list.empty() ? "" : ", ") + (i.contains("ip") ? str(i, "/ip") : str(i, "/hostname"));
    w.write(0, "LoadBalancer Ingress:\t" + list + "\n");
  }
  for (const auto& p : spec.value("ports", json::array())) {
    std::string name = p.value("name", "");
    if (name.empty()) name = "<unset>";
    std::string proto = p.value("protocol", "TCP");
    w.write(0, "Port:\t" + name + "\t" + str(p, "/port") + "/" + proto + "\n");
    w.write(0, "TargetPort:\t" + str(p, "/targetPort") + "/" + proto + "\n");
    if (p.value("nodePort", 0) != 0) w.write(0, "NodePort:\t" + name + "\t" + str(p, "/nodePort") + "/" + proto + "\n");
    w.write(0, "Endpoints:\t" + format_endpoint_slices(slices, p.value("name", "")) + "\n");
  }
  w.write(0, "Session Affinity:\t" + str(spec, "/sessionAffinity") + "\n");
  if (!str(spec, "/externalTrafficPolicy").empty()) w.write(0, "External Traffic Policy:\t" + str(spec, "/externalTrafficPolicy") + "\n");
  if (spec.contains("internalTrafficPolicy")) w.write(0, "Internal Traffic Policy:\t" + str(spec, "/internalTrafficPolicy") + "\n");
  if (spec.value("healthCheckNodePort", 0) != 0) w.write(0, "HealthCheck NodePort:\t" + str(spec, "/healthCheckNodePort") + "\n");
  if (spec.contains("loadBalancerSourceRanges") && !spec["loadBalancerSourceRanges"].empty())
    w.write(0, "LoadBalancer Source Ranges:\t" + join(spec["loadBalancerSourceRanges"], ",") + "\n");
  if (!str(spec, "/trafficDistribution").empty()) w.write(0, "Traffic Distribution:\t" + str(spec, "/trafficDistribution") + "\n");
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

// Go's int64(float64): NaN and out-of-range values become the minimum int64 on amd64, as kubectl prints them.
int64_t go_int64(double v) {
  if (std::isnan(v) || v >= 9.2e18 || v <= -9.2e18) return std::numeric_limits<int64_t>::min();
  return int64_t(v);
}

double milli(const json& list, const char* name) {
  if (!list.is_object() || !list.contains(name)) return 0;
  auto q = api::Quantity::try_parse(list[name].is_string() ? list[name].get<std::string>() : list[name].dump());
  return q ? double(q->milli_value()) : 0;
}

// resourcehelper.PodRequestsAndLimits for cpu and memory (milli units): containers summed, init containers as
// a floor.
std::pair<json, json> pod_requests_limits(const json& pod) {
  std::map<std::string, double> req, lim;
  for (const auto& c : pod.value("/spec/containers"_json_pointer, json::array()))
    for (const char* r : {"cpu", "memory", "ephemeral-storage"}) {
      req[r] += milli(c.value("/resources/requests"_json_pointer, json::object()), r);
      lim[r] += milli(c.value("/resources/limits"_json_pointer, json::object()), r);
    }
  for (const auto& c : pod.value("/spec/initContainers"_json_pointer, json::array()))
    for (const char* r : {"cpu", "memory", "ephemeral-storage"}) {
      req[r] = std::max(req[r], milli(c.value("/resources/requests"_json_pointer, json::object()), r));
      lim[r] = std::max(lim[r], milli(c.value("/resources/limits"_json_pointer, json::object()), r));
    }
  return {json(req), json(lim)};
}

std::string qty(double m, bool cpu) {
  return cpu ? api::Quantity::from_milli(int64_t(m)).to_string()
             : api::Quantity::from_milli(int64_t(m), api::Quantity::Format::BinarySI).to_string();
}

void describe_node_resources(DescribeWriter& w, const json& pods, const json& node) {
  w.write(0, "Non-terminated Pods:\t(" + std::to_string(pods.size()) + " in total)\n");
  w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n");
  w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n");
  json alloc = node.value("/status/allocatable"_json_pointer, json::object());
  if (alloc.empty()) alloc = node.value("/status/capacity"_json_pointer, json::object());
  double cpu = milli(alloc, "cpu"), mem = milli(alloc, "memory") / 1000, eph = milli(alloc, "ephemeral-storage") / 1000;
  std::map<std::string, double> total_req, total_lim;
  auto pct = [](double v, double of) { return " (" + std::to_string(go_int64(v / of * 100)) + "%)"; };
  for (const auto& p : pods) {
    auto [req, lim] = pod_requests_limits(p);
    for (const char* r : {"cpu", "memory", "ephemeral-storage"}) {
      total_req[r] += req[r].get<double>();
      total_lim[r] += lim[r].get<double>();
    }
    w.write(1, str(p, "/metadata/namespace") + "\t" + str(p, "/metadata/name") + "\t\t" + qty(req["cpu"], true) +
                   pct(req["cpu"], cpu) + "\t" + qty(lim["cpu"], true) + pct(lim["cpu"], cpu) + "\t" + qty(req["memory"], false) +
                   pct(req["memory"].get<double>() / 1000, mem) + "\t" + qty(lim["memory"], false) +
                   pct(lim["memory"].get<double>() / 1000, mem) + "\t" + age_since(str(p, "/metadata/creationTimestamp")) + "\n");
  }
  w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
  w.write(1, "Resource\tRequests\tLimits\n");
  w.write(1, "--------\t--------\t------\n");
  auto guarded = [](double v, double of) { return " (" + std::to_string(of != 0 ? go_int64(v / of * 100) : 0) + "%)"; };
  w.write(1, "cpu\t" + qty(total_req["cpu"], true) + guarded(total_req["cpu"], cpu) + "\t" + qty(total_lim["cpu"], true) +
                 guarded(total_lim["cpu"], cpu) + "\n");
  w.write(1, "memory\t" + qty(total_req["memory"], false) + guarded(total_req["memory"] / 1000, mem) + "\t" +
                 qty(total_lim["memory"], false) + guarded(total_lim["memory"] / 1000, mem) + "\n");
  w.write(1, "ephemeral-storage\t" + qty(total_req["ephemeral-storage"], false) + guarded(total_req["ephemeral-storage"] / 1000, eph) +
                 "\t" + qty(total_lim["ephemeral-storage"], false) + guarded(total_lim["ephemeral-storage"] / 1000, eph) + "\n");
}

std::string describe_node(RestClient& rest, const json& node, const json* events) {
  std::string out;
  DescribeWriter w(out);
  std::string name = str(node, "/metadata/name");
  w.write(0, "Name:\t" + name + "\n");
  std::set<std::string> roles;
  const json labels = node.value("/metadata/labels"_json_pointer, json::object());
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    const std::string prefix = "node-role.kubernetes.io/";
    if (it.key().rfind(prefix, 0) == 0 && it.key().size() > prefix.size()) roles.insert(it.key().substr(prefix.size()));
    else if (it.key() == "kubernetes.io/role" && !go_sprint(*it).empty()) roles.insert(go_sprint(*it));
  }
  std::string role_text;
  for (const auto& r : roles) role_text += (role_text.empty() ? "" : ",") + r;
  w.write(0, "Roles:\t" + (role_text.empty() ? "<none>" : role_text) + "\n");
  print_labels_multiline(w, "Labels", labels);
  print_annotations_multiline(w, "Annotations", node.value("/metadata/annotations"_json_pointer, json::object()));
  w.write(0, "CreationTimestamp:\t" + rfc1123z(str(node, "/metadata/creationTimestamp")) + "\n");
  print_taints_multiline(w, "Taints", node.value("/spec/taints"_json_pointer, json::array()));
  w.write(0, "Unschedulable:\t" + std::string(node.value("/spec/unschedulable"_json_pointer, false) ? "true" : "false") + "\n");
  try {
    json lease = rest.call("GET", api::object_path(resolve_kind("leases.coordination.k8s.io"), "kube-node-lease", name));
    w.write(0, "Lease:\n");
    w.write(1, "HolderIdentity:\t" + str(lease, "/spec/holderIdentity", "<unset>") + "\n");
    std::string acquire = str(lease, "/spec/acquireTime"), renew = str(lease, "/spec/renewTime");
    w.write(1, "AcquireTime:\t" + (acquire.empty() ? "<unset>" : rfc1123z(acquire)) + "\n");
    w.write(1, "RenewTime:\t" + (renew.empty() ? "<unset>" : rfc1123z(renew)) + "\n");
  } catch (const api::StatusError& e) {
    w.write(0, "Lease:\tFailed to get lease: " + e.status().message + "\n");
  }
  const json conds = node.value("/status/conditions"_json_pointer, json::array());
  if (!conds.empty()) {
    w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n");
    w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n");
    for (const auto& c : conds)
      w.write(1, str(c, "/type") + " \t" + str(c, "/status") + " \t" + rfc1123z(str(c, "/lastHeartbeatTime")) + " \t" +
                     rfc1123z(str(c, "/lastTransitionTime")) + " \t" + str(c, "/reason") + " \t" + str(c, "/message") + "\n");
  }
  w.write(0, "Addresses:\n");
  for (const auto& a : node.value("/status/addresses"_json_pointer, json::array())) w.write(1, str(a, "/type") + ":\t" + str(a, "/address") + "\n");
  for (const char* which : {"capacity", "allocatable"}) {
    const json list = node.value("status", json::object()).value(which, json::object());
    if (list.empty()) continue;
    w.write(0, std::string(which == std::string("capacity") ? "Capacity" : "Allocatable") + ":\n");
    for (auto it = list.begin(); it != list.end(); ++it) w.write(0, "  " + it.key() + ":\t" + quantity_text(*it) + "\n");
  }
  w.write(0, "System Info:\n");
  static const std::pair<const char*, const char*> kInfo[] = {
      {"Machine ID", "machineID"}, {"System UUID", "systemUUID"}, {"Boot ID", "bootID"}, {"Kernel Version", "kernelVersion"},
      {"OS Image", "osImage"}, {"Operating System", "operatingSystem"}, {"Architecture", "architecture"},
      {"Container Runtime Version", "containerRuntimeVersion"}, {"Kubelet Version", "kubeletVersion"},
      {"Kube-Proxy Version", "kubeProxyVersion"}};
  for (const auto& [label, field] : kInfo)
    w.write(0, std::string("  ") + label + ":\t" + node.value("/status/nodeInfo"_json_pointer, json::object()).value(field, "") + "\n");
  if (!str(node, "/spec/podCIDR").empty()) w.write(0, "PodCIDR:\t" + str(node, "/spec/podCIDR") + "\n");
  if (node.contains("/spec/podCIDRs"_json_pointer) && !node["spec"]["podCIDRs"].empty())
    w.write(0, "PodCIDRs:\t" + join(node["spec"]["podCIDRs"], ",") + "\n");
  if (!str(node, "/spec/providerID").empty()) w.write(0, "ProviderID:\t" + str(node, "/spec/providerID") + "\n");
  json pods = rest.call("GET", api::collection_path(resolve_kind("pods"), "") +
                                   Query().add("fieldSelector", "spec.nodeName=" + name + ",status.phase!=Succeeded,status.phase!=Failed").str())
                  .value("items", json::array());
  describe_node_resources(w, pods, node);
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

std::string describe_namespace(const json& ns) {
  std::string out;
  DescribeWriter w(out);
  w.write(0, "Name:\t" + str(ns, "/metadata/name") + "\n");
  print_labels_multiline(w, "Labels", ns.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", ns.value("/metadata/annotations"_json_pointer, json::object()));
  w.write(0, "Status:\t" + str(ns, "/status/phase") + "\n");
  const json conds = ns.value("/status/conditions"_json_pointer, json::array());
  if (!conds.empty()) {
    w.write(0, "Conditions:\n");
    w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n");
    w.write(1, "----\t------\t------------------\t------\t-------\n");
    for (const auto& c : conds)
      w.write(1, str(c, "/type") + "\t" + str(c, "/status") + "\t" + rfc1123z(str(c, "/lastTransitionTime")) + "\t" +
                     str(c, "/reason") + "\t" + str(c, "/message") + "\n");
  }
  w.finish();
  return out;
}

std::string describe_config_map(const json& cm, const json* events) {
  std::string out;
  DescribeWriter w(out);
  w.write(0, "Name:\t" + str(cm, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + str(cm, "/metadata/namespace") + "\n");
  print_labels_multiline(w, "Labels", cm.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", cm.value("/metadata/annotations"_json_pointer, json::object()));
  w.write(0, "\nData\n====\n");
  const json data = cm.value("data", json::object());
  for (auto it = data.begin(); it != data.end(); ++it) w.write(0, it.key() + ":\n----\n" + go_sprint(*it) + "\n\n");
  w.write(0, "\nBinaryData\n====\n");
  const json bin = cm.value("binaryData", json::object());
  for (auto it = bin.begin(); it != bin.end(); ++it) {
    auto decoded = api::base64_decode(go_sprint(*it));
    w.write(0, it.key() + ": " + std::to_string(decoded ? decoded->size() : 0) + " bytes\n");
  }
  w.write(0, "\n");
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

std::string describe_secret(const json& s) {
  std::string out;
  DescribeWriter w(out);
  w.write(0, "Name:\t" + str(s, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + str(s, "/metadata/namespace") + "\n");
  print_labels_multiline(w, "Labels", s.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", s.value("/metadata/annotations"_json_pointer, json::object()));
  w.write(0, "\nType:\t" + str(s, "/type") + "\n");
  w.write(0, "\nData\n====\n");
  const json data = s.value("data", json::object());
  for (auto it = data.begin(); it != data.end(); ++it) {
    auto decoded = api::base64_decode(go_sprint(*it));
    if (it.key() == "token" && str(s, "/type") == "kubernetes.io/service-account-token")
      w.write(0, it.key() + ":\t" + (decoded ? *decoded : "") + "\n");
    else
      w.write(0, it.key() + ":\t" + std::to_string(decoded ? decoded->size() : 0) + " bytes\n");
  }
  w.finish();
  return out;
}

}  // namespace

std::string describe_object(RestClient& rest, const api::KindInfo& kind, const json& obj, bool show_events) {
  const std::string& k = kind.kind;
  bool core = kind.group.empty();
  json events = nullptr;
  auto load_events = [&](bool with_kind) {
    if (show_events) events = search_events(rest, obj, with_kind);
    return show_events ? &events : nullptr;
  };
  if (core && k == "Pod") return describe_pod(obj, load_events(false));
  if (core && k == "ReplicationController") return describe_replicas(rest, obj, load_events(true), false);
  if (kind.group == "apps" && k == "ReplicaSet") return describe_replicas(rest, obj, load_events(true), true);
  if (kind.group == "apps" && k == "Deployment") return describe_deployment(rest, obj, load_events(true));
  if (core && k == "Service") {
    // The Service's EndpointSlices, found by their kubernetes.io/service-name label as kubectl finds them.
    json slices = rest.call("GET", api::collection_path(resolve_kind("endpointslices.discovery.k8s.io"),
                                                        str(obj, "/metadata/namespace")) +
                                       Query().add("labelSelector", "kubernetes.io/service-name=" + str(obj, "/metadata/name")).str())
                      .value("items", json::array());
    return describe_service(obj, slices, load_events(true));
  }
  if (core && k == "Namespace") return describe_namespace(obj);
  if (core && k == "ConfigMap") return describe_config_map(obj, load_events(true));
  if (core && k == "Secret") return describe_secret(obj);
  if (core && k == "Node") {
    if (show_events) {
      // Controllers name a node by its uid, the kubelet by its name: kubectl merges both searches.
      events = search_events(rest, obj, true);
      json by_name = search_events(rest, obj, true, str(obj, "/metadata/name"));
      if (events.is_array() && by_name.is_array())
        for (auto& e : by_name) events.push_back(e);
    }
    return describe_node(rest, obj, show_events ? &events : nullptr);
  }
  return describe_generic(obj, load_events(true));
}

}  // namespace kctl::cli
