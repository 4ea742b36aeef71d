// PodVolumes: emptyDir, hostPath, configMap, secret, downwardAPI and projected volumes, and container mounts with
// subPath and readOnly.
#include "daemons/kubelet/volumes.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/jwt.h"

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

// How soon a failed token renewal is tried again.
constexpr auto kTokenRetryDelay = std::chrono::seconds(10);

// How kube's downward API writes a map (labels, annotations): key="value" lines sorted by key, values quoted.
std::string format_map(const json& m) {
  std::string out;
  if (!m.is_object()) return out;
  std::vector<std::string> keys;
  for (auto it = m.begin(); it != m.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) {
    if (!out.empty()) out += "\n";
    out += k + "=" + json(m[k].is_string() ? m[k].get<std::string>() : m[k].dump()).dump();
  }
  return out;
}

// The value of a downward API fieldRef; nullopt for a field the kubelet cannot give.
std::optional<std::string> pod_field(const json& pod, const std::string& path) {
  const json& m = pod.value("metadata", json::object());
  if (path == "metadata.name") return m.value("name", "");
  if (path == "metadata.namespace") return m.value("namespace", "");
  if (path == "metadata.uid") return m.value("uid", "");
  if (path == "metadata.labels") return format_map(m.value("labels", json::object()));
  if (path == "metadata.annotations") return format_map(m.value("annotations", json::object()));
  for (const char* f : {"labels", "annotations"}) {
    std::string prefix = std::string("metadata.") + f + "['";
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + 2 && path.substr(path.size() - 2) == "']") {
      json map = m.value(f, json::object());
      return map.value(path.substr(prefix.size(), path.size() - prefix.size() - 2), std::string());
    }
  }
  if (path == "spec.nodeName") return pod.value("/spec/nodeName"_json_pointer, std::string());
  if (path == "spec.serviceAccountName") return pod.value("/spec/serviceAccountName"_json_pointer, std::string());
  return std::nullopt;
}

// The mode a volume file gets from a defaultMode or an item's mode: the permission bits only, as kube's kubelet
// takes them (Go's os.FileMode). Never setuid, setgid or sticky: root's file with a user's content and the setuid
// bit would be a way to root on the node.
mode_t file_mode(int mode) { return mode_t(mode) & 0777; }

// Writes `data` to `path` by way of a temporary file and a rename, so a container never reads half a token. The
// file is the owner's alone until it is whole, then gets `mode`: a key's content is never readable under a wider
// mode than asked for, whatever the umask.
void write_atomically(const fs::path& path, const std::string& data, int mode) {
  fs::create_directories(path.parent_path());
  std::string tmp = (path.parent_path() / ("..tmp." + path.filename().string())).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  bool ok = true;
  for (size_t off = 0; ok && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += size_t(n);
  }
  ok = ok && ::fchmod(fd, file_mode(mode)) == 0;
  int saved = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(saved));
  }
}

// The directory holding one kind of a pod's volumes (projected, secret, ...), which only root may enter: those
// volumes' files are credentials, kept 0644 (or their defaultMode) for the container's users, and other users of
// the node must not reach them (kube keeps them under /var/lib/kubelet/pods, 0750).
std::string private_volume_dir(const std::string& pod_dir, const std::string& kind) {
  std::string parent = pod_dir + "/volumes/" + kind;
  fs::create_directories(parent);
  fs::permissions(parent, fs::perms::owner_all);
  return parent;
}

}  // namespace

std::optional<json> token_claims(const std::string& token) {
  auto parsed = jwt::parse(token);
  if (!parsed) return std::nullopt;
  return parsed->claims;
}

int64_t token_refresh_time(int64_t iat, int64_t exp) {
  constexpr int64_t kMaxRefreshAge = 24 * 3600;
  return std::min(iat + (exp - iat) * 8 / 10, iat + kMaxRefreshAge);
}

