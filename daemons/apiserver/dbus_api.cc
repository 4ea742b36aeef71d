// DbusApi: the methods of org.kctl.ApiServer1 as thin calls into ObjectService (run on a few worker threads so
// the bus thread never waits for storage), and watches as WatchSessions whose events go out in batched signals to
// the watch's owner only.
#include "daemons/apiserver/dbus_api.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <pthread.h>

#include "api/codec.h"
#include "api/dbus_status.h"
#include "daemons/apiserver/table.h"
#include "daemons/apiserver/watch_session.h"
#include "daemons/common/dbus_service.h"
#include "dbus/org.kctl.ApiServer1_adaptor.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

// Method calls run on this many threads: writes wait for the group commit's fsync, and several callers (scheduler,
// controllers) writing at once is what fills a commit batch.
constexpr size_t kMethodWorkers = 8;
// Calls waiting for a worker beyond this are refused with 429: a flood of calls must not grow memory unbounded.
constexpr size_t kMaxQueuedCalls = 1024;
// Watches over D-Bus, each a thread: the same bound the HTTP server puts on connections (and so on watches).
constexpr size_t kMaxWatches = 4096;
// One peer (a daemon with an informer per kind it follows) needs tens; a runaway client must not take them all.
constexpr size_t kMaxWatchesPerCaller = 256;
// Events per WatchEvents signal, and its size: batches amortize the per-message cost (a few tens of
// microseconds in the bus) over hundreds of events, while staying far below dbus-daemon's 32 MiB message limit.
constexpr size_t kMaxEventsPerSignal = 256;
constexpr size_t kMaxSignalBytes = size_t(1) << 20;
// A watch thread waits at most this long before checking whether it should stop (cancel() wakes it sooner).
constexpr auto kIdleCheck = std::chrono::seconds(1);

sdbus::Error to_dbus_error(const Status& s) { return sdbus::Error(api::dbus_error_name(s), s.message); }

Status too_many_requests(const std::string& message) {
  Status s;
  s.code = 429;
  s.reason = "TooManyRequests";
  s.message = message;
  return s;
}

StatusError method_not_allowed() {
  return StatusError(Status::method_not_allowed("the server does not allow this method on the requested resource"));
}

// What a watch has to send, until it goes out as signals.
struct PendingEvent {
  const char* type;
  RecordPtr record;    // ADDED, MODIFIED, DELETED
  std::string object;  // BOOKMARK, ERROR
  size_t size() const { return record ? record->value.size() : object.size(); }
};

class PendingEvents : public WatchSink {
 public:
  void object_event(const char* type, const RecordPtr& rec) override { events.push_back({type, rec, {}}); }
  void other_event(const char* type, const std::string& object) override { events.push_back({type, nullptr, object}); }
  std::vector<PendingEvent> events;
};

}  // namespace

class DbusApi::Object final : public DbusObject<org::kctl::ApiServer1_adaptor> {
 public:
  Object(DbusService& service, ObjectService& objects, SqliteStore& store, DbusApiOptions options)
      : DbusObject(service, api::kApiServerObjectPath),
        objects_(objects),
        store_(store),
        options_(std::move(options)),
        calls_(std::make_unique<MethodCallQueue>(kMethodWorkers, kMaxQueuedCalls)) {
    peer_gone_ = service.on_peer_gone([this](const std::string& peer) { end_watches_of(peer); });
    publish();
  }

  ~Object() {
    peer_gone_.reset();
    end_all_watches();
    withdraw();      // no call is dispatched after this
    calls_.reset();  // finishes the calls already queued
  }

 private:
  struct DbusWatch {
    uint64_t id;
    std::string owner;
    std::unique_ptr<WatchSession> session;  // set before the thread starts; guarded by watches_mutex_ until then
    std::atomic<bool> stopping{false};
    std::mutex mu;
    std::condition_variable cv;
    bool running = false, done = false;  // the thread; guarded by mu
  };
  using DbusWatchPtr = std::shared_ptr<DbusWatch>;

