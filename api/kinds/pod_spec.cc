// PodSpec defaults (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go) and validation
// (pkg/apis/core/validation/validation.go), for the fields kctl acts on; messages follow Kubernetes.
#include "api/kinds/pod_spec.h"

#include <set>

#include "api/quantity.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

void set_default(json& obj, const char* key, json value) {
  if (!obj.contains(key) || obj[key].is_null()) obj[key] = std::move(value);
}

bool image_has_latest_or_no_tag(const std::string& image) {
  if (image.find('@') != std::string::npos) return false;  // digest
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return true;
  return image.substr(colon + 1) == "latest";
}

void default_probe(json& probe) {
  if (!probe.is_object()) return;
  set_default(probe, "timeoutSeconds", 1);
  set_default(probe, "periodSeconds", 10);
  set_default(probe, "successThreshold", 1);
  set_default(probe, "failureThreshold", 3);
  if (probe.contains("httpGet") && probe["httpGet"].is_object()) {
    set_default(probe["httpGet"], "path", "/");
    set_default(probe["httpGet"], "scheme", "HTTP");
  }
}

void default_container(json& c) {
  if (!c.is_object()) return;
  if (c.contains("image") && c["image"].is_string())
    set_default(c, "imagePullPolicy", image_has_latest_or_no_tag(c["image"].get<std::string>()) ? "Always"
                                                                                                 : "IfNotPresent");
  set_default(c, "terminationMessagePath", "/dev/termination-log");
  set_default(c, "terminationMessagePolicy", "File");
  set_default(c, "resources", json::object());
  if (c.contains("ports") && c["ports"].is_array())
    for (auto& p : c["ports"])
      if (p.is_object()) set_default(p, "protocol", "TCP");
  if (c.contains("env") && c["env"].is_array())
    for (auto& e : c["env"])
      if (e.is_object() && e.contains("valueFrom") && e["valueFrom"].is_object() &&
          e["valueFrom"].contains("fieldRef") && e["valueFrom"]["fieldRef"].is_object())
        set_default(e["valueFrom"]["fieldRef"], "apiVersion", "v1");
  for (const char* p : {"livenessProbe", "readinessProbe", "startupProbe"})
    if (c.contains(p)) default_probe(c[p]);
  // Requests default to limits (SetDefaults_Pod does this per container).
  auto& res = c["resources"];
  if (res.is_object() && res.contains("limits") && res["limits"].is_object()) {
    if (!res.contains("requests") || !res["requests"].is_object()) res["requests"] = json::object();
    for (auto it = res["limits"].begin(); it != res["limits"].end(); ++it)
      if (!res["requests"].contains(it.key())) res["requests"][it.key()] = it.value();
  }
}

void default_volume(json& v) {
  if (!v.is_object()) return;
  static const std::set<std::string> kNotSources = {"name"};
  bool has_source = false;
  for (auto it = v.begin(); it != v.end(); ++it)
    if (!kNotSources.count(it.key())) has_source = true;
  if (!has_source) v["emptyDir"] = json::object();
  for (const char* src : {"secret", "configMap"})
    if (v.contains(src) && v[src].is_object()) set_default(v[src], "defaultMode", 420);
  if (v.contains("hostPath") && v["hostPath"].is_object()) set_default(v["hostPath"], "type", "");
  if (v.contains("projected") && v["projected"].is_object()) set_default(v["projected"], "defaultMode", 420);
  if (v.contains("downwardAPI") && v["downwardAPI"].is_object()) set_default(v["downwardAPI"], "defaultMode", 420);
}

}  // namespace

void default_pod_spec(json& spec) {
  if (!spec.is_object()) return;
  set_default(spec, "restartPolicy", "Always");
  set_default(spec, "terminationGracePeriodSeconds", 30);
  set_default(spec, "dnsPolicy", "ClusterFirst");
  set_default(spec, "securityContext", json::object());
  set_default(spec, "schedulerName", "default-scheduler");
  set_default(spec, "enableServiceLinks", true);
  for (const char* list : {"containers", "initContainers"})
    if (spec.contains(list) && spec[list].is_array())
      for (auto& c : spec[list]) default_container(c);
  if (spec.contains("volumes") && spec["volumes"].is_array())
    for (auto& v : spec["volumes"]) default_volume(v);
}

void default_pod_template(json& t) {
  if (!t.is_object()) return;
  if (t.contains("spec")) default_pod_spec(t["spec"]);
}

