// PodVolumes: emptyDir, hostPath, configMap and secret volumes, and container mounts with subPath and readOnly.
#include "daemons/kubelet/volumes.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <sys/stat.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::kubelet {

namespace {

std::string base64_decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    if (c == '=') break;
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

// A key or path from a user must stay inside the volume directory.
bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p))
    if (part == "..") return false;
  return true;
}

}  // namespace

void PodVolumes::write_keys(const std::string& dir, const json& data, bool b64, const json& items, int default_mode) {
  fs::create_directories(dir);
  // Written afresh each time: a key removed from the ConfigMap disappears from the volume too.
  for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
  auto write = [&](const std::string& key, const std::string& rel, int mode) {
    if (!data.contains(key) || !safe_relative(rel)) return;
    fs::path p = fs::path(dir) / rel;
    fs::create_directories(p.parent_path());
    std::string value = data[key].is_string() ? data[key].get<std::string>() : data[key].dump();
    std::ofstream(p, std::ios::binary) << (b64 ? base64_decode(value) : value);
    ::chmod(p.c_str(), mode_t(mode));
  };
  if (items.is_array() && !items.empty()) {
    for (const auto& it : items) write(it.value("key", ""), it.value("path", ""), it.value("mode", default_mode));
  } else if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) write(it.key(), it.key(), default_mode);
  }
}

void PodVolumes::prepare(const json& pod) {
  std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string("default"));
  const auto& reg = api::Registry::builtin();
  for (const auto& v : pod.value("/spec/volumes"_json_pointer, json::array())) {
    std::string name = v.value("name", "");
    if (v.contains("emptyDir")) {
      std::string d = pod_dir_ + "/volumes/empty-dir/" + name;
      fs::create_directories(d);
      ::chmod(d.c_str(), 0777);  // as Kubernetes makes emptyDirs: writable by any container user
      paths_[name] = d;
    } else if (v.contains("hostPath")) {
      std::string path = v["hostPath"].value("path", "");
      std::string type = v["hostPath"].value("type", "");
      if (type == "DirectoryOrCreate") fs::create_directories(path);
      if (type == "FileOrCreate" && !fs::exists(path)) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path).close();
      }
      if (type == "Directory" && !fs::is_directory(path))
        throw std::runtime_error("hostPath type check failed: " + path + " is not a directory");
      if (type == "File" && !fs::is_regular_file(path))
        throw std::runtime_error("hostPath type check failed: " + path + " is not a file");
      paths_[name] = path;
    } else if (v.contains("configMap") || v.contains("secret")) {
      bool secret = v.contains("secret");
      const json& src = secret ? v["secret"] : v["configMap"];
      std::string obj_name = secret ? src.value("secretName", "") : src.value("name", "");
      bool optional = src.value("optional", false);
      json obj;
      try {
        obj = api::ResourceClient(transport_, *reg.by_kind("", secret ? "Secret" : "ConfigMap"), ns).get(obj_name);
      } catch (const api::StatusError& e) {
        if (e.status().code != 404 || !optional)
          throw std::runtime_error(std::string(secret ? "secret" : "configmap") + " \"" + obj_name + "\" not found");
      }
      std::string d = pod_dir_ + "/volumes/" + (secret ? "secret/" : "configmap/") + name;
      int mode = src.value("defaultMode", 0644);
      write_keys(d, obj.value("data", json::object()), secret, src.value("items", json::array()), mode);
      if (!secret && obj.contains("binaryData")) {
        for (auto it = obj["binaryData"].begin(); it != obj["binaryData"].end(); ++it)
          if (safe_relative(it.key())) std::ofstream(fs::path(d) / it.key(), std::ios::binary) << base64_decode(it->get<std::string>());
      }
      paths_[name] = d;
    } else {
      throw std::runtime_error("volume \"" + name + "\": only emptyDir, hostPath, configMap and secret volumes are supported");
    }
  }
}

std::vector<Mount> PodVolumes::mounts_for(const json& container) const {
  std::vector<Mount> out;
  for (const auto& m : container.value("volumeMounts", json::array())) {
    std::string name = m.value("name", "");
    auto it = paths_.find(name);
    if (it == paths_.end()) throw std::runtime_error("volumeMount \"" + name + "\" names no volume of the pod");
    std::string source = it->second;
    std::string sub = m.value("subPath", "");
    if (!sub.empty()) {
      if (!safe_relative(sub)) throw std::runtime_error("subPath \"" + sub + "\" must be a relative path inside the volume");
      source += "/" + sub;
      if (!fs::exists(source)) fs::create_directories(source);
    }
    bool ro = m.value("readOnly", false) || source.find("/volumes/configmap/") != std::string::npos ||
              source.find("/volumes/secret/") != std::string::npos;
    out.push_back({source, m.value("mountPath", ""), ro});
  }
  return out;
}

void PodVolumes::cleanup() {
  std::error_code ec;
  fs::remove_all(pod_dir_ + "/volumes", ec);
  paths_.clear();
}

}  // namespace kctl::kubelet