  // --- methods -------------------------------------------------------------------------------------------------

  void Get(sdbus::Result<std::string>&& result, std::string resource, std::string ns, std::string name,
           std::string sub) override {
    if (auto refused = refuse_read("get", resource, ns, name)) return reply_error(result, *refused);
    answer(std::move(result), [=, this] {
      const api::KindInfo& kind = object_kind(resource, ns, name, sub);
      if (sub == "scale") return objects_.get_scale(kind, ns, name).dump();
      if (!sub.empty() && sub != "status") throw method_not_allowed();
      return objects_.get(kind, ns, name)->value;
    });
  }

  void List(sdbus::Result<std::string>&& result, std::string resource, std::string ns, std::string label_selector,
            std::string field_selector) override {
    if (auto refused = refuse_read("list", resource, ns, "")) return reply_error(result, *refused);
    answer(std::move(result), [=, this] {
      const api::KindInfo& kind = collection_kind(resource, ns);
      int64_t revision = 0;
      auto records = objects_.list(kind, ns, Selectors{label_selector, field_selector}, &revision);
      return list_json(kind, records, revision);
    });
  }

  void Create(sdbus::Result<std::string>&& result, std::string resource, std::string ns, std::string name,
              std::string sub, std::string object) override {
    answer(std::move(result), [=, this] {
      if (sub.empty()) {
        const api::KindInfo& kind = collection_kind(resource, ns);
        if (kind.namespaced && ns.empty()) throw method_not_allowed();  // no POST to all namespaces
        if (kind.verbs == std::vector<std::string>{"create"}) {  // a review: answered, never stored
          if (!options_.review) throw method_not_allowed();
          return options_.review(kind, ns, decode_object(object)).dump();
        }
        return objects_.create(kind, ns, decode_object(object), write_options())->value;
      }
      object_kind(resource, ns, name, sub);
      if (sub == "token") return objects_.request_token(ns, name, decode_object(object)).dump();
      if (sub != "binding") throw method_not_allowed();
      objects_.bind(ns, name, decode_object(object), write_options());
      return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"},
                  {"code", 201}}
          .dump();
    });
  }

  void Update(sdbus::Result<std::string>&& result, std::string resource, std::string ns, std::string name,
              std::string sub, std::string object) override {
    answer(std::move(result), [=, this] {
      const api::KindInfo& kind = object_kind(resource, ns, name, sub);
      json body = decode_object(object);
      if (sub == "scale") return objects_.update_scale(kind, ns, name, body, write_options()).dump();
      if (!sub.empty() && sub != "status" && sub != "finalize" && sub != "approval") throw method_not_allowed();
      std::string body_name = body.value("/metadata/name"_json_pointer, json("")).is_string()
                                  ? body.value("/metadata/name"_json_pointer, std::string())
                                  : std::string();
      if (!body_name.empty() && body_name != name)
        throw StatusError(Status::bad_request("the name of the object (" + body_name +
                                              ") does not match the name on the URL (" + name + ")"));
      return objects_.update(kind, ns, name, sub, body, write_options())->value;
    });
  }

  void Patch(sdbus::Result<std::string>&& result, std::string resource, std::string ns, std::string name,
             std::string sub, std::string patch_type, std::string patch) override {
    answer(std::move(result), [=, this] {
      const api::KindInfo& kind = object_kind(resource, ns, name, sub);
      PatchType type = parse_patch_type(patch_type);
      json p = decode_patch(type, patch);
      if (sub == "scale") return objects_.patch_scale(kind, ns, name, type, p, write_options()).dump();
      if (!sub.empty() && sub != "status") throw method_not_allowed();
      return objects_.patch(kind, ns, name, sub, type, p, write_options(), nullptr)->value;
    });
  }

  void Delete(sdbus::Result<std::string>&& result, std::string resource, std::string ns, std::string name,
              std::string options) override {
    answer(std::move(result), [=, this] {
      const api::KindInfo& kind = object_kind(resource, ns, name, "");
      json body = options.empty() ? json() : decode_object(options);
      return objects_.remove(kind, ns, name, DeleteOptions::from_json(body)).object->value;
    });
  }

  std::string Version() override { return options_.version.dump(); }

  void Watch(sdbus::Result<uint64_t>&& result, std::string resource, std::string ns, std::string label_selector,
             std::string field_selector, std::string resource_version) override;
  void StopWatch(sdbus::Result<>&& result, uint64_t id) override;

  // --- properties ----------------------------------------------------------------------------------------------

  std::string VersionProperty() override { return options_.version.value("gitVersion", ""); }
  uint64_t Revision() override { return uint64_t(store_.current_revision()); }
  uint64_t ObjectCount() override { return store_.object_count(); }
  uint32_t WatchCount() override {
    std::lock_guard lock(watches_mutex_);
    return uint32_t(watches_.size());
  }
  std::string StoragePath() override { return options_.storage_path; }
  std::vector<std::string> ListenAddresses() override { return options_.listen_addresses; }

  // --- helpers -------------------------------------------------------------------------------------------------

  // Runs `work` on a worker and answers with what it returns, or with the error it throws; then runs `then`.
  template <typename... T, typename Work>
  bool answer(sdbus::Result<T...>&& result, Work work, std::function<void()> then = {}) {
    auto r = std::make_shared<sdbus::Result<T...>>(std::move(result));
    bool queued = calls_->push([r, work = std::move(work), then = std::move(then)]() mutable {
      try {
        if constexpr (sizeof...(T) == 0) {
          work();
          r->returnResults();
        } else {
          r->returnResults(work());
        }
      } catch (const StatusError& e) {
        return reply_error(*r, e.status());
      } catch (const StoreError& e) {
        return reply_error(*r, Status::service_unavailable(e.what()));
      } catch (const sdbus::Error&) {
        return;  // the answer could not be sent: the caller or the bus is gone
      } catch (const std::exception& e) {
        return reply_error(*r, Status::internal(e.what()));
      }
      if (then) then();
    });
    if (!queued) reply_error(*r, too_many_requests("too many D-Bus calls waiting; try again"));
    return queued;
  }

  template <typename... T>
  static void reply_error(const sdbus::Result<T...>& r, const Status& s) {
    try {
      r.returnError(to_dbus_error(s));
    } catch (const sdbus::Error&) {
      // the caller is gone
    }
  }

  // The kind of a qualified plural ("pods", "deployments.apps", "secrets."); null when there is none.
  const api::KindInfo* find_kind(const std::string& resource) const {
    auto dot = resource.find('.');
    std::string plural = resource.substr(0, dot);
    std::string group = dot == std::string::npos ? "" : resource.substr(dot + 1);
    return objects_.registry().by_resource(group, plural);
  }

  // The kind of a qualified plural, checked against the namespace: a 404 like the HTTP paths that would name it.
  const api::KindInfo& collection_kind(const std::string& resource, const std::string& ns) const {
    const api::KindInfo* kind = find_kind(resource);
    if (!kind || (!kind->namespaced && !ns.empty())) throw StatusError(Status::not_found("", ""));
    return *kind;
  }

  // Secrets are root's to read on the bus. The policy (units/org.kctl.conf) lets every local user call Get, List and
  // Watch, since it cannot look at their arguments, and D-Bus callers do not go through RBAC: so the uid the bus
  // gives for the caller decides here, before any work is queued. On the bus thread, in the method's dispatch.
  // Nullopt when the call may go on (other kinds, and root); a caller whose uid the bus cannot tell is refused.
  std::optional<Status> refuse_read(const char* verb, const std::string& resource, const std::string& ns,
                                    const std::string& name) const {
    const api::KindInfo* kind = find_kind(resource);
    if (!kind || !kind->group.empty() || kind->kind != "Secret") return std::nullopt;
    std::optional<uid_t> uid = caller_uid();
    if (uid && *uid == 0) return std::nullopt;
    Status s = Status::forbidden(kind->plural, name, "");
    std::string subject = kind->plural + (name.empty() ? "" : " \"" + name + "\"");
    std::string where = ns.empty() ? "at the cluster scope" : "in the namespace \"" + ns + "\"";
    std::string who = uid ? "uid " + std::to_string(*uid) : std::string("a caller of unknown uid");
    s.message = subject + " is forbidden: " + who + " cannot " + verb + " resource \"" + kind->plural + "\" " + where +
                " over D-Bus: only root may read Secrets on the bus";
    return s;
  }

  const api::KindInfo& object_kind(const std::string& resource, const std::string& ns, const std::string& name,
                                   const std::string& sub) const {
    const api::KindInfo& kind = collection_kind(resource, ns);
    if (name.empty() || (kind.namespaced && ns.empty()) || (!sub.empty() && !kind.has_subresource(sub)))
      throw StatusError(Status::not_found("", ""));
    return kind;
  }

  static WriteOptions write_options() {
    WriteOptions o;
    o.field_validation = "Warn";  // the HTTP default: unknown fields are dropped, not refused
    return o;
  }

  static json decode_object(const std::string& text) {
    if (text.empty()) throw StatusError(Status::bad_request("the request body is empty"));
    try {
      return json::parse(text);
    } catch (const json::exception& e) {
      throw StatusError(Status::bad_request(std::string("the object is not valid JSON: ") + e.what()));
    }
  }

  static PatchType parse_patch_type(const std::string& s) {
    if (s == "json") return PatchType::Json;
    if (s == "merge") return PatchType::Merge;
    if (s == "strategic") return PatchType::Strategic;
    if (s == "apply") return PatchType::Apply;
    throw StatusError(Status::bad_request("patchType: Unsupported value: \"" + s +
                                          "\": supported values: \"apply\", \"json\", \"merge\", \"strategic\""));
  }

  // As the HTTP PATCH decodes its body: apply configurations are YAML (or JSON), the others JSON.
  static json decode_patch(PatchType type, const std::string& text) {
    if (text.empty()) throw StatusError(Status::bad_request("the patch is empty"));
    json patch;
    try {
      patch = type == PatchType::Apply ? api::decode_yaml(text) : json::parse(text);
    } catch (const json::exception& e) {
      throw StatusError(Status::bad_request(std::string("error decoding patch: ") + e.what()));
    }
    if (type == PatchType::Json && patch.is_array() && patch.size() > api::kMaxJsonPatchOperations)
      throw StatusError(Status::request_entity_too_large("The allowed maximum operations in a JSON patch is " +
                                                         std::to_string(api::kMaxJsonPatchOperations) + ", got " +
                                                         std::to_string(patch.size())));
    return patch;
  }

  // --- watches (below) -----------------------------------------------------------------------------------------

  uint64_t open_watch(uint64_t id, const std::string& resource, const std::string& ns, WatchParams params);
  void launch(uint64_t id);
  void run_watch(const DbusWatchPtr& w);
  void send(const DbusWatch& w, std::vector<PendingEvent>& events);
  DbusWatchPtr take(uint64_t id);  // removes it from the table; null when not there
  void stop(const DbusWatchPtr& w);
  void end_watches_of(const std::string& owner);
  void end_all_watches();
  void watch_count_changed() { properties_changed(INTERFACE_NAME, {"WatchCount"}); }

  ObjectService& objects_;
  SqliteStore& store_;
  DbusApiOptions options_;
  std::unique_ptr<MethodCallQueue> calls_;
  sdbus::Slot peer_gone_;

  std::mutex watches_mutex_;  // never held while calling into sd-bus (whose lock the bus thread holds)
  std::map<uint64_t, DbusWatchPtr> watches_;          // guarded by watches_mutex_
  std::map<std::string, size_t> watches_per_owner_;  // guarded by watches_mutex_
  uint64_t next_watch_id_ = 1;                     // guarded by watches_mutex_
  bool stopping_ = false;                          // guarded by watches_mutex_
  size_t running_threads_ = 0;                     // guarded by watches_mutex_
  std::condition_variable threads_done_;
};