namespace {

// field.NotFound: "Not found: <value>". TODO(move): belongs beside the other cause builders in validation.h.
StatusCause cause_not_found(std::string field, const json& value) {
  return {"FieldValueNotFound", "Not found: " + render_value(value), std::move(field)};
}

void validate_container(const json& c, const std::string& path, std::set<std::string>& names,
                        const std::set<std::string>& volumes, bool init, std::vector<StatusCause>& causes) {
  if (!c.is_object()) {
    causes.push_back(cause_invalid(path, c, "must be an object"));
    return;
  }
  std::string name = c.value("name", "");
  if (name.empty()) {
    causes.push_back(cause_required(path + ".name", ""));
  } else {
    for (const auto& m : is_dns1123_label(name)) causes.push_back(cause_invalid(path + ".name", name, m));
    if (!names.insert(name).second) causes.push_back(cause_duplicate(path + ".name", name));
  }
  if (!c.contains("image") || !c["image"].is_string() || c["image"].get<std::string>().empty())
    causes.push_back(cause_required(path + ".image", ""));
  if (c.contains("imagePullPolicy") && c["imagePullPolicy"].is_string()) {
    std::string p = c["imagePullPolicy"];
    if (p != "Always" && p != "IfNotPresent" && p != "Never")
      causes.push_back(cause_not_supported(path + ".imagePullPolicy", p, {"Always", "IfNotPresent", "Never"}));
  }
  if (c.contains("ports") && c["ports"].is_array()) {
    std::set<std::string> port_names;
    for (size_t i = 0; i < c["ports"].size(); ++i) {
      const auto& p = c["ports"][i];
      std::string pp = path + ".ports[" + std::to_string(i) + "]";
      if (!p.is_object()) continue;
      if (!p.contains("containerPort")) {
        causes.push_back(cause_required(pp + ".containerPort", ""));
      } else if (!p["containerPort"].is_number_integer() || p["containerPort"].get<int64_t>() < 1 ||
                 p["containerPort"].get<int64_t>() > 65535) {
        causes.push_back(cause_invalid(pp + ".containerPort", p["containerPort"], "must be between 1 and 65535, inclusive"));
      }
      if (p.contains("hostPort") && p["hostPort"].is_number_integer() && p["hostPort"].get<int64_t>() != 0 &&
          (p["hostPort"].get<int64_t>() < 1 || p["hostPort"].get<int64_t>() > 65535))
        causes.push_back(cause_invalid(pp + ".hostPort", p["hostPort"], "must be between 1 and 65535, inclusive"));
      std::string proto = p.value("protocol", "TCP");
      if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
        causes.push_back(cause_not_supported(pp + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
      if (p.contains("name") && p["name"].is_string()) {
        std::string pn = p["name"];
        for (const auto& m : is_valid_port_name(pn)) causes.push_back(cause_invalid(pp + ".name", pn, m));
        if (!port_names.insert(pn).second) causes.push_back(cause_duplicate(pp + ".name", pn));
      }
    }
  }
  if (c.contains("env") && c["env"].is_array()) {
    for (size_t i = 0; i < c["env"].size(); ++i) {
      const auto& e = c["env"][i];
      std::string ep = path + ".env[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty())
        causes.push_back(cause_required(ep + ".name", ""));
    }
  }
  if (c.contains("volumeMounts") && c["volumeMounts"].is_array()) {
    std::set<std::string> mount_paths;
    for (size_t i = 0; i < c["volumeMounts"].size(); ++i) {
      const auto& m = c["volumeMounts"][i];
      std::string mp = path + ".volumeMounts[" + std::to_string(i) + "]";
      if (!m.is_object()) continue;
      std::string vname = m.value("name", "");
      if (vname.empty())
        causes.push_back(cause_required(mp + ".name", ""));
      else if (!volumes.count(vname))
        causes.push_back(cause_not_found(mp + ".name", vname));
      std::string mpath = m.value("mountPath", "");
      if (mpath.empty())
        causes.push_back(cause_required(mp + ".mountPath", ""));
      else if (!mount_paths.insert(mpath).second)
        causes.push_back(cause_invalid(mp + ".mountPath", mpath, "must be unique"));
    }
  }
  if (c.contains("resources") && c["resources"].is_object()) {
    for (const char* section : {"limits", "requests"}) {
      const auto& r = c["resources"].value(section, json::object());
      if (!r.is_object()) continue;
      for (auto it = r.begin(); it != r.end(); ++it) {
        std::string rp = path + ".resources." + section + "[" + it.key() + "]";
        std::string text = it->is_string() ? it->get<std::string>() : it->dump();
        try {
          Quantity q = Quantity::parse(text);
          if (q.milli_value() < 0) causes.push_back(cause_invalid(rp, *it, "must be greater than or equal to 0"));
        } catch (const StatusError&) {
          causes.push_back(cause_invalid(rp, *it, "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"));
        }
      }
    }
  }
  (void)init;
}

}  // namespace

namespace {

// validatePodDNSConfig: what the kubelet must be able to write into a resolv.conf (the C library's limits, which
// the kubelet also cuts to), and dnsPolicy None only with something to write.
constexpr size_t kMaxDnsNameservers = 3, kMaxDnsSearchPaths = 32, kMaxDnsSearchListChars = 2048;

void validate_dns_config(const nlohmann::json& spec, const std::string& path, std::vector<StatusCause>& causes) {
  const std::string field = path + ".dnsConfig";
  bool none = spec.value("dnsPolicy", nlohmann::json()) == "None";
  const nlohmann::json config = spec.value("dnsConfig", nlohmann::json());
  if (!config.is_object()) {
    if (none) causes.push_back(cause_required(field, "must provide `dnsConfig` when `dnsPolicy` is None"));
    return;
  }
  const nlohmann::json nameservers = config.value("nameservers", nlohmann::json::array());
  const nlohmann::json searches = config.value("searches", nlohmann::json::array());
  if (none && (!nameservers.is_array() || nameservers.empty())) {
    causes.push_back(cause_required(field + ".nameservers",
                                    "must provide at least one DNS nameserver when `dnsPolicy` is None"));
    return;
  }
  if (nameservers.is_array()) {
    if (nameservers.size() > kMaxDnsNameservers)
      causes.push_back(cause_invalid(field + ".nameservers", nameservers, "must not have more than 3 nameservers"));
    for (size_t i = 0; i < nameservers.size(); ++i)
      for (const auto& e : is_valid_ip(nameservers[i].is_string() ? nameservers[i].get<std::string>() : ""))
        causes.push_back(cause_invalid(field + ".nameservers[" + std::to_string(i) + "]", nameservers[i], e));
  }
  if (searches.is_array()) {
    if (searches.size() > kMaxDnsSearchPaths)
      causes.push_back(cause_invalid(field + ".searches", searches, "must not have more than 32 search paths"));
    size_t chars = 0;
    for (size_t i = 0; i < searches.size(); ++i) {
      std::string search = searches[i].is_string() ? searches[i].get<std::string>() : "";
      chars += search.size() + (i ? 1 : 0);
      if (!search.empty() && search.back() == '.') search.pop_back();  // a final dot is fine
      for (const auto& e : is_dns1123_subdomain(search))
        causes.push_back(cause_invalid(field + ".searches[" + std::to_string(i) + "]", search, e));
    }
    if (chars > kMaxDnsSearchListChars)
      causes.push_back(cause_invalid(field + ".searches", searches,
                                     "must not have more than 2048 characters (including spaces) in the search list"));
  }
  const nlohmann::json options = config.value("options", nlohmann::json::array());
  if (options.is_array())
    for (size_t i = 0; i < options.size(); ++i)
      if (!options[i].is_object() || options[i].value("name", "").empty())
        causes.push_back(cause_required(field + ".options[" + std::to_string(i) + "]", "must not be empty"));
}

}  // namespace

namespace {

// File modes of secret, configMap, downwardAPI and projected volumes (defaultMode, items[].mode, and the projected
// sources' items): permission bits only, as kube's validation says; a setuid bit would otherwise reach the node.
void validate_volume_modes(const json& volume, const std::string& path, std::vector<StatusCause>& causes) {
  auto check = [&](const json& obj, const std::string& field, const char* key) {
    if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer()) return;
    int64_t mode = obj[key].get<int64_t>();
    if (mode < 0 || mode > 0777)
      causes.push_back(cause_invalid(field + "." + key, mode, "must be a number between 0 and 0777 (octal), both inclusive"));
  };
  auto items = [&](const json& src, const std::string& field) {
    if (!src.is_object() || !src.contains("items") || !src["items"].is_array()) return;
    for (size_t i = 0; i < src["items"].size(); ++i)
      check(src["items"][i], field + ".items[" + std::to_string(i) + "]", "mode");
  };
  for (const char* kind : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (!volume.contains(kind) || !volume[kind].is_object()) continue;
    const json& src = volume[kind];
    std::string field = path + "." + kind;
    check(src, field, "defaultMode");
    items(src, field);
    if (std::string(kind) == "projected" && src.contains("sources") && src["sources"].is_array())
      for (size_t j = 0; j < src["sources"].size(); ++j)
        for (const char* inner : {"secret", "configMap", "downwardAPI"})
          if (src["sources"][j].is_object() && src["sources"][j].contains(inner))
            items(src["sources"][j][inner], field + ".sources[" + std::to_string(j) + "]." + inner);
  }
}

}  // namespace

void validate_pod_spec(const json& spec, const std::string& path, std::vector<StatusCause>& causes) {
  if (!spec.is_object()) {
    causes.push_back(cause_required(path, ""));
    return;
  }
  std::set<std::string> volumes;
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (size_t i = 0; i < spec["volumes"].size(); ++i) {
      const auto& v = spec["volumes"][i];
      std::string vp = path + ".volumes[" + std::to_string(i) + "]";
      std::string name = v.is_object() ? v.value("name", "") : "";
      if (name.empty()) {
        causes.push_back(cause_required(vp + ".name", ""));
        continue;
      }
      for (const auto& m : is_dns1123_label(name)) causes.push_back(cause_invalid(vp + ".name", name, m));
      if (!volumes.insert(name).second) causes.push_back(cause_duplicate(vp + ".name", name));
      validate_volume_modes(v, vp, causes);
    }
  }
  std::set<std::string> names;
  if (!spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty()) {
    causes.push_back(cause_required(path + ".containers", ""));
  } else {
    for (size_t i = 0; i < spec["containers"].size(); ++i)
      validate_container(spec["containers"][i], path + ".containers[" + std::to_string(i) + "]", names, volumes, false,
                         causes);
  }
  if (spec.contains("initContainers") && spec["initContainers"].is_array())
    for (size_t i = 0; i < spec["initContainers"].size(); ++i)
      validate_container(spec["initContainers"][i], path + ".initContainers[" + std::to_string(i) + "]", names,
                         volumes, true, causes);
  if (spec.contains("restartPolicy")) {
    std::string rp = spec["restartPolicy"].is_string() ? spec["restartPolicy"].get<std::string>() : "";
    if (rp != "Always" && rp != "OnFailure" && rp != "Never")
      causes.push_back(cause_not_supported(path + ".restartPolicy", spec["restartPolicy"], {"Always", "Never", "OnFailure"}));
  }
  if (spec.contains("dnsPolicy")) {
    std::string dp = spec["dnsPolicy"].is_string() ? spec["dnsPolicy"].get<std::string>() : "";
    if (dp != "ClusterFirst" && dp != "ClusterFirstWithHostNet" && dp != "Default" && dp != "None")
      causes.push_back(cause_not_supported(path + ".dnsPolicy", spec["dnsPolicy"],
                                           {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}));
  }
  validate_dns_config(spec, path, causes);
  if (spec.contains("terminationGracePeriodSeconds") && spec["terminationGracePeriodSeconds"].is_number_integer() &&
      spec["terminationGracePeriodSeconds"].get<int64_t>() < 0)
    causes.push_back(cause_invalid(path + ".terminationGracePeriodSeconds", spec["terminationGracePeriodSeconds"],
                                   "must be greater than or equal to 0"));
  if (spec.contains("activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number_integer() &&
      spec["activeDeadlineSeconds"].get<int64_t>() <= 0)
    causes.push_back(cause_invalid(path + ".activeDeadlineSeconds", spec["activeDeadlineSeconds"],
                                   "must be greater than 0"));
  if (spec.contains("nodeName") && spec["nodeName"].is_string() && !spec["nodeName"].get<std::string>().empty())
    for (const auto& m : is_dns1123_subdomain(spec["nodeName"].get<std::string>()))
      causes.push_back(cause_invalid(path + ".nodeName", spec["nodeName"], m));
  if (spec.contains("nodeSelector") && spec["nodeSelector"].is_object())
    for (auto it = spec["nodeSelector"].begin(); it != spec["nodeSelector"].end(); ++it) {
      for (const auto& m : is_qualified_name(it.key()))
        causes.push_back(cause_invalid(path + ".nodeSelector", it.key(), m));
      if (it->is_string())
        for (const auto& m : is_valid_label_value(it->get<std::string>()))
          causes.push_back(cause_invalid(path + ".nodeSelector", *it, m));
    }
}

void validate_pod_template(const json& t, const std::string& path, bool require_always,
                           std::vector<StatusCause>& causes) {
  if (!t.is_object()) {
    causes.push_back(cause_required(path, ""));
    return;
  }
  validate_pod_spec(t.value("spec", json()), path + ".spec", causes);
  if (require_always && t.contains("spec") && t["spec"].is_object()) {
    std::string rp = t["spec"].value("restartPolicy", "Always");
    if (rp != "Always") causes.push_back(cause_not_supported(path + ".spec.restartPolicy", rp, {"Always"}));
  }
}

}  // namespace kctl::api::kinds
