// `kctl image import|list|rm`: the node-local image store the kubelet runs containers from (what `crictl images`
// and `ctr images import` are to a containerd node). Runs on the node, as root, from the kctl-local binary (it
// links the kubelet's image store; kctl itself stays small).
#include "cli/image_command.h"

#include <cstdio>
#include <iostream>

#include "daemons/kubelet/image_store.h"

namespace kctl::cli {

namespace {

const char* kImageUsage =
    "Manage the images of this node's kubelet (the node-local image store).\n"
    "\n"
    "  kctl image import NAME[:TAG] PATH   load a root filesystem directory, a tarball of one, an OCI image\n"
    "                                      layout (directory or tarball) or a `docker save` archive\n"
    "  kctl image list                     the images, their names, ids and sizes (also: ls)\n"
    "  kctl image rm NAME[:TAG]...         remove names; an image goes with its last name (also: remove)\n"
    "\n"
    "Options:\n"
    "  --root-dir DIR   the kubelet's --root-dir (default /var/lib/kctl; images are under DIR/images)\n"
    "  --node NAME      a node of the local cluster: --root-dir /var/lib/kctl-local/nodes/NAME\n"
    "\n"
    "Examples:\n"
    "  kctl image import myapp:1.0 ./rootfs\n"
    "  kctl image import --node kctl-worker-1 kctl/busybox:latest busybox.tar\n"
    "  kctl image list\n";

std::string human_size(int64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return buf;
}

// "docker.io/kctl/busybox:latest" -> ("docker.io/kctl/busybox", "latest"); digests keep their @.
std::pair<std::string, std::string> split_reference(const std::string& ref) {
  auto at = ref.find('@');
  if (at != std::string::npos) return {ref.substr(0, at), ref.substr(at + 1)};
  auto colon = ref.rfind(':');
  if (colon == std::string::npos || ref.find('/', colon) != std::string::npos) return {ref, "<none>"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

}  // namespace

int image_command(const std::vector<std::string>& argv) {
  std::vector<std::string> args;
  std::string root = "/var/lib/kctl";
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto value = [&](const std::string& flag, std::string& out) {
      if (a.rfind(flag + "=", 0) == 0) return out = a.substr(flag.size() + 1), true;
      if (a == flag && i + 1 < argv.size()) return out = argv[++i], true;
      return false;
    };
    std::string v;
    if (value("--root-dir", v)) {
      root = v;
    } else if (value("--node", v)) {
      root = "/var/lib/kctl-local/nodes/" + v;
    } else if (a == "-h" || a == "--help") {
      std::cout << kImageUsage;
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "error: unknown flag: " << a << "\n\n" << kImageUsage;
      return 2;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    std::cerr << kImageUsage;
    return 2;
  }
  const std::string verb = args[0];
  try {
    kubelet::ImageStore store(root + "/images");
    if (verb == "import" || verb == "load") {
      if (args.size() != 3) {
        std::cerr << "error: kctl image import needs NAME[:TAG] and PATH\n";
        return 2;
      }
      auto img = store.import(args[1], args[2]);
      std::cout << "imported " << kubelet::ImageStore::normalize(args[1]) << " (" << img.id.substr(0, 19) << ", "
                << human_size(img.size_bytes) << ")\n";
      return 0;
    }
    if (verb == "list" || verb == "ls") {
      std::printf("%-40s %-10s %-14s %s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE");
      for (const auto& img : store.list())
        for (const auto& n : img.names) {
          auto [repo, tag] = split_reference(n);
          std::printf("%-40s %-10s %-14s %s\n", repo.c_str(), tag.c_str(), img.id.substr(7, 13).c_str(),
                      human_size(img.size_bytes).c_str());
        }
      return 0;
    }
    if (verb == "rm" || verb == "remove" || verb == "rmi") {
      if (args.size() < 2) {
        std::cerr << "error: kctl image rm needs at least one NAME[:TAG]\n";
        return 2;
      }
      int rc = 0;
      for (size_t i = 1; i < args.size(); ++i) {
        if (store.remove(args[i])) {
          std::cout << "Deleted: " << kubelet::ImageStore::normalize(args[i]) << "\n";
        } else {
          std::cerr << "error: no such image: " << args[i] << "\n";
          rc = 1;
        }
      }
      return rc;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "error: unknown command \"" << verb << "\" for \"kctl image\"\n\n" << kImageUsage;
  return 2;
}

}  // namespace kctl::cli
