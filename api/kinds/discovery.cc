// EndpointSlice (discovery.k8s.io/v1): registry entry, defaults, validation and the Table row kubectl shows. The
// endpointslice controller writes them; kubectl 1.33's `describe service` reads a Service's endpoints from them.
#include <set>

#include "api/registry.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

// kube's validation limits (pkg/apis/discovery/validation): a slice is meant to be small.
constexpr size_t kMaxEndpointsPerSlice = 1000;
constexpr size_t kMaxPortsPerSlice = 20000;
// kubectl shows three entries of a list and counts the rest.
constexpr size_t kShownEntries = 3;

std::string shown_list(const std::vector<std::string>& all) {
  if (all.empty()) return "<unset>";
  std::vector<std::string> shown(all.begin(), all.begin() + std::min(kShownEntries, all.size()));
  std::string text = join(shown, ",");
  if (all.size() > kShownEntries) text += " + " + std::to_string(all.size() - kShownEntries) + " more...";
  return text;
}

void endpoint_slice_validate(const json& s, const ValidationContext& ctx, std::vector<StatusCause>& causes) {
  static const std::vector<std::string> kTypes = {"FQDN", "IPv4", "IPv6"};
  json type = s.value("addressType", json());
  if (!type.is_string() || type.get<std::string>().empty())
    causes.push_back(cause_required("addressType", ""));
  else if (std::find(kTypes.begin(), kTypes.end(), type.get<std::string>()) == kTypes.end())
    causes.push_back(cause_not_supported("addressType", type.get<std::string>(), kTypes));
  else if (ctx.old && ctx.old->value("addressType", json()) != type)
    causes.push_back(cause_invalid("addressType", type.get<std::string>(), "field is immutable"));
  json endpoints = s.value("endpoints", json::array());
  if (endpoints.is_array() && endpoints.size() > kMaxEndpointsPerSlice)
    causes.push_back({"FieldValueTooMany",
                      "Too many: " + std::to_string(endpoints.size()) + ": must have at most " +
                          std::to_string(kMaxEndpointsPerSlice) + " items",
                      "endpoints"});
  for (size_t i = 0; endpoints.is_array() && i < endpoints.size(); ++i) {
    json addrs = endpoints[i].value("addresses", json::array());
    std::string path = "endpoints[" + std::to_string(i) + "].addresses";
    if (!addrs.is_array() || addrs.empty() || addrs.size() > 100) {
      causes.push_back({"FieldValueInvalid", "must contain at least 1 and at most 100 addresses", path});
      continue;
    }
    if (type == "IPv4" || type == "IPv6")
      for (size_t j = 0; j < addrs.size(); ++j) {
        std::string ip = addrs[j].is_string() ? addrs[j].get<std::string>() : "";
        for (const auto& m : is_valid_ip(ip))
          causes.push_back(cause_invalid(path + "[" + std::to_string(j) + "]", ip, m));
      }
  }
  json ports = s.value("ports", json::array());
  if (ports.is_array() && ports.size() > kMaxPortsPerSlice)
    causes.push_back({"FieldValueTooMany",
                      "Too many: " + std::to_string(ports.size()) + ": must have at most " +
                          std::to_string(kMaxPortsPerSlice) + " items",
                      "ports"});
  std::set<std::string> names;
  for (size_t i = 0; ports.is_array() && i < ports.size(); ++i) {
    std::string path = "ports[" + std::to_string(i) + "]";
    std::string name = ports[i].value("name", "");
    if (!names.insert(name).second) causes.push_back({"FieldValueDuplicate", "Duplicate value: \"" + name + "\"", path + ".name"});
    if (ports[i].contains("port") && ports[i]["port"].is_number_integer()) {
      int64_t p = ports[i]["port"];
      if (p < 1 || p > 65535) causes.push_back(cause_invalid(path + ".port", p, "must be between 1 and 65535, inclusive"));
    }
  }
}

std::vector<TableCell> endpoint_slice_cells(const json& s) {
  std::vector<std::string> ports, addresses;
  for (const auto& p : s.value("ports", json::array())) {
    if (p.contains("port") && p["port"].is_number_integer())
      ports.push_back(std::to_string(p["port"].get<int64_t>()));
    else
      ports.push_back(p.value("name", "") != "" ? p["name"].get<std::string>() : "*");
  }
  for (const auto& e : s.value("endpoints", json::array()))
    for (const auto& a : e.value("addresses", json::array()))
      if (a.is_string()) addresses.push_back(a);
  return {name_cell(s), TableCell::str(s.value("addressType", "")), TableCell::str(shown_list(ports)),
          TableCell::str(shown_list(addresses)), age_cell(s)};
}

}  // namespace

KindInfo endpoint_slice_kind() {
  KindInfo k = make_kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", {});
  k.columns = {name_column(),
               {"AddressType", "string", "", "The IP protocol for this slice", 0},
               {"Ports", "string", "", "The ports for this slice", 0},
               {"Endpoints", "string", "", "The endpoints for this slice", 0},
               age_column()};
  k.apply_defaults = [](json& s) {
    if (!s.contains("endpoints") || s["endpoints"].is_null()) s["endpoints"] = json::array();
    if (s.contains("ports") && s["ports"].is_array())
      for (auto& p : s["ports"])
        if (p.is_object() && !p.contains("protocol")) p["protocol"] = "TCP";
  };
  k.validate = endpoint_slice_validate;
  k.table_cells = endpoint_slice_cells;
  return k;
}

}  // namespace kctl::api::kinds
