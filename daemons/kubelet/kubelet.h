// kctl-kubelet: keeps its Node registered and Ready, and runs the pods bound to it. A level-driven loop: an informer
// on the node's pods feeds a work queue of pod keys; syncing a pod brings its network, volumes and containers to
// what its spec says (restart policy, back-off, init containers, probes), reports its status, and on deletion stops
// it gracefully, removes what it used and confirms the deletion.
#pragma once

#include <atomic>
#include <condition_variable>
#include <optional>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "api/event_recorder.h"
#include "api/informer.h"
#include "api/workqueue.h"
#include "daemons/kubelet/container_runtime.h"
#include "daemons/kubelet/image_store.h"
#include "daemons/kubelet/node_routes.h"
#include "daemons/kubelet/node_status.h"
#include "daemons/kubelet/pod_dns.h"
#include "daemons/kubelet/pod_network.h"
#include "daemons/kubelet/prober.h"

namespace kctl::kubelet {

struct KubeletOptions {
  std::string apiserver = "http://127.0.0.1:8080";
  api::ClientOptions client;  // credentials and TLS for an https apiserver
  NodeConfig node;
  std::string root_dir = "/var/lib/kctl";
  std::string bridge = "kctl0";
  std::string cluster_cidr = "10.244.0.0/16";  // the cluster's pod network: pod traffic leaving it is masqueraded
  std::string cgroup_root = "/sys/fs/cgroup";
  std::vector<std::string> shim;  // the kctl-shim command
  std::string container_launcher = "auto";  // systemd (transient units), process (own cgroups), auto
  LogRotation container_logs{kDefaultContainerLogMaxSize, kDefaultContainerLogMaxFiles};
  int workers = 4;                // pods synced in parallel
  ClusterDnsConfig dns;           // what goes into pods' /etc/resolv.conf (--cluster-dns, --cluster-domain, --resolv-conf)
};

// What the kubelet knows of one container of a pod on this node.
struct ContainerRecord {
  std::string name;
  bool init = false;
  int attempt = -1;  // the current runtime container is <pod uid>_<name>_<attempt>; -1: never started
  std::string waiting_reason, waiting_message;  // why it is not running (image missing, back-off, ...)
  std::chrono::steady_clock::time_point backoff_until{};
  std::string image_id;
  bool killed_by_probe = false;  // the current instance was killed for failing its liveness or startup probe
};

struct PodRecord {
  std::string uid, ns, name;
  std::optional<PodNetwork> network;
  std::map<std::string, ContainerRecord> containers;
  std::string start_time;
  std::string sandbox_error;  // why the pod's network or volumes could not be made
  bool terminated = false;    // phase Succeeded/Failed reached: nothing restarts any more
};

class Kubelet {
 public:
  explicit Kubelet(KubeletOptions options);
  ~Kubelet();

  void start();  // registers the node, re-adopts pods, starts the loops; throws when the node cannot register
  void stop();   // leaves running pods running (a kubelet restart must not disturb them)

  // Where a container's log is: the file, and whether that container still runs (for follow). Throws
  // api::StatusError (404 unknown pod, 400 unknown or unnamed container, no previous instance).
  struct LogTarget {
    std::string path;
    std::string container_id;
  };
  LogTarget log_target(const std::string& ns, const std::string& pod, std::string container, bool previous) const;
  bool container_running(const std::string& container_id) const;
  // Where exec runs a command in a running container; throws like log_target (400 when not running).
  ExecTarget exec_target(const std::string& ns, const std::string& pod, std::string container) const;

  // The pod whose port port-forward connects to: its uid and network namespace. Throws api::StatusError (404
  // unknown pod, 400 when its network is not set up yet).
  struct PodNetnsTarget {
    std::string uid;
    std::string netns_path;
  };
  PodNetnsTarget pod_netns(const std::string& ns, const std::string& pod) const;

  // For D-Bus and tests.
  std::vector<nlohmann::json> pods_summary() const;  // namespace, name, uid, phase, podIP
  nlohmann::json pod_object(const std::string& ns, const std::string& name) const;  // null when not bound here
  bool ready() const { return ready_; }
  const std::string& node_name() const { return options_.node.name; }
  std::string pod_cidr() const;
  void resync();

 private:
  void worker();
  void sync_pod(const std::string& key);
  void sync_running_pod(const nlohmann::json& pod, PodRecord& rec);
  void sync_container(const nlohmann::json& pod, const nlohmann::json& spec, PodRecord& rec, ContainerRecord& c,
                      bool init, const std::string& restart_policy);
  bool write_pod_dns(const nlohmann::json& pod, PodRecord& rec);  // false: sandbox_error says why
  bool start_container(const nlohmann::json& pod, const nlohmann::json& spec, PodRecord& rec, ContainerRecord& c);
  void kill_unhealthy_container(const nlohmann::json& pod, PodRecord& rec, ContainerRecord& c, const ProbeStatus& probes);
  void update_probes(const nlohmann::json& pod, const PodRecord& rec);
  void kill_pod(PodRecord& rec, std::chrono::seconds grace, const nlohmann::json* pod = nullptr);  // pod: for events
  void cleanup_pod(const std::string& uid);
  void confirm_deletion(const nlohmann::json& pod);
  void report_status(const nlohmann::json& pod, PodRecord& rec);
  void readopt();
  void pleg_loop();
  void heartbeat_loop();
  // Wires the pod network for `cidr` (bridge, masquerade); returns why it is not ready, "" when it is.
  std::string set_up_network(const std::string& cidr);
  std::string container_id(const std::string& uid, const std::string& name, int attempt) const;
  LogTarget resolve_container(const std::string& ns, const std::string& pod, std::string container,
                              int attempt_offset) const;
  std::string pod_dir(const std::string& uid) const;
  PodRecord& record(const nlohmann::json& pod);

  KubeletOptions options_;
  api::TransportPtr transport_;
  api::EventRecorderPtr events_;  // after transport_, which its writer uses
  std::unique_ptr<NodeStatusReporter> node_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<PodNetworkManager> network_;
  ContainerRuntimePtr runtime_;
  std::unique_ptr<api::Informer> pods_;
  std::unique_ptr<NodeRoutes> routes_;
  api::WorkQueue queue_;
  ProberPtr prober_;  // after queue_ and runtime_, which its workers use

  mutable std::mutex mutex_;                // guards records_
  std::map<std::string, PodRecord> records_;  // by pod uid
  std::map<std::string, std::string> last_container_phase_;  // container id -> phase seen by the PLEG
  std::atomic<bool> ready_{false}, stopping_{false};
  std::vector<std::thread> threads_;
  std::mutex sleep_mutex_;
  std::condition_variable sleep_cv_;
  // The podCIDR the controller manager allocated, seen on our Node while the network still waits for one; the
  // heartbeat thread (which owns the node status) takes it up. Guarded by sleep_mutex_.
  std::string allocated_pod_cidr_;
};

}  // namespace kctl::kubelet
