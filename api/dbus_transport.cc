// The D-Bus transport: the object API of org.kctl.ApiServer1 on the node's bus (or a given bus), with watches as
// streams of the WatchEvents signals the apiserver sends to us alone, and D-Bus errors turned back into Statuses.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <pthread.h>

#include "api/client.h"
#include "api/dbus_status.h"
#include "dbus/org.kctl.ApiServer1_proxy.h"

namespace kctl::api {

using nlohmann::json;

namespace {

using RawEvents = std::vector<sdbus::Struct<std::string, std::string>>;

// Events received but not yet read, per watch. A reader that falls this far behind has its stream ended (after what
// is already queued) rather than the client growing without bound; a ResumableWatch then resumes from the last
// event it read, so nothing is lost.
constexpr size_t kMaxQueuedBytes = size_t(64) << 20;

// The bus driver's announcement that org.kctl.ApiServer1 changed hands: every watch with the old owner is over.
constexpr const char* kOwnerChangedMatch =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
    "member='NameOwnerChanged',arg0='org.kctl.ApiServer1'";

[[noreturn]] void throw_status(const sdbus::Error& e) {
  throw StatusError(status_from_dbus_error(e.getName(), e.getMessage()));
}

// The events of one watch between the bus thread (which receives them) and the reader of the stream.
class EventQueue {
 public:
  void push(const RawEvents& events) {
    std::lock_guard lock(mu_);
    for (const auto& ev : events) {
      if (ended_) break;
      const std::string& type = std::get<0>(ev);
      const std::string& object = std::get<1>(ev);
      if (bytes_ + object.size() > kMaxQueuedBytes) {
        ended_ = true;
        break;
      }
      bytes_ += object.size();
      raw_.emplace_back(type, object);
      if (type == "ERROR") ended_ = true;  // the server ends a watch after its ERROR event
    }
    cv_.notify_all();
  }
  void end() {
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  void discard() {
    std::lock_guard lock(mu_);
    ended_ = true;
    raw_.clear();
    cv_.notify_all();
  }
  // The next (type, object) pair; false when the stream has ended or the deadline passed.
  bool pop(std::pair<std::string, std::string>& out, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return !raw_.empty() || ended_; })) return false;
    if (raw_.empty()) return false;
    out = std::move(raw_.front());
    raw_.pop_front();
    bytes_ -= out.second.size();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> raw_;  // guarded by mu_; parsed by the reader, not the bus thread
  size_t bytes_ = 0;                                     // guarded by mu_: the objects in raw_
  bool ended_ = false;                                   // guarded by mu_
};
using EventQueuePtr = std::shared_ptr<EventQueue>;

using EventsHandler = std::function<void(const std::string& sender, uint64_t id, const RawEvents&)>;

class ApiServerProxy final : public sdbus::ProxyInterfaces<org::kctl::ApiServer1_proxy> {
 public:
  ApiServerProxy(sdbus::IConnection& c, EventsHandler on_events)
      : ProxyInterfaces(c, kApiServerBusName, kApiServerObjectPath), on_events_(std::move(on_events)) {
    registerProxy();
  }
  ~ApiServerProxy() { unregisterProxy(); }

