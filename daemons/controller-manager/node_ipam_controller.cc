// NodeIpamController: the informer handlers keep the used set (every node's podCIDR, counted as soon as a Node is
// seen, so the workers never hand out a subnet a listed node holds), and sync() allocates and writes the subnet of
// a node that has none.
#include "daemons/controller-manager/node_ipam_controller.h"

#include "daemons/common/daemon.h"

namespace kctl::controllers {

using nlohmann::json;

namespace {
// The event source of kube's range allocator.
constexpr const char* kComponent = "cidrAllocator";
// PatchNodeCIDRs is tried this often before the allocation is given back (cidrUpdateRetries).
constexpr int kCidrUpdateRetries = 3;

std::string pod_cidr_of(const json& node) {
  json cidrs = node.value("/spec/podCIDRs"_json_pointer, json::array());
  if (cidrs.is_array() && !cidrs.empty() && cidrs[0].is_string()) return cidrs[0];
  return node.value("/spec/podCIDR"_json_pointer, std::string());
}

api::EventRecorderOptions event_options() {
  api::EventRecorderOptions o;
  o.on_error = [](const std::string& m) { log(LogLevel::Warning, m); };
  return o;
}
}  // namespace

NodeIpamController::NodeIpamController(ControllerContext& context)
    : Controller("nodeipam", context),
      nodes_(context.informer("nodes")),
      events_(context.transport, {kComponent, ""}, event_options()),
      cidrs_(context.options.cluster_cidr, context.options.node_cidr_mask_size) {
  nodes_.add_handler({
      [this](const api::ObjectPtr& n) {
        observe(*n);
        if (pod_cidr_of(*n).empty()) enqueue(key_of(*n));
      },
      [this](const api::ObjectPtr&, const api::ObjectPtr& n) {
        observe(*n);
        if (pod_cidr_of(*n).empty()) enqueue(key_of(*n));
      },
      [this](const api::ObjectPtr& n) { forget(*n); },
  });
}

NodeIpamController::~NodeIpamController() {
  stop();
  events_.stop();
}

void NodeIpamController::resync() {
  for (const auto& n : nodes_.list())
    if (pod_cidr_of(*n).empty()) enqueue(key_of(*n));
}

size_t NodeIpamController::allocated() const {
  std::lock_guard lock(mutex_);
  return cidrs_.used_count();
}

void NodeIpamController::observe(const json& node) {
  std::string name = node.value("/metadata/name"_json_pointer, std::string());
  std::string cidr = pod_cidr_of(node);
  if (cidr.empty()) return;
  std::lock_guard lock(mutex_);
  auto it = by_node_.find(name);
  if (it != by_node_.end() && it->second == cidr) return;
  // The node holds another subnet than the one this controller set aside for it (someone else set it): that one
  // is free again.
  if (it != by_node_.end()) release_locked(name);
  if (!cidrs_.occupy(cidr)) {
    log(LogLevel::Warning, "nodeipam: node " + name + " has podCIDR " + cidr + ", which is not a /" +
                               std::to_string(context_.options.node_cidr_mask_size) + " of the cluster CIDR " +
                               context_.options.cluster_cidr + "; leaving it alone");
    return;
  }
  by_node_[name] = cidr;
  holders_[cidr].insert(name);
}

void NodeIpamController::release_locked(const std::string& node_name) {
  auto it = by_node_.find(node_name);
  if (it == by_node_.end()) return;
  auto h = holders_.find(it->second);
  if (h != holders_.end()) {
    h->second.erase(node_name);
    // Two nodes may claim one subnet (set by hand); it is free only when neither does.
    if (h->second.empty()) {
      cidrs_.release(it->second);
      holders_.erase(h);
    }
  }
  by_node_.erase(it);
}

void NodeIpamController::forget(const json& node) {
  std::string name = node.value("/metadata/name"_json_pointer, std::string());
  {
    std::lock_guard lock(mutex_);
    if (!by_node_.count(name)) return;
    release_locked(name);
  }
  enqueue_waiting_nodes();
}

void NodeIpamController::enqueue_waiting_nodes() {
  for (const auto& n : nodes_.list())
    if (pod_cidr_of(*n).empty()) enqueue(key_of(*n));
}

void NodeIpamController::sync(const std::string& key) {
  api::ObjectPtr node = nodes_.get(key);
  if (!node || being_deleted(*node)) return;
  if (!pod_cidr_of(*node).empty()) {
    observe(*node);
    return;
  }
  std::string cidr;
  {
    std::lock_guard lock(mutex_);
    auto it = by_node_.find(key);
    if (it != by_node_.end()) {
      cidr = it->second;  // set aside by an earlier sync whose write the cache has not shown yet
    } else if (auto next = cidrs_.allocate_next()) {
      cidr = *next;
      by_node_[key] = cidr;
      holders_[cidr].insert(key);
    }
  }
  if (cidr.empty()) {
    // Retried when a node goes and gives its subnet back.
    events_.record(*node, api::EventType::Normal, "CIDRNotAvailable", "Node " + key + " status is now: CIDRNotAvailable");
    log(LogLevel::Warning, "nodeipam: no podCIDR left in " + context_.options.cluster_cidr + " for node " + key);
    return;
  }
  // The resourceVersion makes the write conditional: a node that got a podCIDR meanwhile is re-read, not overwritten.
  json patch = {{"metadata", {{"resourceVersion", node->value("/metadata/resourceVersion"_json_pointer, std::string())}}},
                {"spec", {{"podCIDR", cidr}, {"podCIDRs", json::array({cidr})}}}};
  api::ResourceClient client = context_.client("nodes");
  for (int attempt = 1;; ++attempt) {
    try {
      client.patch(key, api::PatchType::Merge, patch);
      log(LogLevel::Info, "nodeipam: set node " + key + " podCIDR " + cidr);
      return;
    } catch (const api::StatusError& e) {
      int code = e.status().code;
      if (code == 404) break;  // gone: the delete handler gives the subnet back
      if (code == 409) {
        // Changed since the cache saw it: look again with what the cache shows next.
        json fresh = client.get(key);
        if (!pod_cidr_of(fresh).empty()) {
          {
            std::lock_guard lock(mutex_);
            release_locked(key);
          }
          observe(fresh);
          return;
        }
        patch["metadata"]["resourceVersion"] = fresh.value("/metadata/resourceVersion"_json_pointer, std::string());
      }
      if (attempt >= kCidrUpdateRetries) {
        events_.record(*node, api::EventType::Normal, "CIDRAssignmentFailed",
                       "Node " + key + " status is now: CIDRAssignmentFailed");
        {
          std::lock_guard lock(mutex_);
          release_locked(key);
        }
        throw;
      }
    }
  }
}

}  // namespace kctl::controllers