void PodVolumes::add_key_files(Files& files, const json& data, bool b64, const json& items, int default_mode) {
  auto add = [&](const std::string& key, const std::string& rel, int mode) {
    if (!data.is_object() || !data.contains(key) || !safe_relative(rel)) return;
    std::string value = data[key].is_string() ? data[key].get<std::string>() : data[key].dump();
    files[rel] = {b64 ? base64_decode(value) : value, mode};
  };
  if (items.is_array() && !items.empty()) {
    for (const auto& it : items) add(it.value("key", ""), it.value("path", ""), it.value("mode", default_mode));
  } else if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) add(it.key(), it.key(), default_mode);
  }
}

void PodVolumes::add_downward_files(Files& files, const json& pod, const json& items, int default_mode) {
  for (const auto& it : items.is_array() ? items : json::array()) {
    std::string rel = it.value("path", "");
    if (!safe_relative(rel)) continue;
    std::optional<std::string> value;
    if (it.contains("fieldRef")) value = pod_field(pod, it["fieldRef"].value("fieldPath", ""));
    if (!value) throw std::runtime_error("downwardAPI item \"" + rel + "\": only fieldRef of metadata and spec "
                                         "fields is supported");
    files[rel] = {*value, it.value("mode", default_mode)};
  }
}

std::string PodVolumes::service_account_token(const json& pod, const json& source, const std::string& path) {
  std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string("default"));
  std::string sa = pod.value("/spec/serviceAccountName"_json_pointer, std::string("default"));
  std::string uid = pod.value("/metadata/uid"_json_pointer, std::string());
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto remember = [&](const json& claims) {
    auto at = std::chrono::system_clock::time_point(
        std::chrono::seconds(token_refresh_time(claims.value("iat", now), claims.value("exp", now))));
    if (!next_refresh_ || at < *next_refresh_) next_refresh_ = at;
  };
  // The token already there, while it is this pod's and not yet due.
  std::ifstream in(path, std::ios::binary);
  std::string existing((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto existing_claims = token_claims(existing);
  bool mine = existing_claims &&
              existing_claims->value("/kubernetes.io/pod/uid"_json_pointer, std::string()) == uid &&
              existing_claims->value("/kubernetes.io/serviceaccount/name"_json_pointer, std::string()) == sa;
  if (mine && now < token_refresh_time(existing_claims->value("iat", int64_t(0)), existing_claims->value("exp", int64_t(0)))) {
    remember(*existing_claims);
    return existing;
  }
  json spec = {{"expirationSeconds", source.value("expirationSeconds", int64_t(3600))},
               {"boundObjectRef",
                {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", pod.value("/metadata/name"_json_pointer, std::string())},
                 {"uid", uid}}}};
  if (std::string aud = source.value("audience", ""); !aud.empty()) spec["audiences"] = {aud};
  json request = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}};
  json answer;
  try {
    answer = transport_.create(*api::Registry::builtin().by_kind("", "ServiceAccount"), ns, request, sa, "token");
  } catch (const std::exception& e) {
    // A renewal that fails keeps the token there while it is still good, and is tried again soon (kubelet's token
    // manager does the same); only a pod without a usable token fails to set up its volume.
    if (mine && now < existing_claims->value("exp", int64_t(0))) {
      auto retry = std::chrono::system_clock::now() + kTokenRetryDelay;
      if (!next_refresh_ || retry < *next_refresh_) next_refresh_ = retry;
      return existing;
    }
    const auto* status = dynamic_cast<const api::StatusError*>(&e);
    throw std::runtime_error("failed to fetch token: " + (status ? status->status().message : std::string(e.what())));
  }
  std::string token = answer.value("/status/token"_json_pointer, std::string());
  auto claims = token_claims(token);
  if (!claims) throw std::runtime_error("failed to fetch token: the apiserver answered no token");
  remember(*claims);
  return token;
}

