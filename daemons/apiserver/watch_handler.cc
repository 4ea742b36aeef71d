// Watch streams: initial ADDED events for resourceVersion "" or "0", replay from a revision, selector transitions
// (an object leaving the selection is DELETED, entering it ADDED), bookmarks, timeoutSeconds, 410 as an ERROR
// event, and one chunk flushed per batch of events, in JSON or Table form.
#include <ctime>

#include "api/selector.h"
#include "daemons/apiserver/apiserver.h"
#include "daemons/apiserver/table.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

// How often an idle watch checks whether its client went away, and how often it sends a bookmark when asked to.
constexpr auto kIdleCheck = std::chrono::seconds(1);
constexpr auto kBookmarkInterval = std::chrono::seconds(60);

class EventFilter {
 public:
  explicit EventFilter(const http::Request& req)
      : labels_(api::LabelSelector::parse(req.param("labelSelector"))),
        fields_(api::FieldSelector::parse(req.param("fieldSelector"))) {}
  const api::FieldSelector& fields() const { return fields_; }
  bool everything() const { return labels_.empty() && fields_.empty(); }
  bool matches(const Record& rec) const {
    if (everything()) return true;
    if (!labels_.empty()) {
      std::map<std::string, std::string> lm(rec.attrs.labels.begin(), rec.attrs.labels.end());
      if (!labels_.matches(lm)) return false;
    }
    return fields_.matches([&](std::string_view f) -> std::optional<std::string> {
      if (const auto* v = rec.attrs.field(f)) return *v;
      return std::string();
    });
  }

 private:
  api::LabelSelector labels_;
  api::FieldSelector fields_;
};

const char* type_name(EventType t) {
  switch (t) {
    case EventType::Added: return "ADDED";
    case EventType::Modified: return "MODIFIED";
    case EventType::Deleted: return "DELETED";
  }
  return "ERROR";
}

}  // namespace

void ApiServer::serve_watch(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  const api::KindInfo& kind = *ri.kind;
  EventFilter filter(req);
  check_field_selector(kind, filter.fields());
  Selectors sel{req.param("labelSelector"), req.param("fieldSelector")};
  bool table = http::header(req.headers, "Accept").find("as=Table") != std::string::npos;
  IncludeObject include = req.param("includeObject") == "Object" ? IncludeObject::Object
                          : req.param("includeObject") == "None" ? IncludeObject::None
                                                                 : IncludeObject::Metadata;
  bool bookmarks = http::parse_bool(req.param("allowWatchBookmarks")).value_or(false);
  bool send_initial = http::parse_bool(req.param("sendInitialEvents")).value_or(false);
  auto deadline = std::chrono::steady_clock::time_point::max();
  if (req.has_param("timeoutSeconds")) {
    long long t = std::atoll(req.param("timeoutSeconds").c_str());
    if (t > 0) deadline = std::chrono::steady_clock::now() + std::chrono::seconds(t);
  }
  std::string rv = req.param("resourceVersion");
  std::string prefix = objects_->prefix(kind, ri.ns);

  bool columns_sent = false;
  std::string buf;
  auto frame = [&](const char* type, const Record& rec) {
    buf += "{\"type\":\"";
    buf += type;
    buf += "\",\"object\":";
    if (table) {
      buf += "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"";
      buf += std::to_string(rec.revision);
      buf += "\"},\"columnDefinitions\":";
      buf += columns_sent ? "[]" : table_columns_json(kind);
      columns_sent = true;
      buf += ",\"rows\":[";
      append_table_row(buf, rec, include, std::time(nullptr));
      buf += "]}";
    } else {
      buf += rec.value;
    }
    buf += "}\n";
  };
  auto bookmark = [&](int64_t revision, bool initial_end) {
    buf += "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"" + kind.kind + "\",\"apiVersion\":\"" + kind.api_version() +
           "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(revision) + "\"";
    if (initial_end) buf += ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}";
    buf += "}}}\n";
  };

  int64_t from = 0;
  bool initial = rv.empty() || rv == "0" || send_initial;
  std::vector<RecordPtr> initial_records;
  if (initial) {
    initial_records = objects_->list(kind, ri.ns, sel, &from);
  } else {
    char* end = nullptr;
    from = std::strtoll(rv.c_str(), &end, 10);
    if (*end != '\0' || from < 0)
      throw StatusError(Status::bad_request("resourceVersion: Invalid value: \"" + rv + "\": must be a non-negative integer"));
  }
  WatchPtr watch;
  try {
    watch = objects_->store().watch(prefix, from);
  } catch (const StoreError& e) {
    if (e.code() != StoreError::Code::Compacted) throw;
    w.begin_stream(200, "application/json");
    Status gone = Status::gone(std::string("too old resource version: ") + rv);
    w.write_chunk("{\"type\":\"ERROR\",\"object\":" + gone.to_json().dump() + "}\n");
    w.end_stream();
    return;
  }
  if (!w.begin_stream(200, "application/json")) return;
  for (const auto& rec : initial_records) frame("ADDED", *rec);
  if (send_initial && bookmarks) bookmark(from, true);
  if (!buf.empty() && !w.write_chunk(buf)) return;
  buf.clear();

  auto last_bookmark = std::chrono::steady_clock::now();
  while (!w.should_stop()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::vector<Event> events;
    try {
      events = watch->next(std::min(deadline, now + kIdleCheck));
    } catch (const StoreError& e) {
      Status gone = Status::gone(e.what());
      w.write_chunk("{\"type\":\"ERROR\",\"object\":" + gone.to_json().dump() + "}\n");
      break;
    }
    for (const auto& ev : events) {
      bool now_matches = filter.matches(*ev.object);
      bool was_matching = ev.prev && filter.matches(*ev.prev);
      if (filter.everything()) {
        frame(type_name(ev.type), *ev.object);
      } else if (ev.type == EventType::Deleted) {
        if (was_matching || now_matches) frame("DELETED", *ev.object);
      } else if (now_matches) {
        frame(ev.type == EventType::Added || !was_matching ? "ADDED" : "MODIFIED", *ev.object);
      } else if (was_matching) {
        frame("DELETED", *ev.object);
      }
    }
    if (buf.empty() && bookmarks && std::chrono::steady_clock::now() - last_bookmark >= kBookmarkInterval) {
      bookmark(watch->progress_revision(), false);
      last_bookmark = std::chrono::steady_clock::now();
    }
    if (!buf.empty()) {
      if (!w.write_chunk(buf)) return;
      buf.clear();
    }
  }
  watch->cancel();
  w.end_stream();
}

}  // namespace kctl::apiserver
