// A container's root filesystem: an overlay of its image's read-only tree and a writable layer of its own, so
// containers from one image never share writes (and systemd-nspawn never sees one tree used twice).
#pragma once

#include <string>

namespace kctl::kubelet {

// Mounts DIR/rootfs as overlay(lower=image_rootfs, upper=DIR/upper, work=DIR/work); returns DIR/rootfs. Already
// mounted is fine. Throws std::runtime_error.
std::string mount_container_rootfs(const std::string& image_rootfs, const std::string& dir);
// Unmounts DIR/rootfs (lazily if busy) and removes DIR; harmless when nothing is there.
void remove_container_rootfs(const std::string& dir);

}  // namespace kctl::kubelet
