// ImageStore: unpacking the four import formats, applying layers with OCI whiteouts, content ids, and the index.
#include "daemons/kubelet/image_store.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <openssl/sha.h>
#include <sys/stat.h>

#include "daemons/common/process.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::kubelet {

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& p) {
  try {
    return json::parse(read_text(p));
  } catch (const json::exception& e) {
    throw std::runtime_error(p.string() + " is not valid JSON: " + e.what());
  }
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)rng());
  return buf;
}

void extract_tar(const fs::path& archive, const fs::path& into) {
  fs::create_directories(into);
  // GNU tar detects gzip/xz/zstd by itself; --no-same-owner is not used: images carry their owners.
  std::vector<std::string> argv = {"tar", "--numeric-owner", "-xf", archive.string(), "-C", into.string()};
  auto r = run_process(argv);
  if (!r.ok()) throw std::runtime_error("cannot unpack " + archive.string() + ": " + describe_failure(argv, r));
}

// Moves the tree `layer` onto `rootfs`, honouring OCI whiteouts: ".wh.NAME" deletes NAME below, ".wh..wh..opq"
// hides everything the lower layers had in that directory.
void apply_layer(const fs::path& layer, const fs::path& rootfs) {
  std::error_code ec;
  if (fs::exists(layer / ".wh..wh..opq", ec)) {
    for (const auto& e : fs::directory_iterator(rootfs)) fs::remove_all(e.path());
    fs::remove(layer / ".wh..wh..opq");
  }
  for (const auto& e : fs::directory_iterator(layer)) {
    std::string name = e.path().filename().string();
    if (name.rfind(".wh.", 0) == 0) {
      fs::remove_all(rootfs / name.substr(4), ec);
      continue;
    }
    fs::path target = rootfs / name;
    auto st = e.symlink_status();
    auto tt = fs::symlink_status(target, ec);
    if (fs::is_directory(st) && fs::is_directory(tt)) {
      apply_layer(e.path(), target);  // merge into the existing directory (keeps the upper layer's metadata below)
      continue;
    }
    if (fs::exists(tt)) fs::remove_all(target);
    fs::rename(e.path(), target);
  }
}

void apply_layer_archive(const fs::path& archive, const fs::path& rootfs, const fs::path& scratch) {
  fs::path tmp = scratch / ("layer-" + random_name());
  extract_tar(archive, tmp);
  apply_layer(tmp, rootfs);
  fs::remove_all(tmp);
}

ImageConfig config_from(const json& cfg) {
  ImageConfig c;
  json conf = cfg.value("config", json::object());
  auto strings = [](const json& v) {
    std::vector<std::string> out;
    if (v.is_array())
      for (const auto& s : v)
        if (s.is_string()) out.push_back(s);
    return out;
  };
  c.entrypoint = strings(conf.value("Entrypoint", json()));
  c.cmd = strings(conf.value("Cmd", json()));
  c.env = strings(conf.value("Env", json()));
  c.working_dir = conf.value("WorkingDir", "");
  c.user = conf.value("User", "");
  return c;
}

fs::path oci_blob(const fs::path& dir, const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos) throw std::runtime_error("bad digest " + digest);
  return dir / "blobs" / digest.substr(0, colon) / digest.substr(colon + 1);
}

void unpack_oci(const fs::path& dir, const fs::path& rootfs, const fs::path& scratch, ImageConfig& config) {
  json index = read_json(dir / "index.json");
  json manifests = index.value("manifests", json::array());
  if (manifests.empty()) throw std::runtime_error("OCI index.json lists no manifests");
  json manifest = read_json(oci_blob(dir, manifests[0].value("digest", "")));
  if (manifest.contains("manifests"))  // an index of platforms: take the first (linux/amd64 images here)
    manifest = read_json(oci_blob(dir, manifest["manifests"][0].value("digest", "")));
  config = config_from(read_json(oci_blob(dir, manifest.value("/config/digest"_json_pointer, std::string()))));
  for (const auto& layer : manifest.value("layers", json::array()))
    apply_layer_archive(oci_blob(dir, layer.value("digest", "")), rootfs, scratch);
}

