// The kubelet's Node: what it registers (name, addresses, capacity, labels, nodeInfo), the conditions it reports,
// and its Lease heartbeat in kube-node-lease.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "api/event_recorder.h"

namespace kctl::kubelet {

struct NodeConfig {
  std::string name;
  std::string internal_ip;
  std::map<std::string, std::string> labels;  // --node-labels
  std::string pod_cidr;                       // --pod-cidr, until the controller manager allocates one
  int max_pods = 110;
  int kubelet_port = 10250;
};

// Facts about this machine for capacity and nodeInfo.
struct MachineInfo {
  int cpus = 1;
  int64_t memory_bytes = 0;
  std::string kernel_version, os_image, machine_id, boot_id, architecture = "amd64";
  static MachineInfo read();
};

// The Node object as the kubelet registers it (metadata, spec, status).
nlohmann::json node_object(const NodeConfig& config, const MachineInfo& machine, bool ready,
                           const std::string& not_ready_message);
// Conditions with transition times kept from `previous` where the status did not change.
nlohmann::json node_conditions(bool ready, const std::string& not_ready_message, const nlohmann::json& previous);

class NodeStatusReporter {
 public:
  // With `events`, a condition that takes a new status is an event about the node (NodeReady, NodeHasSufficientMemory...).
  NodeStatusReporter(api::Transport& transport, NodeConfig config, api::EventRecorder* events = nullptr);
  // Creates the Node, or updates its labels, addresses and status if it exists. Returns the stored Node.
  nlohmann::json register_node();
  // Sends the current status (ready or not and why); keeps transition times.
  void update_status(bool ready, const std::string& not_ready_message);
  // Renews (or creates) the node's Lease.
  void renew_lease();
  // The podCIDR: the Node's spec.podCIDR if the controller manager set one, else the configured one.
  std::string pod_cidr() const;
  const NodeConfig& config() const { return config_; }

 private:
  void record_transitions(const nlohmann::json& previous, const nlohmann::json& current, bool with_ready);

  api::Transport& transport_;
  NodeConfig config_;
  api::EventRecorder* events_;
  MachineInfo machine_;
  nlohmann::json last_node_;
};

}  // namespace kctl::kubelet