 private:
  void onWatchEvents(const uint64_t& id, const RawEvents& events) override {
    const sdbus::Message* m = getProxy().getCurrentlyProcessedMessage();
    on_events_(m ? m->getSender() : std::string(), id, events);
  }
  EventsHandler on_events_;
};

// The unique name owning org.kctl.ApiServer1 now, or "" when nobody does.
std::string current_owner(sdbus::IConnection& c) {
  auto driver = sdbus::createProxy(c, "org.freedesktop.DBus", "/org/freedesktop/DBus");
  std::string owner;
  try {
    driver->callMethod("GetNameOwner").onInterface("org.freedesktop.DBus").withArguments(std::string(kApiServerBusName))
        .storeResultsTo(owner);
  } catch (const sdbus::Error&) {
    // NameHasNoOwner: the apiserver is not there (yet)
  }
  return owner;
}

// One connection to the bus with its event loop thread, and the routing of signals to watch streams. A broken
// connection ends every stream; the transport then opens a new link for the next call.
//
// Signals are taken only from the current owner of org.kctl.ApiServer1: the bus delivers a unicast signal from
// any peer, and sd-bus does not check a well-known sender itself, so without this any local user could feed
// events to a controller's watch.
class BusLink {
 public:
  BusLink(const std::string& address, int timeout_seconds)
      : connection_(address.empty() ? sdbus::createSystemBusConnection()
                                    : sdbus::createSessionBusConnectionWithAddress(address)) {
    connection_->setMethodCallTimeout(std::chrono::seconds(timeout_seconds));
    proxy_ = std::make_unique<ApiServerProxy>(
        *connection_, [this](const std::string& sender, uint64_t id, const RawEvents& ev) { route(sender, id, ev); });
    owner_changed_ = connection_->addMatch(kOwnerChangedMatch, [this](sdbus::Message& m) {
      if (m.getSender() != "org.freedesktop.DBus") return;  // only the bus driver says who owns a name
      std::string name, old_owner, new_owner;
      m >> name >> old_owner >> new_owner;
      owner_changed(old_owner, new_owner);
    });
    // After the match: a change from here on is seen, and processed after this answer.
    std::string owner = current_owner(*connection_);
    {
      std::lock_guard lock(mu_);
      owner_ = owner;
    }
    loop_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "dbus-client");
      try {
        connection_->enterEventLoop();
      } catch (const sdbus::Error&) {
        // the bus went away
      }
      broken_ = true;
      end_all();
    });
  }
  ~BusLink() {
    owner_changed_.reset();
    proxy_.reset();
    connection_->leaveEventLoop();
    loop_.join();
  }

  ApiServerProxy& proxy() { return *proxy_; }
  bool broken() const { return broken_; }
  uint64_t generation() {
    std::lock_guard lock(mu_);
    return generation_;
  }
  // The queue of a watch the server just opened. Its first events may already be there. A watch opened while the
  // server changed hands (generation moved) is over before it starts.
  EventQueuePtr claim(uint64_t id, uint64_t generation_before) {
    std::lock_guard lock(mu_);
    EventQueuePtr& q = queues_[id];
    if (!q) q = std::make_shared<EventQueue>();
    EventQueuePtr out = q;
    if (generation_ != generation_before || broken_) {
      out->end();
      queues_.erase(id);
    }
    return out;
  }
  void release(uint64_t id, const EventQueuePtr& q) {
    std::lock_guard lock(mu_);
    auto it = queues_.find(id);
    if (it != queues_.end() && it->second == q) queues_.erase(it);
  }

 private:
  // On the bus thread. Events of a watch whose Watch answer has not been claimed yet wait in a new queue.
  void route(const std::string& sender, uint64_t id, const RawEvents& events) {
    EventQueuePtr q;
    {
      std::lock_guard lock(mu_);
      if (sender.empty() || sender != owner_) return;
      EventQueuePtr& slot = queues_[id];
      if (!slot) slot = std::make_shared<EventQueue>();
      q = slot;
    }
    q->push(events);
  }
  void owner_changed(const std::string& old_owner, const std::string& new_owner) {
    {
      std::lock_guard lock(mu_);
      owner_ = new_owner;
    }
    if (!old_owner.empty()) end_all();  // every watch was with the owner that left
  }
  void end_all() {
    std::lock_guard lock(mu_);
    ++generation_;
    for (auto& [id, q] : queues_) q->end();
    queues_.clear();  // ids start again at 1 on a restarted server
  }

  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<ApiServerProxy> proxy_;
  sdbus::Slot owner_changed_;
  std::thread loop_;
  std::atomic<bool> broken_{false};
  std::mutex mu_;
  std::map<uint64_t, EventQueuePtr> queues_;  // guarded by mu_
  uint64_t generation_ = 0;                   // guarded by mu_: how often the server changed hands
  std::string owner_;                         // guarded by mu_: the unique name signals must come from
};
using BusLinkPtr = std::shared_ptr<BusLink>;

class DbusWatchStream : public WatchStream {
 public:
  // The server sends bookmarks and never times a watch out; what the caller did not ask for is done here.
  DbusWatchStream(BusLinkPtr link, uint64_t id, EventQueuePtr queue, const ListOptions& opts)
      : link_(std::move(link)), id_(id), queue_(std::move(queue)), bookmarks_(opts.allow_bookmarks) {
    if (opts.timeout_seconds > 0)
      deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(opts.timeout_seconds);
  }
  ~DbusWatchStream() override { stop(); }

  bool next(WatchEvent& out) override {
    std::pair<std::string, std::string> raw;
    while (queue_->pop(raw, deadline_)) {
      WatchEvent ev;
      if (!parse_watch_event_type(raw.first, ev.type)) continue;
      if (ev.type == WatchEvent::Type::Bookmark && !bookmarks_) continue;
      try {
        ev.object = json::parse(raw.second);
      } catch (const json::exception&) {
        continue;
      }
      out = std::move(ev);
      return true;
    }
    return false;
  }
  // Ends the watch on the server too; the server answers once it has sent its last signal for it.
  void stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    queue_->discard();
    if (!link_->broken()) {
      try {
        link_->proxy().StopWatch(id_);
      } catch (const sdbus::Error&) {
        // already ended by the server, or the server is gone
      }
    }
    link_->release(id_, queue_);
  }

 private:
  BusLinkPtr link_;
  uint64_t id_;
  EventQueuePtr queue_;
  bool bookmarks_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
};