void unpack_docker(const fs::path& dir, const fs::path& rootfs, const fs::path& scratch, ImageConfig& config) {
  json manifest = read_json(dir / "manifest.json");
  if (!manifest.is_array() || manifest.empty()) throw std::runtime_error("docker manifest.json lists no images");
  config = config_from(read_json(dir / manifest[0].value("Config", "")));
  for (const auto& layer : manifest[0].value("Layers", json::array()))
    apply_layer_archive(dir / layer.get<std::string>(), rootfs, scratch);
}

// A content id: the digest of the sorted listing (path, type, mode, size, link target).
std::string content_id(const fs::path& rootfs, int64_t& size) {
  std::vector<std::string> lines;
  size = 0;
  for (auto it = fs::recursive_directory_iterator(rootfs); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st{};
    if (lstat(it->path().c_str(), &st) != 0) continue;
    std::string line = fs::relative(it->path(), rootfs).string() + " " + std::to_string(st.st_mode) + " " +
                       std::to_string(st.st_size) + " " + std::to_string(st.st_mtime);
    if (S_ISLNK(st.st_mode)) line += " -> " + fs::read_symlink(it->path()).string();
    if (S_ISREG(st.st_mode)) size += st.st_size;
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  std::string listing;
  for (const auto& l : lines) listing += l + "\n";
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(listing.data()), listing.size(), d);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return std::string("sha256:") + hex;
}

json to_json(const Image& i) {
  return {{"id", i.id},
          {"names", i.names},
          {"size", i.size_bytes},
          {"imported", i.imported},
          {"config",
           {{"entrypoint", i.config.entrypoint},
            {"cmd", i.config.cmd},
            {"env", i.config.env},
            {"workingDir", i.config.working_dir},
            {"user", i.config.user}}}};
}

}  // namespace

std::string ImageStore::normalize(const std::string& ref) {
  std::string r = ref;
  if (r.find('@') == std::string::npos) {
    auto slash = r.rfind('/');
    auto colon = r.rfind(':');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) r += ":latest";
  }
  auto first = r.find('/');
  std::string head = first == std::string::npos ? "" : r.substr(0, first);
  bool has_registry = head.find('.') != std::string::npos || head.find(':') != std::string::npos || head == "localhost";
  if (!has_registry) r = "docker.io/" + std::string(first == std::string::npos ? "library/" : "") + r;
  return r;
}

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {
  fs::create_directories(fs::path(root_) / "rootfs");
  fs::create_directories(fs::path(root_) / "tmp");
  std::lock_guard lock(mutex_);
  refresh();
}

void ImageStore::refresh() const {
  fs::path index = fs::path(root_) / "index.json";
  std::error_code ec;
  auto mtime = fs::last_write_time(index, ec);
  if (ec || mtime == loaded_mtime_) return;
  loaded_mtime_ = mtime;
  images_.clear();
  for (const auto& j : read_json(index).value("images", json::array())) {
    Image i;
    i.id = j.value("id", "");
    i.names = j.value("names", std::vector<std::string>{});
    i.size_bytes = j.value("size", int64_t(0));
    i.imported = j.value("imported", "");
    json c = j.value("config", json::object());
    i.config.entrypoint = c.value("entrypoint", std::vector<std::string>{});
    i.config.cmd = c.value("cmd", std::vector<std::string>{});
    i.config.env = c.value("env", std::vector<std::string>{});
    i.config.working_dir = c.value("workingDir", "");
    i.config.user = c.value("user", "");
    i.rootfs = (fs::path(root_) / "rootfs" / i.id.substr(7)).string();
    images_[i.id] = i;
  }
}

void ImageStore::save() const {
  json all = json::array();
  for (const auto& [id, i] : images_) all.push_back(to_json(i));
  fs::path index = fs::path(root_) / "index.json";
  {
    std::ofstream out(index.string() + ".tmp");
    out << json{{"images", all}}.dump(2) << "\n";
  }
  fs::rename(index.string() + ".tmp", index);
  std::error_code ec;
  loaded_mtime_ = fs::last_write_time(index, ec);
}

