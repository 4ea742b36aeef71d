// Discovery documents, generated from the registry: aggregated discovery v2 (/api, /apis with
// Accept: ...;as=APIGroupDiscoveryList) and the legacy APIVersions, APIGroupList, APIGroup and APIResourceList.
#include <map>

#include "daemons/apiserver/apiserver.h"

namespace kctl::apiserver {

using api::KindInfo;
using api::Status;
using nlohmann::json;

namespace {

struct SubresourceInfo {
  std::string group, version, kind;
  std::vector<std::string> verbs;
};

SubresourceInfo subresource_info(const KindInfo& k, const std::string& sub) {
  if (sub == "status") return {k.group, k.version, k.kind, {"get", "patch", "update"}};
  if (sub == "scale") return {"autoscaling", "v1", "Scale", {"get", "patch", "update"}};
  if (sub == "binding") return {"", "v1", "Binding", {"create"}};
  if (sub == "log") return {"", "v1", "Pod", {"get"}};
  if (sub == "exec") return {"", "v1", "PodExecOptions", {"create", "get"}};
  if (sub == "portforward") return {"", "v1", "PodPortForwardOptions", {"create", "get"}};
  if (sub == "finalize") return {"", "v1", "Namespace", {"update"}};
  if (sub == "token") return {"authentication.k8s.io", "v1", "TokenRequest", {"create"}};
  return {k.group, k.version, k.kind, {"get"}};
}

json aggregated_resource(const KindInfo& k) {
  json r = {{"resource", k.plural},
            {"responseKind", {{"group", k.group}, {"version", k.version}, {"kind", k.kind}}},
            {"scope", k.namespaced ? "Namespaced" : "Cluster"},
            {"singularResource", k.singular},
            {"verbs", k.verbs}};
  if (!k.short_names.empty()) r["shortNames"] = k.short_names;
  if (!k.categories.empty()) r["categories"] = k.categories;
  json subs = json::array();
  for (const auto& s : k.subresources) {
    auto info = subresource_info(k, s);
    subs.push_back({{"subresource", s},
                    {"responseKind", {{"group", info.group}, {"version", info.version}, {"kind", info.kind}}},
                    {"verbs", info.verbs}});
  }
  if (!subs.empty()) r["subresources"] = subs;
  return r;
}

json resource_list(const api::Registry& reg, const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const auto& k : reg.kinds()) {
    if (k.group != group || k.version != version) continue;
    json r = {{"name", k.plural}, {"singularName", k.singular}, {"namespaced", k.namespaced}, {"kind", k.kind},
              {"verbs", k.verbs}};
    if (!k.short_names.empty()) r["shortNames"] = k.short_names;
    if (!k.categories.empty()) r["categories"] = k.categories;
    resources.push_back(r);
    for (const auto& s : k.subresources) {
      auto info = subresource_info(k, s);
      json sr = {{"name", k.plural + "/" + s}, {"singularName", ""}, {"namespaced", k.namespaced},
                 {"kind", info.kind}, {"verbs", info.verbs}};
      if (info.group != k.group || info.version != k.version) {
        sr["group"] = info.group;
        sr["version"] = info.version;
      }
      resources.push_back(sr);
    }
  }
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version}, {"resources", resources}};
}

json group_versions(const api::Registry& reg, const std::string& group) {
  json versions = json::array();
  for (const auto& k : reg.kinds()) {
    if (k.group != group) continue;
    json v = {{"groupVersion", k.group_version()}, {"version", k.version}};
    if (std::find(versions.begin(), versions.end(), v) == versions.end()) versions.push_back(v);
  }
  return versions;
}

