// NodeStatusReporter: reading the machine, building the Node as kubelets do, registering it, status updates that
// keep condition transition times, and the Lease heartbeat.
#include "daemons/kubelet/node_status.h"

#include <fstream>
#include <sstream>
#include <thread>

#include <sys/utsname.h>
#include <unistd.h>

#include "api/leader_election.h"
#include "daemons/kubelet/kubelet_events.h"

namespace kctl::kubelet {

using nlohmann::json;

namespace {

// How long a node Lease is valid without renewal (kubelet: nodeLeaseDurationSeconds 40); it is renewed every 10 s.
constexpr int kLeaseDurationSeconds = 40;
constexpr const char* kKubeletVersion = "v1.33.0-kctl.0.1.0";

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The event the kubelet records when a condition takes a status (Kubernetes' node status setters).
const char* condition_event(const std::string& type, bool status) {
  if (type == "MemoryPressure") return status ? "NodeHasInsufficientMemory" : "NodeHasSufficientMemory";
  if (type == "DiskPressure") return status ? "NodeHasDiskPressure" : "NodeHasNoDiskPressure";
  if (type == "PIDPressure") return status ? "NodeHasInsufficientPID" : "NodeHasSufficientPID";
  if (type == "Ready") return status ? "NodeReady" : "NodeNotReady";
  return nullptr;
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

MachineInfo MachineInfo::read() {
  MachineInfo m;
  m.cpus = int(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemTotal:") {
      m.memory_bytes = kb * 1024;
      break;
    }
    meminfo.ignore(256, '\n');
  }
  utsname u{};
  if (uname(&u) == 0) {
    m.kernel_version = u.release;
    m.architecture = std::string(u.machine) == "x86_64" ? "amd64" : std::string(u.machine) == "aarch64" ? "arm64" : u.machine;
  }
  std::ifstream os("/etc/os-release");
  std::string line;
  while (std::getline(os, line))
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      m.os_image = line.substr(12);
      if (m.os_image.size() >= 2 && m.os_image.front() == '"') m.os_image = m.os_image.substr(1, m.os_image.size() - 2);
    }
  m.machine_id = read_line("/etc/machine-id");
  m.boot_id = read_line("/proc/sys/kernel/random/boot_id");
  return m;
}

json node_conditions(bool ready, const std::string& not_ready_message, const json& previous) {
  std::string now = now_rfc3339();
  auto cond = [&](const std::string& type, bool status, const std::string& reason, const std::string& message) {
    std::string s = status ? "True" : "False";
    std::string transition = now;
    for (const auto& p : previous)
      if (p.value("type", "") == type && p.value("status", "") == s) transition = p.value("lastTransitionTime", now);
    return json{{"type", type}, {"status", s}, {"lastHeartbeatTime", now}, {"lastTransitionTime", transition},
                {"reason", reason}, {"message", message}};
  };
  return json::array({cond("MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                      cond("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                      cond("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                      ready ? cond("Ready", true, "KubeletReady", "kubelet is posting ready status")
                            : cond("Ready", false, "KubeletNotReady", not_ready_message)});
}

json node_object(const NodeConfig& c, const MachineInfo& m, bool ready, const std::string& not_ready_message) {
  json labels = {{"kubernetes.io/hostname", c.name}, {"kubernetes.io/os", "linux"}, {"kubernetes.io/arch", m.architecture},
                 {"beta.kubernetes.io/os", "linux"}, {"beta.kubernetes.io/arch", m.architecture}};
  for (const auto& [k, v] : c.labels) labels[k] = v;
  std::string memory = std::to_string(m.memory_bytes / 1024) + "Ki";
  json capacity = {{"cpu", std::to_string(m.cpus)}, {"memory", memory}, {"pods", std::to_string(c.max_pods)},
                   {"ephemeral-storage", "0"}};
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", c.name}, {"labels", labels}}},
               {"spec", json::object()},
               {"status",
                {{"capacity", capacity},
                 {"allocatable", capacity},
                 {"conditions", node_conditions(ready, not_ready_message, json::array())},
                 {"addresses", json::array({{{"type", "InternalIP"}, {"address", c.internal_ip}},
                                            {{"type", "Hostname"}, {"address", c.name}}})},
                 {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", c.kubelet_port}}}}},
                 {"nodeInfo",
                  {{"machineID", m.machine_id},
                   {"systemUUID", m.machine_id},
                   {"bootID", m.boot_id},
                   {"kernelVersion", m.kernel_version},
                   {"osImage", m.os_image},
                   {"containerRuntimeVersion", "systemd-nspawn://252"},
                   {"kubeletVersion", kKubeletVersion},
                   {"kubeProxyVersion", kKubeletVersion},
                   {"operatingSystem", "linux"},
                   {"architecture", m.architecture}}}}}};
  if (!c.pod_cidr.empty()) {
    node["spec"]["podCIDR"] = c.pod_cidr;
    node["spec"]["podCIDRs"] = json::array({c.pod_cidr});
  }
  return node;
}

NodeStatusReporter::NodeStatusReporter(api::Transport& transport, NodeConfig config, api::EventRecorder* events)
    : transport_(transport), config_(std::move(config)), events_(events), machine_(MachineInfo::read()) {}

// "Node NAME status is now: NodeReady" for each condition whose status is new.
void NodeStatusReporter::record_transitions(const json& previous, const json& current, bool with_ready) {
  if (!events_) return;
  for (const auto& c : current) {
    std::string type = c.value("type", ""), status = c.value("status", "");
    if (type == "Ready" && !with_ready) continue;
    bool changed = true;
    for (const auto& p : previous)
      if (p.value("type", "") == type) changed = p.value("status", "") != status;
    const char* reason = condition_event(type, status == "True");
    if (changed && reason)
      events_->record_reference(node_ref(config_.name), api::EventType::Normal, reason,
                                "Node " + config_.name + " status is now: " + reason);
  }
}

json NodeStatusReporter::register_node() {
  const auto* nodes = api::Registry::builtin().by_kind("", "Node");
  api::ResourceClient client(transport_, *nodes);
  json wanted = node_object(config_, machine_, false, "container runtime starting");
  try {
    last_node_ = client.create(wanted);
    // Not Ready yet: registration says the runtime is starting, the first status update says more.
    record_transitions(json::array(), wanted["status"]["conditions"], false);
    return last_node_;
  } catch (const api::StatusError& e) {
    if (e.status().code != 409) throw;
  }
  // Registered before (a restart): bring labels and status up to date, keep what others set (taints, podCIDR).
  json patch = {{"metadata", {{"labels", wanted["metadata"]["labels"]}}}};
  if (!config_.pod_cidr.empty()) patch["spec"] = wanted["spec"];
  client.patch(config_.name, api::PatchType::Merge, patch);
  json current = client.get(config_.name);
  json status = wanted["status"];
  status["conditions"] = node_conditions(false, "container runtime starting", current.value("/status/conditions"_json_pointer, json::array()));
  last_node_ = client.patch(config_.name, api::PatchType::Merge, {{"status", status}}, "status");
  record_transitions(current.value("/status/conditions"_json_pointer, json::array()), status["conditions"], false);
  return last_node_;
}

void NodeStatusReporter::update_status(bool ready, const std::string& not_ready_message) {
  const auto* nodes = api::Registry::builtin().by_kind("", "Node");
  api::ResourceClient client(transport_, *nodes);
  json previous = last_node_.value("/status/conditions"_json_pointer, json::array());
  json status = {{"conditions", node_conditions(ready, not_ready_message, previous)}};
  last_node_ = client.patch(config_.name, api::PatchType::Merge, {{"status", status}}, "status");
  record_transitions(previous, status["conditions"], true);
}

std::string NodeStatusReporter::pod_cidr() const {
  std::string cidr = last_node_.value("/spec/podCIDR"_json_pointer, std::string());
  return cidr.empty() ? config_.pod_cidr : cidr;
}

void NodeStatusReporter::renew_lease() {
  const auto* leases = api::Registry::builtin().by_kind("coordination.k8s.io", "Lease");
  api::ResourceClient client(transport_, *leases, "kube-node-lease");
  std::string now = api::now_micro_time();
  try {
    json lease = client.get(config_.name);
    lease["spec"]["holderIdentity"] = config_.name;
    lease["spec"]["leaseDurationSeconds"] = kLeaseDurationSeconds;
    lease["spec"]["renewTime"] = now;
    client.update(lease);
  } catch (const api::StatusError& e) {
    if (e.status().code != 404) throw;
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.name}, {"namespace", "kube-node-lease"}}},
                  {"spec", {{"holderIdentity", config_.name}, {"leaseDurationSeconds", kLeaseDurationSeconds}, {"renewTime", now}}}};
    if (last_node_.contains("metadata"))
      lease["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", config_.name},
                                                           {"uid", last_node_["metadata"].value("uid", "")}}});
    client.create(lease);
  }
}

}  // namespace kctl::kubelet
