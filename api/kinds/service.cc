// The Service and Endpoints kinds: registry entries, v1 defaults, validation and Table rows as kubectl shows them.
// ClusterIP and NodePort allocation is the apiserver's (daemons/apiserver/service_allocator.cc).
#include <set>

#include "api/registry.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

void service_defaults(json& svc) {
  if (!svc.contains("spec") || !svc["spec"].is_object()) svc["spec"] = json::object();
  auto& spec = svc["spec"];
  if (!spec.contains("type")) spec["type"] = "ClusterIP";
  std::string type = spec["type"].is_string() ? spec["type"].get<std::string>() : "";
  if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
  if (spec["sessionAffinity"] == "ClientIP" && !spec.contains("sessionAffinityConfig"))
    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 10800}}}};
  if (type != "ExternalName") {
    if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
    if ((type == "NodePort" || type == "LoadBalancer") && !spec.contains("externalTrafficPolicy"))
      spec["externalTrafficPolicy"] = "Cluster";
    if (type == "LoadBalancer" && !spec.contains("allocateLoadBalancerNodePorts"))
      spec["allocateLoadBalancerNodePorts"] = true;
  }
  if (spec.contains("ports") && spec["ports"].is_array())
    for (auto& p : spec["ports"]) {
      if (!p.is_object()) continue;
      if (!p.contains("protocol")) p["protocol"] = "TCP";
      if ((!p.contains("targetPort") || p["targetPort"].is_null() || p["targetPort"] == 0 || p["targetPort"] == "") &&
          p.contains("port"))
        p["targetPort"] = p["port"];
    }
  if (!svc.contains("status") || !svc["status"].is_object()) svc["status"] = json::object();
  if (!svc["status"].contains("loadBalancer")) svc["status"]["loadBalancer"] = json::object();
}

