#include "daemons/kubelet/node_routes.h"

#include <sstream>

#include "daemons/common/daemon.h"
#include "daemons/common/process.h"

namespace kctl::kubelet {

std::map<std::string, std::string> desired_node_routes(const std::vector<api::ObjectPtr>& nodes,
                                                       const std::string& self) {
  std::map<std::string, std::string> want;
  for (const auto& n : nodes) {
    if (n->value("/metadata/name"_json_pointer, std::string()) == self) continue;
    std::string cidr = n->value("/spec/podCIDR"_json_pointer, std::string());
    std::string ip;
    for (const auto& a : n->value("/status/addresses"_json_pointer, nlohmann::json::array()))
      if (a.value("type", "") == "InternalIP") ip = a.value("address", "");
    if (!cidr.empty() && !ip.empty()) want[cidr] = ip;
  }
  return want;
}

NodeRoutes::NodeRoutes(api::Transport& transport, std::string node_name,
                       std::function<void(const nlohmann::json&)> on_self)
    : transport_(transport), node_name_(std::move(node_name)), on_self_(std::move(on_self)) {}

NodeRoutes::~NodeRoutes() { stop(); }

void NodeRoutes::start() {
  nodes_ = std::make_unique<api::Informer>(transport_, *api::Registry::builtin().by_kind("", "Node"), "",
                                           api::ListOptions{}, std::chrono::seconds(60));
  auto changed = [this](const api::ObjectPtr& n) {
    if (on_self_ && n->value("/metadata/name"_json_pointer, std::string()) == node_name_) on_self_(*n);
    sync();
  };
  nodes_->add_handler({changed, [changed](const api::ObjectPtr&, const api::ObjectPtr& n) { changed(n); },
                       [this](const api::ObjectPtr&) { sync(); }});
  nodes_->start();
}

void NodeRoutes::stop() {
  if (nodes_) nodes_->stop();
}

std::map<std::string, std::string> NodeRoutes::routes() const {
  std::lock_guard lock(mutex_);
  return installed_;
}

// Level-driven: the routes of the current Node list are made to be, and any other route of ours goes.
void NodeRoutes::sync() {
  auto want = desired_node_routes(nodes_->list(), node_name_);
  std::lock_guard lock(mutex_);
  if (want == installed_) return;  // Node status updates mostly change nothing here
  std::string proto = std::to_string(kRouteProtocol);
  std::map<std::string, std::string> now;
  for (const auto& [cidr, via] : want) {
    auto r = run_process({"ip", "route", "replace", cidr, "via", via, "proto", proto});
    if (r.ok())
      now[cidr] = via;
    else
      log(LogLevel::Warning, "cannot route the pods of " + cidr + " via " + via + ": " + r.err);
  }
  std::stringstream mine(run_process({"ip", "-o", "-4", "route", "show", "proto", proto}).out);
  for (std::string line; std::getline(mine, line);) {
    std::string cidr = line.substr(0, line.find(' '));
    if (!now.count(cidr) && !want.count(cidr)) run_process({"ip", "route", "del", cidr, "proto", proto});
  }
  if (now != installed_) {
    std::string text;
    for (const auto& [cidr, via] : now) text += (text.empty() ? "" : ", ") + cidr + " via " + via;
    log(LogLevel::Info, "routes to other nodes' pods: " + (text.empty() ? std::string("none") : text));
  }
  installed_ = now;
}

}  // namespace kctl::kubelet
