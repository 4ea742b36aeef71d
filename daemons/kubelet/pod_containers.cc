// Kubelet::start_container: from a container of the pod spec to a running nspawn container: the image, the command
// (Kubernetes' command/args over the image's entrypoint/cmd), the environment (values, fieldRef, configMap and
// secret keys, envFrom), volume mounts, resource limits and the log file.
#include <filesystem>

#include "api/quantity.h"
#include "daemons/common/daemon.h"
#include "daemons/kubelet/container_rootfs.h"
#include "daemons/kubelet/kubelet.h"
#include "daemons/kubelet/kubelet_events.h"
#include "daemons/kubelet/volumes.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::kubelet {

namespace {

std::vector<std::string> strings(const json& v) {
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& s : v)
      if (s.is_string()) out.push_back(s);
  return out;
}

// $(VAR) references in command, args and env values expand to earlier variables; $$ escapes.
std::string expand(const std::string& s, const std::vector<std::pair<std::string, std::string>>& env) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '(') {
      auto close = s.find(')', i);
      if (close == std::string::npos) {
        out += s.substr(i);
        break;
      }
      std::string name = s.substr(i + 2, close - i - 2);
      bool found = false;
      for (auto it = env.rbegin(); it != env.rend(); ++it)
        if (it->first == name) {
          out += it->second;
          found = true;
          break;
        }
      if (!found) out += s.substr(i, close - i + 1);
      i = close;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string b64decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    auto pos = chars.find(char(c));
    if (pos == std::string::npos) continue;
    val = (val << 6) + int(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(char((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// The docker-link style variables of a Service (kubelet's envvars.FromServices): NAME_SERVICE_HOST,
// NAME_SERVICE_PORT[_PORTNAME], NAME_PORT and NAME_PORT_P_PROTO[_PROTO|_PORT|_ADDR].
std::vector<std::pair<std::string, std::string>> service_env(const json& svc) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string ip = svc.value("/spec/clusterIP"_json_pointer, std::string());
  json ports = svc.value("/spec/ports"_json_pointer, json::array());
  if (ip.empty() || ip == "None" || !ports.is_array() || ports.empty()) return out;
  auto upper = [](std::string s) {
    for (auto& c : s) c = c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  std::string name = upper(svc.value("/metadata/name"_json_pointer, std::string()));
  auto port_of = [](const json& p) { return std::to_string(p.value("port", 0)); };
  out.emplace_back(name + "_SERVICE_HOST", ip);
  out.emplace_back(name + "_SERVICE_PORT", port_of(ports[0]));
  for (const auto& p : ports)
    if (!p.value("name", "").empty()) out.emplace_back(name + "_SERVICE_PORT_" + upper(p.value("name", "")), port_of(p));
  std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  auto proto = [](const json& p) {
    std::string s = p.value("protocol", "TCP");
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  out.emplace_back(name + "_PORT", proto(ports[0]) + "://" + host + ":" + port_of(ports[0]));
  for (const auto& p : ports) {
    std::string prefix = name + "_PORT_" + port_of(p) + "_" + upper(p.value("protocol", "TCP"));
    out.emplace_back(prefix, proto(p) + "://" + host + ":" + port_of(p));
    out.emplace_back(prefix + "_PROTO", proto(p));
    out.emplace_back(prefix + "_PORT", port_of(p));
    out.emplace_back(prefix + "_ADDR", ip);
  }
  return out;
}

}  // namespace

bool Kubelet::start_container(const json& pod, const json& spec, PodRecord& rec, ContainerRecord& c) {
  std::string image_ref = spec.value("image", "");
  auto image = images_->find(image_ref);
  if (!image) {
    std::string policy = spec.value("imagePullPolicy", "IfNotPresent");
    c.waiting_reason = policy == "Never" ? "ErrImageNeverPull" : "ImagePullBackOff";
    c.waiting_message = "image \"" + image_ref + "\" is not in this node's image store (" + options_.root_dir +
                        "/images); import it with kctl image import";
    return false;
  }
  // The kubelet says so on every start, also when nothing had to be pulled.
  record_container_event(*events_, pod, c, api::EventType::Normal, reason::kPulled,
                         "Container image \"" + image_ref + "\" already present on machine");
  const auto& reg = api::Registry::builtin();
  std::string ns = rec.ns;
  auto field_ref = [&](const std::string& path) -> std::string {
    if (path == "metadata.name") return rec.name;
    if (path == "metadata.namespace") return ns;
    if (path == "metadata.uid") return rec.uid;
    if (path == "spec.nodeName") return options_.node.name;
    if (path == "spec.serviceAccountName") return pod.value("/spec/serviceAccountName"_json_pointer, std::string());
    if (path == "status.hostIP") return options_.node.internal_ip;
    if (path == "status.podIP") return rec.network ? rec.network->ip : "";
    if (path.rfind("metadata.labels['", 0) == 0 || path.rfind("metadata.annotations['", 0) == 0) {
      bool labels = path[9] == 'l';
      std::string key = path.substr(labels ? 17 : 22);
      key = key.substr(0, key.size() - 2);
      json m = pod.value(json::json_pointer(labels ? "/metadata/labels" : "/metadata/annotations"), json::object());
      return m.value(key, "");
    }
    return "";
  };
  auto key_ref = [&](const json& ref, bool secret) -> std::optional<std::string> {
    const auto* kind = reg.by_kind("", secret ? "Secret" : "ConfigMap");
    try {
      json obj = api::ResourceClient(*transport_, *kind, ns).get(ref.value("name", ""));
      json data = obj.value("data", json::object());
      std::string key = ref.value("key", "");
      if (!data.contains(key)) return std::nullopt;
      return secret ? b64decode(data[key].get<std::string>()) : data[key].get<std::string>();
    } catch (const api::StatusError&) {
      return std::nullopt;
    }
  };

  // Environment: the image's, then envFrom, then env (later entries win, as in Kubernetes).
  std::vector<std::pair<std::string, std::string>> env;
  auto set_env = [&](const std::string& k, const std::string& v) {
    for (auto& e : env)
      if (e.first == k) {
        e.second = v;
        return;
      }
    env.emplace_back(k, v);
  };
  for (const auto& kv : image->config.env)
    if (auto eq = kv.find('='); eq != std::string::npos) set_env(kv.substr(0, eq), kv.substr(eq + 1));
  set_env("HOSTNAME", pod_hostname(pod));
  // The `kubernetes` Service of the default namespace, which every pod gets (so that in-cluster clients find the
  // apiserver); the container's own env can override these.
  try {
    json svc = api::ResourceClient(*transport_, *reg.by_kind("", "Service"), "default").get("kubernetes");
    for (const auto& [k, v] : service_env(svc)) set_env(k, v);
  } catch (const api::StatusError&) {
  }
  for (const auto& from : spec.value("envFrom", json::array())) {
    bool secret = from.contains("secretRef");
    const json& ref = secret ? from["secretRef"] : from.value("configMapRef", json::object());
    try {
      json obj = api::ResourceClient(*transport_, *reg.by_kind("", secret ? "Secret" : "ConfigMap"), ns).get(ref.value("name", ""));
      std::string prefix = from.value("prefix", "");
      for (auto it = obj.value("data", json::object()).begin(); it != obj.value("data", json::object()).end(); ++it)
        set_env(prefix + it.key(), secret ? b64decode(it->get<std::string>()) : it->get<std::string>());
    } catch (const api::StatusError&) {
      if (!ref.value("optional", false)) {
        c.waiting_reason = "CreateContainerConfigError";
        c.waiting_message = std::string(secret ? "secret" : "configmap") + " \"" + ref.value("name", "") + "\" not found";
        return false;
      }
    }
  }
  for (const auto& e : spec.value("env", json::array())) {
    std::string name = e.value("name", "");
    if (e.contains("valueFrom")) {
      const json& vf = e["valueFrom"];
      std::optional<std::string> v;
      if (vf.contains("fieldRef")) v = field_ref(vf["fieldRef"].value("fieldPath", ""));
      else if (vf.contains("configMapKeyRef")) v = key_ref(vf["configMapKeyRef"], false);
      else if (vf.contains("secretKeyRef")) v = key_ref(vf["secretKeyRef"], true);
      else if (vf.contains("resourceFieldRef")) v = "0";
      if (!v) {
        const json& ref = vf.contains("secretKeyRef") ? vf["secretKeyRef"] : vf.value("configMapKeyRef", json::object());
        if (ref.value("optional", false)) continue;
        c.waiting_reason = "CreateContainerConfigError";
        c.waiting_message = "couldn't find key " + ref.value("key", "") + " in " +
                            (vf.contains("secretKeyRef") ? "Secret " : "ConfigMap ") + ns + "/" + ref.value("name", "");
        return false;
      }
      set_env(name, *v);
    } else {
      set_env(name, expand(e.value("value", ""), env));
    }
  }

  // Command: Kubernetes' command/args replace the image's entrypoint/cmd.
  std::vector<std::string> command = strings(spec.value("command", json())), args = strings(spec.value("args", json()));
  std::vector<std::string> argv;
  if (!command.empty()) {
    argv = command;
    argv.insert(argv.end(), args.begin(), args.end());
  } else {
    argv = image->config.entrypoint;
    const auto& rest = spec.contains("args") ? args : image->config.cmd;
    argv.insert(argv.end(), rest.begin(), rest.end());
  }
  for (auto& a : argv) a = expand(a, env);
  if (argv.empty()) {
    c.waiting_reason = "CreateContainerError";
    c.waiting_message = "no command specified";
    return false;
  }

  PodVolumes volumes(*transport_, pod_dir(rec.uid));
  ContainerSpec s;
  try {
    volumes.prepare(pod);
    s.mounts = volumes.mounts_for(spec);
    for (auto& m : pod_dns_mounts(pod, spec, pod_dir(rec.uid) + "/etc")) s.mounts.push_back(std::move(m));
  } catch (const std::exception& e) {
    c.waiting_reason = "CreateContainerConfigError";
    c.waiting_message = e.what();
    return false;
  }
  int attempt = c.attempt + 1;
  s.id = container_id(rec.uid, c.name, attempt);
  s.pod_uid = rec.uid;
  s.pod_namespace = ns;
  s.pod_name = rec.name;
  s.container_name = c.name;
  s.hostname = pod_hostname(pod);
  s.argv = argv;
  s.env = env;
  s.working_dir = spec.value("workingDir", image->config.working_dir);
  s.netns_path = rec.network ? rec.network->netns_path : "";
  s.tty = spec.value("tty", false);
  s.stdin_open = spec.value("stdin", false);
  json limits = spec.value("/resources/limits"_json_pointer, json::object());
  try {
    if (limits.contains("cpu")) s.cpu_limit_millis = api::Quantity::from_json(limits["cpu"]).milli_value();
    if (limits.contains("memory")) s.memory_limit_bytes = api::Quantity::from_json(limits["memory"]).value();
  } catch (const std::exception&) {
  }
  s.log_path = pod_dir(rec.uid) + "/logs/" + c.name + "/" + std::to_string(attempt) + ".log";
  s.log_rotation = options_.container_logs;
  try {
    s.rootfs = mount_container_rootfs(image->rootfs, pod_dir(rec.uid) + "/containers/" + s.id);
    runtime_->start(s);
  } catch (const std::exception& e) {
    c.waiting_reason = "CreateContainerError";
    c.waiting_message = e.what();
    log(LogLevel::Warning, "cannot start container " + c.name + " of pod " + ns + "/" + rec.name + ": " + e.what(),
        object_fields("Pod", ns, rec.name));
    return false;
  }
  // nspawn creates and starts in one step; the kubelet's two events still tell the user where the container is.
  record_container_event(*events_, pod, c, api::EventType::Normal, reason::kCreated, "Created container: " + c.name);
  record_container_event(*events_, pod, c, api::EventType::Normal, reason::kStarted, "Started container " + c.name);
  c.attempt = attempt;
  c.image_id = image->id;
  c.killed_by_probe = false;
  c.waiting_reason.clear();
  c.waiting_message.clear();
  if (rec.start_time.empty()) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    rec.start_time = buf;
  }
  return true;
}

}  // namespace kctl::kubelet
