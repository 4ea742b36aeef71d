// A container's cgroups: one directory per hierarchy (cgroup v2 unified, or the v1 controllers of a hybrid host
// plus systemd's named hierarchy), the cpu and memory limits Kubernetes resources ask for, and cleanup.
#pragma once

#include <string>
#include <vector>

namespace kctl::kubelet {

class ContainerCgroup {
 public:
  // relpath: below each hierarchy's root, e.g. "kctl/<pod uid>/<container id>". Nothing is created yet.
  explicit ContainerCgroup(std::string relpath, std::string root = "/sys/fs/cgroup");

  // Creates the directories and writes the limits (0 = none). Throws std::runtime_error.
  void create(int64_t cpu_limit_millis, int64_t memory_limit_bytes);
  // Moves a process into every hierarchy (call from the child before exec, or with the child's pid).
  void add_process(int pid) const;
  std::vector<int> processes() const;
  // Sends the signal to every process in it but `except` (the container's shim, which must live to record the exit).
  void kill_all(int signal, int except = 0) const;
  // Whether the memory limit killed a process in it.
  bool oom_killed() const;
  // Removes the directories (they must be empty of processes); the pod's parent directory too when empty.
  void remove() const;

  // The limits as written, for tests and status: "memory.limit_in_bytes"-style reads.
  int64_t memory_limit() const;
  int64_t cpu_quota_micros() const;  // per 100 ms period; -1 when unlimited
  bool unified() const { return unified_; }

 private:
  std::vector<std::string> dirs() const;  // one per hierarchy in use
  std::string controller_dir(const std::string& controller) const;

  std::string relpath_, root_;
  bool unified_ = false;
};

}  // namespace kctl::kubelet
