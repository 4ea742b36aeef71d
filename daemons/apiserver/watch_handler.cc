// Watch streams over HTTP: the query parameters, and the framing of what a WatchSession hands out as one JSON
// line per event (or a Table row), flushed as one chunk per batch of events.
#include <cstdlib>
#include <ctime>

#include "daemons/apiserver/apiserver.h"
#include "daemons/apiserver/table.h"
#include "daemons/apiserver/watch_session.h"

namespace kctl::apiserver {

namespace {

// How often an idle watch checks whether its client went away.
constexpr auto kIdleCheck = std::chrono::seconds(1);

// Frames events as Kubernetes watch lines ({"type":...,"object":...}\n) into a buffer the handler flushes.
class HttpWatchFraming : public WatchSink {
 public:
  HttpWatchFraming(const api::KindInfo& kind, bool table, IncludeObject include)
      : kind_(kind), table_(table), include_(include) {}

  void object_event(const char* type, const RecordPtr& rec) override {
    buf_ += "{\"type\":\"";
    buf_ += type;
    buf_ += "\",\"object\":";
    if (table_) {
      buf_ += "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"";
      buf_ += std::to_string(rec->revision);
      buf_ += "\"},\"columnDefinitions\":";
      buf_ += columns_sent_ ? "[]" : table_columns_json(kind_);  // the first event only, as kube-apiserver does
      columns_sent_ = true;
      buf_ += ",\"rows\":[";
      append_table_row(buf_, *rec, include_, std::time(nullptr));
      buf_ += "]}";
    } else {
      buf_ += rec->value;
    }
    buf_ += "}\n";
  }
  void other_event(const char* type, const std::string& object) override {
    buf_ += "{\"type\":\"";
    buf_ += type;
    buf_ += "\",\"object\":" + object + "}\n";
  }
  // Writes what is buffered as one chunk; false when the client is gone.
  bool flush(ResponseWriter& w) {
    if (buf_.empty()) return true;
    bool ok = w.write_chunk(buf_);
    buf_.clear();
    return ok;
  }

 private:
  const api::KindInfo& kind_;
  bool table_;
  IncludeObject include_;
  bool columns_sent_ = false;
  std::string buf_;
};

// kube-apiserver ends every watch after a random time between --min-request-timeout and twice that (or the client's
// timeoutSeconds, when shorter), so that watchers reconnect and spread over the apiservers; informers resume.
WatchParams watch_params(const http::Request& req, int min_request_timeout_seconds) {
  WatchParams p;
  p.label_selector = req.param("labelSelector");
  p.field_selector = req.param("fieldSelector");
  p.resource_version = req.param("resourceVersion");
  p.allow_bookmarks = http::parse_bool(req.param("allowWatchBookmarks")).value_or(false);
  p.send_initial_events = http::parse_bool(req.param("sendInitialEvents")).value_or(false);
  long long t = 0;
  if (min_request_timeout_seconds > 0)
    t = min_request_timeout_seconds + std::rand() % (min_request_timeout_seconds + 1);
  if (req.has_param("timeoutSeconds")) {
    long long asked = std::atoll(req.param("timeoutSeconds").c_str());
    if (asked > 0 && (t == 0 || asked < t)) t = asked;
  }
  if (t > 0) p.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(t);
  return p;
}

}  // namespace

void ApiServer::serve_watch(http::Request& req, ResponseWriter& w, const RequestInfo& ri) {
  WatchSession session(*objects_, *ri.kind, ri.ns, watch_params(req, options_.min_request_timeout_seconds));  // 400s before the stream starts
  bool table = http::header(req.headers, "Accept").find("as=Table") != std::string::npos;
  IncludeObject include = req.param("includeObject") == "Object" ? IncludeObject::Object
                          : req.param("includeObject") == "None" ? IncludeObject::None
                                                                 : IncludeObject::Metadata;
  HttpWatchFraming framing(*ri.kind, table, include);
  if (!w.begin_stream(200, "application/json")) return;
  session.start(framing);
  if (!framing.flush(w)) return;
  while (!w.should_stop() && session.poll(framing, std::chrono::steady_clock::now() + kIdleCheck))
    if (!framing.flush(w)) return;
  framing.flush(w);  // the ERROR that ended the session, if any
  session.cancel();
  w.end_stream();
}

}  // namespace kctl::apiserver