// ---------------------------------------------------------------------------------------------------------------
// Watches. The bus thread registers a watch (so its owner leaving is noticed from the start), a worker opens the
// session and answers with the id, and only then the watch's thread starts sending: the caller always has the id
// before the first signal.

void DbusApi::Object::Watch(sdbus::Result<uint64_t>&& result, std::string resource, std::string ns,
                            std::string label_selector, std::string field_selector, std::string resource_version) {
  if (auto refused = refuse_read("watch", resource, ns, "")) return reply_error(result, *refused);
  std::string owner = caller();
  uint64_t id = 0;
  std::optional<Status> refusal;
  {
    std::lock_guard lock(watches_mutex_);
    auto mine = watches_per_owner_.find(owner);
    if (stopping_) {
      refusal = Status::service_unavailable("the API server is stopping");
    } else if (watches_.size() >= kMaxWatches) {
      refusal = too_many_requests("too many watches open on D-Bus");
    } else if (mine != watches_per_owner_.end() && mine->second >= kMaxWatchesPerCaller) {
      refusal = too_many_requests("too many watches open by " + owner);
    } else {
      id = next_watch_id_++;
      auto w = std::make_shared<DbusWatch>();
      w->id = id;
      w->owner = owner;
      watches_[id] = w;
      ++watches_per_owner_[owner];
    }
  }
  if (refusal) return reply_error(result, *refusal);
  // Bookmarks always: a client that did not ask for them drops them, one that did resumes from a recent revision.
  WatchParams params{label_selector, field_selector, resource_version};
  params.allow_bookmarks = true;
  bool queued = answer(
      std::move(result), [=, this] { return open_watch(id, resource, ns, params); }, [this, id] { launch(id); });
  if (!queued) take(id);
}

