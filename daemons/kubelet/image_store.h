// The node-local image store (/var/lib/kctl/images by default): images imported from a root filesystem
// directory, a tarball, an OCI image layout or a `docker save` archive, each kept as one flattened read-only tree
// plus its config (entrypoint, cmd, env, working dir), and found by Kubernetes-style references.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::kubelet {

struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
};

struct Image {
  std::string id;          // "sha256:<hex>" of the flattened content listing (stable per content)
  std::vector<std::string> names;  // normalized references ("docker.io/library/busybox:latest")
  std::string rootfs;      // the read-only tree containers use as their lower layer
  ImageConfig config;
  int64_t size_bytes = 0;
  std::string imported;    // RFC 3339
};

class ImageStore {
 public:
  // Creates the directory if needed and loads its index. Throws std::runtime_error.
  explicit ImageStore(std::string root);

  // Imports PATH under NAME[:TAG]: a directory (a root filesystem), a .tar/.tar.gz of a root filesystem, an OCI
  // image layout (directory or tarball with index.json) or a `docker save` archive (manifest.json). Layers are
  // applied in order with their whiteouts. Throws std::runtime_error naming the problem.
  Image import(const std::string& reference, const std::string& path);
  std::optional<Image> find(const std::string& reference) const;
  std::vector<Image> list() const;
  // Removes a name; the image's files go with its last name. Returns false when the name is unknown.
  bool remove(const std::string& reference);

  const std::string& root() const { return root_; }

  // "busybox" -> "docker.io/library/busybox:latest", "kctl/busybox:1.0" -> "docker.io/kctl/busybox:1.0",
  // "registry:5000/x@sha256:..." stays; the normal form images are stored and looked up under.
  static std::string normalize(const std::string& reference);

 private:
  // Rereads index.json when it changed on disk: `kctl image` and the kubelet share the store. Under mutex_.
  void refresh() const;
  void save() const;  // the index, written atomically
  std::string unpack(const std::string& path, ImageConfig& config) const;  // -> a staging dir with the rootfs

  std::string root_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, Image> images_;  // by id; guarded by mutex_
  mutable std::filesystem::file_time_type loaded_mtime_{};
};

}  // namespace kctl::kubelet