std::string ImageStore::unpack(const std::string& path, ImageConfig& config) const {
  fs::path src(path);
  if (!fs::exists(src)) throw std::runtime_error(path + ": no such file or directory");
  fs::path staging = fs::path(root_) / "tmp" / ("import-" + random_name());
  fs::path rootfs = staging / "rootfs";
  fs::create_directories(rootfs);
  try {
    fs::path dir = src;
    if (!fs::is_directory(src)) {
      dir = staging / "archive";
      extract_tar(src, dir);
    }
    if (fs::exists(dir / "index.json") && fs::exists(dir / "blobs")) {
      unpack_oci(dir, rootfs, staging, config);
    } else if (fs::exists(dir / "manifest.json")) {
      unpack_docker(dir, rootfs, staging, config);
    } else if (fs::is_directory(src)) {
      std::vector<std::string> argv = {"cp", "-a", "--", (src / ".").string(), rootfs.string()};
      auto r = run_process(argv);
      if (!r.ok()) throw std::runtime_error(describe_failure(argv, r));
    } else {
      fs::remove(rootfs);
      fs::rename(dir, rootfs);  // the archive was a root filesystem
    }
    // systemd-nspawn refuses a tree without /usr.
    fs::create_directories(rootfs / "usr");
    if (fs::exists(staging / "archive")) fs::remove_all(staging / "archive");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  return staging.string();
}

Image ImageStore::import(const std::string& reference, const std::string& path) {
  std::string name = normalize(reference);
  ImageConfig config;
  fs::path staging = unpack(path, config);
  int64_t size = 0;
  std::string id = content_id(staging / "rootfs", size);
  fs::path final_dir = fs::path(root_) / "rootfs" / id.substr(7);
  std::lock_guard lock(mutex_);
  refresh();
  if (fs::exists(final_dir))
    fs::remove_all(staging);
  else {
    fs::rename(staging / "rootfs", final_dir);
    fs::remove_all(staging);
  }
  // The name moves to this image; an image left without names is removed.
  for (auto it = images_.begin(); it != images_.end();) {
    auto& names = it->second.names;
    names.erase(std::remove(names.begin(), names.end(), name), names.end());
    if (names.empty() && it->first != id) {
      fs::remove_all(it->second.rootfs);
      it = images_.erase(it);
    } else {
      ++it;
    }
  }
  Image& img = images_[id];
  img.id = id;
  img.rootfs = final_dir.string();
  img.config = config;
  img.size_bytes = size;
  img.imported = now_rfc3339();
  if (std::find(img.names.begin(), img.names.end(), name) == img.names.end()) img.names.push_back(name);
  save();
  return img;
}

std::optional<Image> ImageStore::find(const std::string& reference) const {
  std::string name = normalize(reference);
  std::lock_guard lock(mutex_);
  refresh();
  for (const auto& [id, img] : images_) {
    // By id: the whole "sha256:..." or a prefix of its hex long enough not to be a name by accident.
    if (id == reference || (reference.size() >= 12 && id.compare(7, reference.size(), reference) == 0)) return img;
    if (std::find(img.names.begin(), img.names.end(), name) != img.names.end()) return img;
  }
  return std::nullopt;
}

std::vector<Image> ImageStore::list() const {
  std::lock_guard lock(mutex_);
  refresh();
  std::vector<Image> out;
  for (const auto& [id, img] : images_) out.push_back(img);
  return out;
}

bool ImageStore::remove(const std::string& reference) {
  std::string name = normalize(reference);
  std::lock_guard lock(mutex_);
  refresh();
  for (auto it = images_.begin(); it != images_.end(); ++it) {
    auto& names = it->second.names;
    auto pos = std::find(names.begin(), names.end(), name);
    if (pos == names.end()) continue;
    names.erase(pos);
    if (names.empty()) {
      std::error_code ec;
      fs::remove_all(it->second.rootfs, ec);
      images_.erase(it);
    }
    save();
    return true;
  }
  return false;
}

}  // namespace kctl::kubelet