uint64_t DbusApi::Object::open_watch(uint64_t id, const std::string& resource, const std::string& ns,
                                     WatchParams params) {
  std::unique_ptr<WatchSession> session;
  try {
    session = std::make_unique<WatchSession>(objects_, collection_kind(resource, ns), ns, std::move(params));
  } catch (...) {
    take(id);
    throw;
  }
  std::lock_guard lock(watches_mutex_);
  auto it = watches_.find(id);
  if (it == watches_.end()) throw StatusError(Status::service_unavailable("the watch ended before it started"));
  it->second->session = std::move(session);
  return id;
}

void DbusApi::Object::launch(uint64_t id) {
  DbusWatchPtr w;
  {
    std::lock_guard lock(watches_mutex_);
    auto it = watches_.find(id);
    if (it == watches_.end()) return;  // stopped (or its owner left) while the answer went out
    w = it->second;
    ++running_threads_;
  }
  {
    std::lock_guard lock(w->mu);
    w->running = true;
  }
  std::thread([this, w] { run_watch(w); }).detach();
  watch_count_changed();
}

void DbusApi::Object::run_watch(const DbusWatchPtr& w) {
  pthread_setname_np(pthread_self(), "dbus-watch");
  PendingEvents pending;
  try {
    w->session->start(pending);
    send(*w, pending.events);
    while (!w->stopping && w->session->poll(pending, std::chrono::steady_clock::now() + kIdleCheck))
      send(*w, pending.events);
    if (!w->stopping) send(*w, pending.events);  // the ERROR that ended the session
  } catch (const std::exception&) {
    // The bus failed under us (sdbus::Error) or the store did: the watch ends; its owner sees it go quiet and,
    // for a bus failure, sees the connection drop.
  }
  if (take(w->id)) watch_count_changed();
  {
    std::lock_guard lock(w->mu);
    w->done = true;
  }
  w->cv.notify_all();
  std::lock_guard lock(watches_mutex_);
  --running_threads_;
  threads_done_.notify_all();
}