void PodVolumes::project(const json& pod, const json& projected, const std::string& dir) {
  std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string("default"));
  const auto& reg = api::Registry::builtin();
  int mode = projected.value("defaultMode", 0644);
  Files files;
  for (const auto& src : projected.value("sources", json::array())) {
    if (src.contains("serviceAccountToken")) {
      const json& t = src["serviceAccountToken"];
      std::string rel = t.value("path", "");
      if (!safe_relative(rel)) continue;
      files[rel] = {service_account_token(pod, t, dir + "/" + rel), t.value("mode", mode)};
    } else if (src.contains("configMap") || src.contains("secret")) {
      bool secret = src.contains("secret");
      const json& ref = secret ? src["secret"] : src["configMap"];
      std::string name = ref.value("name", "");
      json obj;
      try {
        obj = api::ResourceClient(transport_, *reg.by_kind("", secret ? "Secret" : "ConfigMap"), ns).get(name);
      } catch (const api::StatusError& e) {
        if (e.status().code != 404 || !ref.value("optional", false))
          throw std::runtime_error(std::string(secret ? "secret" : "configmap") + " \"" + name + "\" not found");
      }
      add_key_files(files, obj.value("data", json::object()), secret, ref.value("items", json::array()), mode);
    } else if (src.contains("downwardAPI")) {
      add_downward_files(files, pod, src["downwardAPI"].value("items", json::array()), mode);
    }
  }
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);  // the files' own modes decide who in the container reads them
  for (const auto& [rel, file] : files) {
    fs::path p = fs::path(dir) / rel;
    std::ifstream in(p, std::ios::binary);
    std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open() || current != file.first) write_atomically(p, file.first, file.second);
    else ::chmod(p.c_str(), file_mode(file.second));
  }
  // What no source gives any more goes.
  std::set<std::string> top;
  for (const auto& [rel, file] : files) top.insert(fs::path(rel).begin()->string());
  for (const auto& e : fs::directory_iterator(dir))
    if (!top.count(e.path().filename().string())) fs::remove_all(e.path());
}

void PodVolumes::write_keys(const std::string& dir, const json& data, bool b64, const json& items, int default_mode) {
  fs::create_directories(dir);
  // Written afresh each time: a key removed from the ConfigMap disappears from the volume too.
  for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
  auto write = [&](const std::string& key, const std::string& rel, int mode) {
    if (!data.contains(key) || !safe_relative(rel)) return;
    std::string value = data[key].is_string() ? data[key].get<std::string>() : data[key].dump();
    write_atomically(fs::path(dir) / rel, b64 ? base64_decode(value) : value, mode);
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
      std::string d = (secret ? private_volume_dir(pod_dir_, "secret") : pod_dir_ + "/volumes/configmap") + "/" + name;
      int mode = src.value("defaultMode", 0644);
      write_keys(d, obj.value("data", json::object()), secret, src.value("items", json::array()), mode);
      if (!secret && obj.contains("binaryData")) {
        for (auto it = obj["binaryData"].begin(); it != obj["binaryData"].end(); ++it)
          if (safe_relative(it.key())) std::ofstream(fs::path(d) / it.key(), std::ios::binary) << base64_decode(it->get<std::string>());
      }
      paths_[name] = d;
    } else if (v.contains("projected") || v.contains("downwardAPI")) {
      // A projected ServiceAccount token or Secret is a credential.
      std::string d = private_volume_dir(pod_dir_, v.contains("projected") ? "projected" : "downward-api") + "/" + name;
      if (v.contains("projected")) {
        project(pod, v["projected"], d);
      } else {
        json projected = {{"defaultMode", v["downwardAPI"].value("defaultMode", 0644)},
                          {"sources", {{{"downwardAPI", {{"items", v["downwardAPI"].value("items", json::array())}}}}}}};
        project(pod, projected, d);
      }
      paths_[name] = d;
    } else {
      throw std::runtime_error("volume \"" + name + "\": only emptyDir, hostPath, configMap, secret, downwardAPI and "
                               "projected volumes are supported");
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
    bool ro = m.value("readOnly", false);
    for (const char* kind : {"/volumes/configmap/", "/volumes/secret/", "/volumes/projected/", "/volumes/downward-api/"})
      if (source.find(kind) != std::string::npos) ro = true;
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