// The aggregated discovery version the Accept header asks for ("v2", "v2beta1"), or "" for the legacy documents.
// Media ranges are tried in order; their parameters may come in any order.
std::string aggregated_version(const std::string& accept) {
  size_t p = 0;
  while (p <= accept.size()) {
    size_t e = accept.find(',', p);
    if (e == std::string::npos) e = accept.size();
    std::string range = accept.substr(p, e - p);
    p = e + 1;
    std::map<std::string, std::string> params;
    size_t q = range.find(';');
    while (q != std::string::npos) {
      size_t next = range.find(';', q + 1);
      std::string kv = range.substr(q + 1, next == std::string::npos ? std::string::npos : next - q - 1);
      while (!kv.empty() && kv.front() == ' ') kv.erase(0, 1);
      if (auto eq = kv.find('='); eq != std::string::npos) params[kv.substr(0, eq)] = kv.substr(eq + 1);
      q = next;
    }
    if (params["as"] == "APIGroupDiscoveryList" && params["g"] == "apidiscovery.k8s.io" &&
        (params["v"] == "v2" || params["v"] == "v2beta1"))
      return params["v"];
  }
  return "";
}

}  // namespace

void ApiServer::serve_discovery(http::Request& req, ResponseWriter& w, const std::string& path) {
  if (req.method != "GET") return send_status(w, Status::method_not_allowed("the server does not allow this method on the requested resource"));
  w.headers().emplace("Vary", "Accept");
  std::string accept = http::header(req.headers, "Accept");
  std::string version = aggregated_version(accept);
  if (path == "/api" || path == "/apis") {
    bool core = path == "/api";
    if (!version.empty()) {
      json items = json::array();
      std::vector<std::string> groups = core ? std::vector<std::string>{""} : registry_.groups();
      for (const auto& g : groups) {
        json versions = json::array();
        for (const auto& gv : group_versions(registry_, g)) {
          json resources = json::array();
          for (const auto& k : registry_.kinds())
            if (k.group == g && k.version == gv["version"]) resources.push_back(aggregated_resource(k));
          versions.push_back({{"version", gv["version"]}, {"resources", resources}, {"freshness", "Current"}});
        }
        items.push_back({{"metadata", {{"name", g}}}, {"versions", versions}});
      }
      json doc = {{"kind", "APIGroupDiscoveryList"}, {"apiVersion", "apidiscovery.k8s.io/" + version},
                  {"metadata", json::object()}, {"items", items}};
      return w.respond(200, "application/json;g=apidiscovery.k8s.io;v=" + version + ";as=APIGroupDiscoveryList",
                       doc.dump());
    }
    if (core) {
      json doc = {{"kind", "APIVersions"}, {"versions", {"v1"}},
                  {"serverAddressByClientCIDRs",
                   json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", http::header(req.headers, "Host")}}})}};
      return w.respond(200, "application/json", doc.dump());
    }
    json groups = json::array();
    for (const auto& g : registry_.groups()) {
      json versions = group_versions(registry_, g);
      groups.push_back({{"name", g}, {"versions", versions}, {"preferredVersion", versions[0]}});
    }
    return w.respond(200, "application/json", json{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}}.dump());
  }
  // /api/v1, /apis/G, /apis/G/V
  std::vector<std::string> seg;
  for (size_t p = 1; p < path.size();) {
    size_t e = path.find('/', p);
    if (e == std::string::npos) e = path.size();
    seg.push_back(path.substr(p, e - p));
    p = e + 1;
  }
  if (seg[0] == "api") {
    if (seg[1] != "v1") return send_status(w, Status::not_found("", ""));
    return w.respond(200, "application/json", resource_list(registry_, "", "v1").dump());
  }
  json versions = group_versions(registry_, seg[1]);
  if (versions.empty()) return send_status(w, Status::not_found("", ""));
  if (seg.size() == 2)
    return w.respond(200, "application/json",
                     json{{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", seg[1]}, {"versions", versions},
                          {"preferredVersion", versions[0]}}.dump());
  json rl = resource_list(registry_, seg[1], seg[2]);
  if (rl["resources"].empty()) return send_status(w, Status::not_found("", ""));
  w.respond(200, "application/json", rl.dump());
}

}  // namespace kctl::apiserver
