// ensure_system_bus and busybox_rootfs for the node tests.
#include "node_harness.h"

#include <csignal>
#include <filesystem>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "daemons/kubelet/image_store.h"
#include "harness.h"

namespace kctl::test {

void ensure_system_bus() {
  if (std::filesystem::exists("/run/dbus/system_bus_socket")) return;
  std::filesystem::create_directories("/run/dbus");
  auto r = run({"dbus-daemon", "--system", "--fork"});
  ASSERT_EQ(r.rc, 0) << "cannot start the system bus: " << r.err;
}

std::string busybox_rootfs(const std::string& dir) {
  auto r = run({std::string(KCTL_SOURCE_DIR) + "/scripts/build-busybox-rootfs", dir});
  EXPECT_EQ(r.rc, 0) << r.err;
  return dir;
}

KubeletProcess::KubeletProcess(const std::string& apiserver, const std::string& name, const std::string& root,
                               const std::string& pod_cidr, const std::string& node_ip,
                               std::vector<std::string> extra_args)
    : apiserver_(apiserver), name_(name), root_(root), pod_cidr_(pod_cidr), node_ip_(node_ip),
      extra_args_(std::move(extra_args)) {
  kubelet::ImageStore images(root_ + "/images");
  if (!images.find("kctl/busybox:latest")) images.import("kctl/busybox:latest", busybox_rootfs(root_ + "/busybox-src"));
  start();
}

KubeletProcess::~KubeletProcess() { stop(); }

void KubeletProcess::start() {
  std::vector<std::string> args = {std::string(KCTL_BIN_DIR) + "/kctl-kubelet", "--apiserver=" + apiserver_,
                                   "--hostname-override=" + name_, "--node-ip=" + node_ip_,
                                   "--pod-cidr=" + pod_cidr_, "--root-dir=" + root_, "--dbus=none"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open((root_ + "/kubelet.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
}

void KubeletProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

std::string KubeletProcess::log() const { return run({"cat", root_ + "/kubelet.log"}).out; }

}  // namespace kctl::test
