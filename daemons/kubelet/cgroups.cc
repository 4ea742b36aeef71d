// ContainerCgroup: detecting v2 or hybrid v1, writing limits with the Kubernetes conversions (cpu millis to CFS
// quota per 100 ms period), moving processes, OOM detection and removal.
#include "daemons/kubelet/cgroups.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace kctl::kubelet {

namespace {

// CFS period Kubernetes uses for cpu limits (100 ms).
constexpr int64_t kCpuPeriodMicros = 100000;
// Hierarchies of a hybrid (v1) host the kubelet places containers in: the limited controllers, pids for
// counting, and the named systemd hierarchy plus unified, where systemd-nspawn --keep-unit makes its sub-cgroups.
// How long remove() waits for the last processes of a stopped container to leave its cgroup.
constexpr auto kEmptyWait = std::chrono::seconds(2);
const char* kV1Hierarchies[] = {"memory", "cpu", "pids", "systemd", "unified"};

void write_file(const fs::path& p, const std::string& v) {
  std::ofstream out(p);
  out << v;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + v + " to " + p.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ContainerCgroup::ContainerCgroup(std::string relpath, std::string root)
    : relpath_(std::move(relpath)), root_(std::move(root)) {
  std::string controllers = read_file(fs::path(root_) / "cgroup.controllers");
  unified_ = controllers.find("memory") != std::string::npos;
}

std::vector<std::string> ContainerCgroup::dirs() const {
  std::vector<std::string> out;
  if (unified_) {
    out.push_back((fs::path(root_) / relpath_).string());
    return out;
  }
  for (const char* h : kV1Hierarchies)
    if (fs::exists(fs::path(root_) / h)) out.push_back((fs::path(root_) / h / relpath_).string());
  return out;
}

std::string ContainerCgroup::controller_dir(const std::string& controller) const {
  return unified_ ? (fs::path(root_) / relpath_).string() : (fs::path(root_) / controller / relpath_).string();
}

void ContainerCgroup::create(int64_t cpu_millis, int64_t memory_bytes) {
  if (unified_) {
    // Controllers must be enabled in every ancestor's subtree_control for the leaf to have them.
    fs::path p = root_;
    for (const auto& part : fs::path(relpath_)) {
      std::ofstream(p / "cgroup.subtree_control") << "+cpu +memory +pids";
      p /= part;
      fs::create_directories(p);
    }
  } else {
    for (const auto& d : dirs()) fs::create_directories(d);
  }
  if (memory_bytes > 0) {
    if (unified_)
      write_file(fs::path(controller_dir("memory")) / "memory.max", std::to_string(memory_bytes));
    else
      write_file(fs::path(controller_dir("memory")) / "memory.limit_in_bytes", std::to_string(memory_bytes));
  }
  if (cpu_millis > 0) {
    int64_t quota = std::max<int64_t>(1000, cpu_millis * kCpuPeriodMicros / 1000);  // the kernel's minimum is 1 ms
    if (unified_) {
      write_file(fs::path(controller_dir("cpu")) / "cpu.max", std::to_string(quota) + " " + std::to_string(kCpuPeriodMicros));
    } else {
      write_file(fs::path(controller_dir("cpu")) / "cpu.cfs_period_us", std::to_string(kCpuPeriodMicros));
      write_file(fs::path(controller_dir("cpu")) / "cpu.cfs_quota_us", std::to_string(quota));
    }
  }
}

void ContainerCgroup::add_process(int pid) const {
  for (const auto& d : dirs()) {
    std::ofstream out(fs::path(d) / "cgroup.procs");
    out << pid;
  }
}

std::vector<int> ContainerCgroup::processes() const {
  std::vector<int> out;
  std::istringstream in(read_file(fs::path(controller_dir(unified_ ? "" : "pids")) / "cgroup.procs"));
  for (int pid; in >> pid;) out.push_back(pid);
  return out;
}

void ContainerCgroup::kill_all(int signal, int except) const {
  for (int pid : processes())
    if (pid != except) ::kill(pid, signal);
}

bool ContainerCgroup::oom_killed() const {
  std::string text = unified_ ? read_file(fs::path(controller_dir("memory")) / "memory.events")
                              : read_file(fs::path(controller_dir("memory")) / "memory.oom_control");
  auto p = text.find("oom_kill ");
  return p != std::string::npos && std::atoll(text.c_str() + p + 9) > 0;
}

int64_t ContainerCgroup::memory_limit() const {
  std::string v = unified_ ? read_file(fs::path(controller_dir("memory")) / "memory.max")
                           : read_file(fs::path(controller_dir("memory")) / "memory.limit_in_bytes");
  return v.rfind("max", 0) == 0 ? -1 : std::atoll(v.c_str());
}

int64_t ContainerCgroup::cpu_quota_micros() const {
  std::string v = unified_ ? read_file(fs::path(controller_dir("cpu")) / "cpu.max")
                           : read_file(fs::path(controller_dir("cpu")) / "cpu.cfs_quota_us");
  return v.rfind("max", 0) == 0 ? -1 : std::atoll(v.c_str());
}

void ContainerCgroup::remove() const {
  // The shim lives in the container's cgroup and exits just after recording the exit status: give it a moment
  // (rmdir of a cgroup with a process in it fails).
  auto deadline = std::chrono::steady_clock::now() + kEmptyWait;
  while (!processes().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::error_code ec;
  for (const auto& d : dirs()) {
    // Child cgroups first, deepest first (nspawn's payload/supervisor and what runs below them), then ours, then
    // the pod's if it is left empty. cgroupfs directories go with rmdir; their control files cannot be removed.
    std::vector<fs::path> children;
    if (fs::exists(d, ec))
      for (auto it = fs::recursive_directory_iterator(d, ec); it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory(ec)) children.push_back(it->path());
    std::sort(children.begin(), children.end(), [](const fs::path& a, const fs::path& b) {
      return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    for (const auto& c : children) fs::remove(c, ec);
    fs::remove(d, ec);
    fs::remove(fs::path(d).parent_path(), ec);  // fails (and is left) while other containers of the pod exist
  }
}

}  // namespace kctl::kubelet