const char* patch_type_name(PatchType t) {
  switch (t) {
    case PatchType::Json: return "json";
    case PatchType::Merge: return "merge";
    case PatchType::Strategic: return "strategic";
    case PatchType::Apply: return "apply";
  }
  return "merge";
}

json parse_answer(const std::string& s) {
  try {
    return s.empty() ? json::object() : json::parse(s);
  } catch (const json::exception& e) {
    throw StatusError(Status::internal(std::string("the server answered with invalid JSON: ") + e.what()));
  }
}

class DbusTransport : public Transport {
 public:
  DbusTransport(std::string address, ClientOptions options)
      : address_(std::move(address)), options_(std::move(options)) {}

  json get(const KindInfo& kind, const std::string& ns, const std::string& name, const std::string& sub) override {
    return call([&](ApiServerProxy& p) { return p.Get(kind.qualified_plural(), scope(kind, ns), name, sub); });
  }
  ObjectList list(const KindInfo& kind, const std::string& ns, const ListOptions& opts) override {
    json j = call([&](ApiServerProxy& p) {
      return p.List(kind.qualified_plural(), scope(kind, ns), opts.label_selector, opts.field_selector);
    });
    ObjectList out;
    out.resource_version = j.value("/metadata/resourceVersion"_json_pointer, std::string());
    for (auto& item : j.value("items", json::array())) out.items.push_back(std::move(item));
    return out;
  }
  json create(const KindInfo& kind, const std::string& ns, const json& obj, const std::string& name,
              const std::string& sub) override {
    return call([&](ApiServerProxy& p) { return p.Create(kind.qualified_plural(), scope(kind, ns), name, sub, obj.dump()); });
  }
  json update(const KindInfo& kind, const std::string& ns, const std::string& name, const json& obj,
              const std::string& sub) override {
    return call([&](ApiServerProxy& p) { return p.Update(kind.qualified_plural(), scope(kind, ns), name, sub, obj.dump()); });
  }
  json patch(const KindInfo& kind, const std::string& ns, const std::string& name, PatchType type,
             const std::string& patch, const std::string& sub) override {
    return call([&](ApiServerProxy& p) {
      return p.Patch(kind.qualified_plural(), scope(kind, ns), name, sub, patch_type_name(type), patch);
    });
  }
  json remove(const KindInfo& kind, const std::string& ns, const std::string& name, const json& options) override {
    return call([&](ApiServerProxy& p) {
      return p.Delete(kind.qualified_plural(), scope(kind, ns), name, options.is_null() ? "" : options.dump());
    });
  }
  WatchStreamPtr watch(const KindInfo& kind, const std::string& ns, const ListOptions& opts) override;
  json version() override {
    return call([](ApiServerProxy& p) { return p.Version(); });
  }
  std::string endpoint() const override { return "dbus:" + address_; }

 private:
  // Cluster-scoped kinds have no namespace, whatever the caller passed (as the HTTP paths ignore it).
  static std::string scope(const KindInfo& kind, const std::string& ns) { return kind.namespaced ? ns : ""; }

  BusLinkPtr link() {
    std::lock_guard lock(mu_);
    if (!link_ || link_->broken()) {
      link_.reset();
      try {
        link_ = std::make_shared<BusLink>(address_, options_.timeout_seconds);
      } catch (const sdbus::Error& e) {
        throw StatusError(Status::service_unavailable("cannot reach the API server on D-Bus (" +
                                                      (address_.empty() ? std::string("system bus") : address_) +
                                                      "): " + e.getMessage()));
      }
    }
    return link_;
  }

  template <typename F>
  json call(F&& f) {
    BusLinkPtr l = link();
    try {
      return parse_answer(f(l->proxy()));
    } catch (const sdbus::Error& e) {
      throw_status(e);
    }
  }

  std::string address_;
  ClientOptions options_;
  std::mutex mu_;
  BusLinkPtr link_;  // guarded by mu_
};

WatchStreamPtr DbusTransport::watch(const KindInfo& kind, const std::string& ns, const ListOptions& opts) {
  BusLinkPtr l = link();
  uint64_t generation = l->generation();
  uint64_t id = 0;
  try {
    id = l->proxy().Watch(kind.qualified_plural(), scope(kind, ns), opts.label_selector, opts.field_selector,
                          opts.resource_version);
  } catch (const sdbus::Error& e) {
    throw_status(e);
  }
  return std::make_unique<DbusWatchStream>(l, id, l->claim(id, generation), opts);
}

}  // namespace

TransportPtr make_dbus_transport(const std::string& bus_address, const ClientOptions& options) {
  return std::make_unique<DbusTransport>(bus_address, options);
}

}  // namespace kctl::api
