// WatchSession: the event selection every watch shares (HTTP streams and D-Bus signals), so the two transports
// cannot disagree about which events a selector lets through or when a watcher gets 410.
#include "daemons/apiserver/watch_session.h"

#include <map>
#include <optional>

namespace kctl::apiserver {

using api::Status;
using api::StatusError;

namespace {

// How often a watcher that asked for bookmarks gets one when nothing else happened (kube-apiserver: about 1/min).
constexpr auto kBookmarkInterval = std::chrono::seconds(60);

const char* type_name(EventType t) {
  switch (t) {
    case EventType::Added: return "ADDED";
    case EventType::Modified: return "MODIFIED";
    case EventType::Deleted: return "DELETED";
  }
  return "ERROR";
}

// Counts what a sink receives, to know whether a round was idle (bookmarks go out only then).
class CountingSink : public WatchSink {
 public:
  explicit CountingSink(WatchSink& inner) : inner_(inner) {}
  void object_event(const char* type, const RecordPtr& rec) override {
    ++count;
    inner_.object_event(type, rec);
  }
  void other_event(const char* type, const std::string& object) override {
    ++count;
    inner_.other_event(type, object);
  }
  size_t count = 0;

 private:
  WatchSink& inner_;
};

std::string error_object(const Status& s) { return s.to_json().dump(); }

}  // namespace

WatchSession::WatchSession(ObjectService& objects, const api::KindInfo& kind, const std::string& ns,
                           WatchParams params)
    : kind_(kind),
      params_(std::move(params)),
      labels_(api::LabelSelector::parse(params_.label_selector)),
      fields_(api::FieldSelector::parse(params_.field_selector)),
      last_bookmark_(std::chrono::steady_clock::now()) {
  check_field_selector(kind, fields_);
  const std::string& rv = params_.resource_version;
  if (rv.empty() || rv == "0" || params_.send_initial_events) {
    initial_ = objects.list(kind, ns, Selectors{params_.label_selector, params_.field_selector}, &from_);
  } else {
    char* end = nullptr;
    from_ = std::strtoll(rv.c_str(), &end, 10);
    if (*end != '\0' || from_ < 0)
      throw StatusError(Status::bad_request("resourceVersion: Invalid value: \"" + rv +
                                            "\": must be a non-negative integer"));
  }
  try {
    watch_ = objects.store().watch(objects.prefix(kind, ns), from_);
  } catch (const StoreError& e) {
    if (e.code() != StoreError::Code::Compacted) throw;
    gone_message_ = "too old resource version: " + rv;
  }
}

WatchSession::~WatchSession() { cancel(); }

void WatchSession::cancel() {
  cancelled_ = true;
  if (watch_) watch_->cancel();
}

bool WatchSession::matches(const Record& rec) const {
  if (labels_.empty() && fields_.empty()) return true;
  if (!labels_.empty()) {
    std::map<std::string, std::string> lm(rec.attrs.labels.begin(), rec.attrs.labels.end());
    if (!labels_.matches(lm)) return false;
  }
  return fields_.matches([&](std::string_view f) -> std::optional<std::string> {
    if (const auto* v = rec.attrs.field(f)) return *v;
    return std::string();
  });
}

std::string WatchSession::bookmark_object(int64_t revision, bool initial_end) const {
  std::string out = "{\"kind\":\"" + kind_.kind + "\",\"apiVersion\":\"" + kind_.api_version() +
                    "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(revision) + "\"";
  if (initial_end) out += ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}";
  return out + "}}";
}

void WatchSession::start(WatchSink& sink) {
  if (!watch_) {
    sink.other_event("ERROR", error_object(Status::gone(gone_message_)));
    ended_ = true;
    return;
  }
  for (const auto& rec : initial_) sink.object_event("ADDED", rec);
  initial_.clear();
  if (params_.send_initial_events && params_.allow_bookmarks) sink.other_event("BOOKMARK", bookmark_object(from_, true));
}

// A watch with selectors sees an object leave the selection as DELETED and enter it as ADDED, as kube-apiserver's
// watch cache does.
void WatchSession::hand_out(WatchSink& sink, const Event& ev) const {
  bool everything = labels_.empty() && fields_.empty();
  bool now_matches = matches(*ev.object);
  bool was_matching = ev.prev && matches(*ev.prev);
  if (everything) {
    sink.object_event(type_name(ev.type), ev.object);
  } else if (ev.type == EventType::Deleted) {
    if (was_matching || now_matches) sink.object_event("DELETED", ev.object);
  } else if (now_matches) {
    sink.object_event(ev.type == EventType::Added || !was_matching ? "ADDED" : "MODIFIED", ev.object);
  } else if (was_matching) {
    sink.object_event("DELETED", ev.object);
  }
}

bool WatchSession::poll(WatchSink& sink, std::chrono::steady_clock::time_point wake) {
  auto now = std::chrono::steady_clock::now();
  if (ended_ || cancelled_ || now >= params_.deadline) return false;
  std::vector<Event> events;
  try {
    events = watch_->next(std::min(params_.deadline, wake));
  } catch (const StoreError& e) {
    sink.other_event("ERROR", error_object(Status::gone(e.what())));
    ended_ = true;
    return false;
  }
  CountingSink counted(sink);
  for (const auto& ev : events) hand_out(counted, ev);
  if (counted.count == 0 && params_.allow_bookmarks &&
      std::chrono::steady_clock::now() - last_bookmark_ >= kBookmarkInterval) {
    sink.other_event("BOOKMARK", bookmark_object(watch_->progress_revision(), false));
    last_bookmark_ = std::chrono::steady_clock::now();
  }
  return true;
}

}  // namespace kctl::apiserver