// Sends the events in as few signals as the batch limits allow, to the owner only.
void DbusApi::Object::send(const DbusWatch& w, std::vector<PendingEvent>& events) {
  for (size_t i = 0; i < events.size() && !w.stopping;) {
    sdbus::Signal signal = signal_to(w.owner, INTERFACE_NAME, "WatchEvents");
    signal << w.id;
    signal.openContainer("(ss)");
    size_t bytes = 0, n = 0;
    for (; i < events.size() && n < kMaxEventsPerSignal && (n == 0 || bytes + events[i].size() <= kMaxSignalBytes);
         ++i, ++n) {
      const PendingEvent& ev = events[i];
      signal.openStruct("ss");
      signal << ev.type << (ev.record ? ev.record->value : ev.object);
      signal.closeStruct();
      bytes += ev.size();
    }
    signal.closeContainer();
    emit(signal);
  }
  events.clear();
}

DbusApi::Object::DbusWatchPtr DbusApi::Object::take(uint64_t id) {
  std::lock_guard lock(watches_mutex_);
  auto it = watches_.find(id);
  if (it == watches_.end()) return nullptr;
  DbusWatchPtr w = it->second;
  watches_.erase(it);
  if (--watches_per_owner_[w->owner] == 0) watches_per_owner_.erase(w->owner);
  return w;
}