void service_validate(const json& svc, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
  json spec = svc.value("spec", json::object());
  std::string type = spec.value("type", "ClusterIP");
  static const std::vector<std::string> kTypes = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"};
  if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    causes.push_back(cause_not_supported("spec.type", type, kTypes));
  bool headless = spec.value("clusterIP", "") == "None";
  json ports = spec.value("ports", json::array());
  if (type == "ExternalName") {
    if (spec.value("externalName", "").empty()) causes.push_back(cause_required("spec.externalName", ""));
  } else if (!headless && (!ports.is_array() || ports.empty())) {
    causes.push_back(cause_required("spec.ports", ""));
  }
  std::set<std::string> names;
  std::set<std::pair<int64_t, std::string>> port_protos;
  for (size_t i = 0; ports.is_array() && i < ports.size(); ++i) {
    const auto& p = ports[i];
    std::string pp = "spec.ports[" + std::to_string(i) + "]";
    std::string name = p.value("name", "");
    if (ports.size() > 1 && name.empty()) causes.push_back(cause_required(pp + ".name", ""));
    if (!name.empty()) {
      for (const auto& m : is_dns1123_label(name)) causes.push_back(cause_invalid(pp + ".name", name, m));
      if (!names.insert(name).second) causes.push_back(cause_duplicate(pp + ".name", name));
    }
    if (!p.contains("port") || !p["port"].is_number_integer() || p["port"].get<int64_t>() < 1 ||
        p["port"].get<int64_t>() > 65535) {
      causes.push_back(cause_invalid(pp + ".port", p.value("port", json(0)), "must be between 1 and 65535, inclusive"));
    }
    std::string proto = p.value("protocol", "TCP");
    if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      causes.push_back(cause_not_supported(pp + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
    else if (p.contains("port") && !port_protos.insert({p.value("port", int64_t(0)), proto}).second)
      causes.push_back(cause_duplicate(pp, json{{"port", p["port"]}, {"protocol", proto}}));
    if (p.contains("targetPort")) {
      const auto& tp = p["targetPort"];
      if (tp.is_number_integer() && (tp.get<int64_t>() < 1 || tp.get<int64_t>() > 65535))
        causes.push_back(cause_invalid(pp + ".targetPort", tp, "must be between 1 and 65535, inclusive"));
      else if (tp.is_string())
        for (const auto& m : is_valid_port_name(tp.get<std::string>()))
          causes.push_back(cause_invalid(pp + ".targetPort", tp, m));
    }
    if (p.contains("nodePort") && p["nodePort"] != 0 && type != "NodePort" && type != "LoadBalancer")
      causes.push_back(cause_forbidden(pp + ".nodePort", "may not be used when `type` is '" + type + "'"));
  }
  std::string affinity = spec.value("sessionAffinity", "None");
  if (affinity != "None" && affinity != "ClientIP")
    causes.push_back(cause_not_supported("spec.sessionAffinity", affinity, {"ClientIP", "None"}));
  if (spec.contains("selector") && spec["selector"].is_object())
    for (auto it = spec["selector"].begin(); it != spec["selector"].end(); ++it) {
      for (const auto& m : is_qualified_name(it.key())) causes.push_back(cause_invalid("spec.selector", it.key(), m));
      if (it->is_string())
        for (const auto& m : is_valid_label_value(it->get<std::string>()))
          causes.push_back(cause_invalid("spec.selector", *it, m));
    }
  if (ctx.old) {
    json old_spec = ctx.old->value("spec", json::object());
    std::string old_ip = old_spec.value("clusterIP", "");
    if (!old_ip.empty() && spec.contains("clusterIP") && spec.value("clusterIP", "") != old_ip &&
        old_spec.value("type", "") != "ExternalName" && type != "ExternalName")
      causes.push_back(cause_invalid("spec.clusterIPs[0]", spec["clusterIP"], "may not change once set"));
  }
}

std::string service_external_ip(const json& spec, const json& status) {
  std::string type = spec.value("type", "ClusterIP");
  std::vector<std::string> ips;
  if (spec.contains("externalIPs") && spec["externalIPs"].is_array())
    for (const auto& ip : spec["externalIPs"]) ips.push_back(ip.get<std::string>());
  if (type == "ExternalName") return spec.value("externalName", "<none>");
  if (type == "LoadBalancer") {
    std::vector<std::string> lb;
    if (status.contains("loadBalancer") && status["loadBalancer"].contains("ingress"))
      for (const auto& ing : status["loadBalancer"]["ingress"])
        lb.push_back(ing.contains("ip") ? ing.value("ip", "") : ing.value("hostname", ""));
    lb.insert(lb.end(), ips.begin(), ips.end());
    return lb.empty() ? "<pending>" : join(lb, ",");
  }
  return ips.empty() ? "<none>" : join(ips, ",");
}

std::vector<TableCell> service_cells(const json& svc) {
  json spec = svc.value("spec", json::object()), status = svc.value("status", json::object());
  std::vector<std::string> ports;
  if (spec.contains("ports") && spec["ports"].is_array())
    for (const auto& p : spec["ports"]) {
      std::string s = std::to_string(p.value("port", 0));
      if (p.value("nodePort", 0) != 0) s += ":" + std::to_string(p.value("nodePort", 0));
      ports.push_back(s + "/" + p.value("protocol", "TCP"));
    }
  std::string cluster_ip = spec.value("clusterIP", "");
  return {name_cell(svc),
          TableCell::str(spec.value("type", "ClusterIP")),
          TableCell::str(cluster_ip.empty() ? "<none>" : cluster_ip),
          TableCell::str(service_external_ip(spec, status)),
          TableCell::str(ports.empty() ? "<none>" : join(ports, ",")),
          age_cell(svc),
          TableCell::str(format_labels(spec.value("selector", json::object())))};
}

void endpoints_defaults(json& ep) {
  if (ep.contains("subsets") && ep["subsets"].is_array())
    for (auto& s : ep["subsets"])
      if (s.contains("ports") && s["ports"].is_array())
        for (auto& p : s["ports"])
          if (p.is_object() && !p.contains("protocol")) p["protocol"] = "TCP";
}

void endpoints_validate(const json& ep, const ValidationContext&, std::vector<StatusCause>& causes) {
  json subsets = ep.value("subsets", json::array());
  for (size_t i = 0; subsets.is_array() && i < subsets.size(); ++i) {
    std::string sp = "subsets[" + std::to_string(i) + "]";
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      json addrs = subsets[i].value(list, json::array());
      for (size_t j = 0; addrs.is_array() && j < addrs.size(); ++j) {
        std::string ip = addrs[j].value("ip", "");
        for (const auto& m : is_valid_ip(ip))
          causes.push_back(cause_invalid(sp + "." + list + "[" + std::to_string(j) + "].ip", ip, m));
      }
    }
    json ports = subsets[i].value("ports", json::array());
    for (size_t j = 0; ports.is_array() && j < ports.size(); ++j) {
      int64_t port = ports[j].value("port", int64_t(0));
      if (port < 1 || port > 65535)
        causes.push_back(cause_invalid(sp + ".ports[" + std::to_string(j) + "].port", port,
                                       "must be between 1 and 65535, inclusive"));
    }
  }
}

std::vector<TableCell> endpoints_cells(const json& ep) {
  // kubectl shows at most three endpoints and counts the rest.
  std::vector<std::string> all;
  if (ep.contains("subsets") && ep["subsets"].is_array())
    for (const auto& s : ep["subsets"]) {
      std::vector<std::string> ports;
      if (s.contains("ports") && s["ports"].is_array())
        for (const auto& p : s["ports"]) ports.push_back(std::to_string(p.value("port", 0)));
      if (s.contains("addresses") && s["addresses"].is_array())
        for (const auto& a : s["addresses"]) {
          if (ports.empty()) all.push_back(a.value("ip", ""));
          for (const auto& p : ports) all.push_back(a.value("ip", "") + ":" + p);
        }
    }
  std::string text;
  if (all.empty()) {
    text = "<none>";
  } else {
    std::vector<std::string> shown(all.begin(), all.begin() + std::min<size_t>(3, all.size()));
    text = join(shown, ",");
    if (all.size() > 3) text += " + " + std::to_string(all.size() - 3) + " more...";
  }
  return {name_cell(ep), TableCell::str(text), age_cell(ep)};
}

}  // namespace

KindInfo service_kind() {
  KindInfo k = make_kind("", "v1", "Service", "services", {"svc"});
  k.categories = {"all"};
  k.subresources = {"status"};
  k.validate_name = name_is_dns1035_label;
  k.columns = {name_column(),
               {"Type", "string", "", "The type of the service.", 0},
               {"Cluster-IP", "string", "", "The cluster IP of the service.", 0},
               {"External-IP", "string", "", "The external IP of the service.", 0},
               {"Port(s)", "string", "", "The ports of the service.", 0},
               age_column(),
               {"Selector", "string", "", "The label selector of the service.", 1}};
  k.apply_defaults = service_defaults;
  k.validate = service_validate;
  k.table_cells = service_cells;
  return k;
}

KindInfo endpoints_kind() {
  KindInfo k = make_kind("", "v1", "Endpoints", "endpoints", {"ep"});
  k.columns = {name_column(), {"Endpoints", "string", "", "Endpoints of the service.", 0}, age_column()};
  k.apply_defaults = endpoints_defaults;
  k.validate = endpoints_validate;
  k.table_cells = endpoints_cells;
  return k;
}

}  // namespace kctl::api::kinds
