// Controller: the worker loop over the queue (sync, forget on success, back-off on failure, the time of the last
// sync) and the small helpers every controller reads objects with.
#include "daemons/controller-manager/controller.h"

#include <ctime>

#include "daemons/common/daemon.h"

namespace kctl::controllers {

using nlohmann::json;

api::ResourceClient ControllerContext::client(const std::string& resource, const std::string& ns) const {
  const api::KindInfo* kind = api::Registry::builtin().resolve(resource);
  if (!kind) throw std::invalid_argument("no such resource: " + resource);
  return api::ResourceClient(transport, *kind, ns);
}

api::Informer& ControllerContext::informer(const std::string& resource) const {
  const api::KindInfo* kind = api::Registry::builtin().resolve(resource);
  if (!kind) throw std::invalid_argument("no such resource: " + resource);
  return informers.informer(*kind);
}

Controller::Controller(std::string name, ControllerContext& context) : context_(context), name_(std::move(name)) {}

Controller::~Controller() { stop(); }

void Controller::run() {
  for (int i = 0; i < std::max(1, context_.options.workers); ++i) threads_.emplace_back([this] { worker(); });
}

void Controller::stop() {
  queue_.shut_down();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::string Controller::last_sync() const {
  std::lock_guard lock(mutex_);
  return last_sync_;
}

void Controller::worker() {
  std::string key;
  while (queue_.get(key)) {
    try {
      sync(key);
      queue_.forget(key);
      std::time_t now = std::time(nullptr);
      std::tm tm{};
      gmtime_r(&now, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
      std::lock_guard lock(mutex_);
      last_sync_ = buf;
    } catch (const std::exception& e) {
      // A conflict or a missing object is the normal way of learning the cache was behind: retried quietly.
      bool expected = false;
      if (const auto* se = dynamic_cast<const api::StatusError*>(&e)) expected = se->status().code == 409;
      log(expected ? LogLevel::Debug : LogLevel::Warning, name_ + ": sync of " + key + " failed: " + e.what());
      queue_.add_rate_limited(key);
    }
    queue_.done(key);
  }
}

std::string key_of(const json& obj) {
  std::string ns = obj.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = obj.value("/metadata/name"_json_pointer, std::string());
  return ns.empty() ? name : ns + "/" + name;
}

json controller_ref(const json& obj) {
  for (const auto& ref : obj.value("/metadata/ownerReferences"_json_pointer, json::array()))
    if (ref.value("controller", false)) return ref;
  return nullptr;
}

bool being_deleted(const json& obj) {
  auto it = obj.find("metadata");
  return it != obj.end() && it->contains("deletionTimestamp") && !(*it)["deletionTimestamp"].is_null();
}

}  // namespace kctl::controllers