void DbusApi::Object::stop(const DbusWatchPtr& w) {
  std::lock_guard lock(watches_mutex_);  // session is set under it
  w->stopping = true;
  if (w->session) w->session->cancel();
}

void DbusApi::Object::StopWatch(sdbus::Result<>&& result, uint64_t id) {
  std::string owner = caller();
  DbusWatchPtr w;
  {
    std::lock_guard lock(watches_mutex_);
    auto it = watches_.find(id);
    if (it != watches_.end() && it->second->owner == owner) w = it->second;
  }
  if (!w) return reply_error(result, Status::not_found("watches", std::to_string(id)));
  take(id);
  stop(w);
  watch_count_changed();
  // Answer once the thread has sent its last signal, so the caller gets no event of this watch after the answer.
  answer(std::move(result), [w] {
    std::unique_lock lock(w->mu);
    w->cv.wait(lock, [&] { return !w->running || w->done; });
  });
}

void DbusApi::Object::end_watches_of(const std::string& owner) {
  std::vector<DbusWatchPtr> gone;
  {
    std::lock_guard lock(watches_mutex_);
    if (!watches_per_owner_.count(owner)) return;
    for (const auto& [id, w] : watches_)
      if (w->owner == owner) gone.push_back(w);
  }
  for (const auto& w : gone) {
    take(w->id);
    stop(w);
  }
  watch_count_changed();
}

void DbusApi::Object::end_all_watches() {
  std::vector<DbusWatchPtr> all;
  {
    std::lock_guard lock(watches_mutex_);
    stopping_ = true;
    for (const auto& [id, w] : watches_) all.push_back(w);
  }
  for (const auto& w : all) {
    take(w->id);
    stop(w);
  }
  std::unique_lock lock(watches_mutex_);
  threads_done_.wait(lock, [&] { return running_threads_ == 0; });
}

// ---------------------------------------------------------------------------------------------------------------

DbusApi::DbusApi(ObjectService& objects, SqliteStore& store, DbusApiOptions options,
                 std::function<void(const std::string&)> failed)
    : service_(std::make_unique<DbusService>(options.bus_address)) {
  object_ = std::make_unique<Object>(*service_, objects, store, std::move(options));
  service_->start(std::move(failed));
  service_->own_name(api::kApiServerBusName);
}

DbusApi::~DbusApi() {
  object_.reset();
  service_.reset();
}

std::string DbusApi::unique_name() const { return service_->unique_name(); }

}  // namespace kctl::apiserver
