// ResourceClient and Client on top of any Transport, the transport factory, and the HTTP transport (REST paths,
// Status errors, chunked watch streams).
#include "api/client.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/http_client.h"
#include "api/resource_path.h"

namespace kctl::api {

using nlohmann::json;

const char* to_string(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::Added: return "ADDED";
    case WatchEvent::Type::Modified: return "MODIFIED";
    case WatchEvent::Type::Deleted: return "DELETED";
    case WatchEvent::Type::Bookmark: return "BOOKMARK";
    case WatchEvent::Type::Error: return "ERROR";
    case WatchEvent::Type::Synced: return "SYNCED";
  }
  return "?";
}

bool parse_watch_event_type(std::string_view s, WatchEvent::Type& out) {
  for (auto t : {WatchEvent::Type::Added, WatchEvent::Type::Modified, WatchEvent::Type::Deleted,
                 WatchEvent::Type::Bookmark, WatchEvent::Type::Error})
    if (s == to_string(t)) {
      out = t;
      return true;
    }
  return false;
}

std::string object_key(const json& obj) {
  std::string ns = obj.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = obj.value("/metadata/name"_json_pointer, std::string());
  return ns.empty() ? name : ns + "/" + name;
}

// ---------------------------------------------------------------------------------------------------------------
// ResourceClient

std::string ResourceClient::ns_of(const json& obj) const {
  if (!kind_->namespaced) return "";
  std::string ns = obj.value("/metadata/namespace"_json_pointer, std::string());
  return ns.empty() ? (ns_.empty() ? "default" : ns_) : ns;
}

json ResourceClient::get(const std::string& name) const { return transport_->get(*kind_, ns_, name); }
ObjectList ResourceClient::list(const ListOptions& opts) const { return transport_->list(*kind_, ns_, opts); }
json ResourceClient::create(const json& obj) const { return transport_->create(*kind_, ns_of(obj), obj); }

json ResourceClient::update(const json& obj) const {
  return transport_->update(*kind_, ns_of(obj), obj.value("/metadata/name"_json_pointer, std::string()), obj);
}

json ResourceClient::update_status(const json& obj) const {
  return transport_->update(*kind_, ns_of(obj), obj.value("/metadata/name"_json_pointer, std::string()), obj, "status");
}

json ResourceClient::patch(const std::string& name, PatchType type, const json& patch,
                           const std::string& subresource) const {
  return transport_->patch(*kind_, ns_, name, type, patch.dump(), subresource);
}

json ResourceClient::remove(const std::string& name, const json& options) const {
  return transport_->remove(*kind_, ns_, name, options);
}

WatchStreamPtr ResourceClient::watch(const ListOptions& opts) const { return transport_->watch(*kind_, ns_, opts); }

json ResourceClient::get_scale(const std::string& name) const { return transport_->get(*kind_, ns_, name, "scale"); }

json ResourceClient::update_scale(const std::string& name, int replicas) const {
  return transport_->patch(*kind_, ns_, name, PatchType::Merge, json{{"spec", {{"replicas", replicas}}}}.dump(), "scale");
}

void ResourceClient::bind(const std::string& pod, const std::string& node, const std::string& pod_uid) const {
  json b = {{"apiVersion", "v1"},
            {"kind", "Binding"},
            {"metadata", {{"name", pod}, {"namespace", ns_}}},
            {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  if (!pod_uid.empty()) b["metadata"]["uid"] = pod_uid;
  transport_->create(*kind_, ns_, b, pod, "binding");
}

ResourceClient Client::resource(std::string_view name, const std::string& ns) const {
  const KindInfo* k = registry_->resolve(name);
  if (!k) throw StatusError(Status::not_found("", std::string(name)));
  return ResourceClient(*transport_, *k, ns);
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

namespace {

// The HTTP client settings for this client's options: its credentials, and a timeout and pool size per use.
http::ClientOptions http_options(const ClientOptions& o, int timeout_seconds, size_t max_idle) {
  return http::ClientOptions{o.bearer_token, timeout_seconds, max_idle, o.tls};
}

Status unreachable(const std::string& endpoint, const std::string& why) {
  Status s = Status::service_unavailable("cannot reach the API server at " + endpoint + ": " + why);
  return s;
}

// The Status in an error answer, or one made from the HTTP status when the body is not a Status.
[[noreturn]] void throw_response_error(const http::Response& r) {
  Status s;
  try {
    json j = json::parse(r.body);
    if (j.value("kind", "") == "Status") {
      s.code = j.value("code", r.status);
      s.reason = j.value("reason", "");
      s.message = j.value("message", "");
      if (j.contains("details") && j["details"].is_object()) {
        const json& d = j["details"];
        s.name = d.value("name", "");
        s.group = d.value("group", "");
        s.kind = d.value("kind", "");
        s.uid = d.value("uid", "");
        for (const auto& c : d.value("causes", json::array()))
          s.causes.push_back({c.value("reason", ""), c.value("message", ""), c.value("field", "")});
      }
      throw StatusError(s);
    }
  } catch (const json::exception&) {
  }
  s.code = r.status;
  s.reason = http::status_text(r.status);
  s.message = r.body.empty() ? "the server answered " + std::to_string(r.status) + " " + http::status_text(r.status)
                             : r.body.substr(0, 1024);
  throw StatusError(s);
}

std::string query(const ListOptions& o, bool watch) {
  std::string q;
  auto add = [&](const std::string& k, const std::string& v) {
    q += (q.empty() ? "?" : "&") + k + "=" + http::url_encode(v);
  };
  if (!o.label_selector.empty()) add("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) add("fieldSelector", o.field_selector);
  if (!o.resource_version.empty()) add("resourceVersion", o.resource_version);
  if (watch) {
    add("watch", "true");
    if (o.timeout_seconds > 0) add("timeoutSeconds", std::to_string(o.timeout_seconds));
    if (o.allow_bookmarks) add("allowWatchBookmarks", "true");
  }
  return q;
}

class HttpWatchStream : public WatchStream {
 public:
  HttpWatchStream(std::string base_url, ClientOptions options, std::string target)
      : base_url_(std::move(base_url)), options_(std::move(options)), target_(std::move(target)) {
    reader_ = std::thread([this] { run(); });
  }
  ~HttpWatchStream() override {
    stop();
    if (reader_.joinable()) reader_.join();
  }
  bool next(WatchEvent& out) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || ended_; });
    if (queue_.empty()) return false;
    out = std::move(queue_.front());
    queue_.erase(queue_.begin());
    return true;
  }
  void stop() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    ended_ = true;
    queue_.clear();
    if (client_) client_->abort();
    cv_.notify_all();
  }

 private:
  // The reader thread turns the chunked body into events; a partial line waits for the next chunk.
  void run() {
    std::string pending;
    try {
      {
        std::lock_guard lock(mu_);
        if (stopped_) {  // stopped before it started (finish() would take mu_ a second time)
          ended_ = true;
          cv_.notify_all();
          return;
        }
        client_ = std::make_unique<http::Client>(base_url_, http_options(options_, 0, 1));
      }
      auto resp = client_->stream("GET", target_, {{"Accept", "application/json"}}, [&](std::string_view chunk) {
        pending.append(chunk);
        size_t p;
        while ((p = pending.find('\n')) != std::string::npos) {
          std::string line = pending.substr(0, p);
          pending.erase(0, p + 1);
          if (!line.empty()) push_line(line);
        }
        std::lock_guard lock(mu_);
        return !stopped_;
      });
      if (resp.status != 200) {
        // The stream never started: report the Status as an ERROR event.
        try {
          throw_response_error(resp);
        } catch (const StatusError& e) {
          push({WatchEvent::Type::Error, e.status().to_json()});
        }
      } else if (!pending.empty()) {
        push_line(pending);
      }
    } catch (const std::exception&) {
      // dropped connection: the stream simply ends
    }
    finish();
  }
  void push_line(const std::string& line) {
    WatchEvent ev;
    try {
      json j = json::parse(line);
      if (!parse_watch_event_type(j.value("type", ""), ev.type)) return;
      ev.object = std::move(j["object"]);
    } catch (const json::exception&) {
      return;
    }
    push(std::move(ev));
  }
  void push(WatchEvent ev) {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    queue_.push_back(std::move(ev));
    cv_.notify_all();
  }
  void finish() {
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  std::string base_url_;
  ClientOptions options_;
  std::string target_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchEvent> queue_;  // guarded by mu_
  bool ended_ = false, stopped_ = false;
  std::unique_ptr<http::Client> client_;  // guarded by mu_ (for abort)
  std::thread reader_;
};

class HttpTransport : public Transport {
 public:
  HttpTransport(std::string base_url, ClientOptions options)
      : base_url_(std::move(base_url)),
        options_(std::move(options)),
        http_(base_url_, http_options(options_, options_.timeout_seconds, 16)) {}

  json get(const KindInfo& kind, const std::string& ns, const std::string& name, const std::string& sub) override {
    return call("GET", object_path(kind, ns, name, sub));
  }
  ObjectList list(const KindInfo& kind, const std::string& ns, const ListOptions& opts) override {
    json j = call("GET", collection_path(kind, ns) + query(opts, false));
    ObjectList out;
    out.resource_version = j.value("/metadata/resourceVersion"_json_pointer, std::string());
    for (auto& item : j.value("items", json::array())) out.items.push_back(std::move(item));
    return out;
  }
  json create(const KindInfo& kind, const std::string& ns, const json& obj, const std::string& name,
              const std::string& sub) override {
    std::string path = sub.empty() ? collection_path(kind, ns) : object_path(kind, ns, name, sub);
    return call("POST", path, obj.dump(), "application/json");
  }
  json update(const KindInfo& kind, const std::string& ns, const std::string& name, const json& obj,
              const std::string& sub) override {
    return call("PUT", object_path(kind, ns, name, sub), obj.dump(), "application/json");
  }
  json patch(const KindInfo& kind, const std::string& ns, const std::string& name, PatchType type,
             const std::string& patch, const std::string& sub) override {
    std::string path = object_path(kind, ns, name, sub);
    if (type == PatchType::Apply) path += "?fieldManager=" + http::url_encode(options_.user_agent) + "&force=true";
    return call("PATCH", path, patch, patch_content_type(type));
  }
  json remove(const KindInfo& kind, const std::string& ns, const std::string& name, const json& options) override {
    return call("DELETE", object_path(kind, ns, name), options.is_null() ? "" : options.dump(), "application/json");
  }
  WatchStreamPtr watch(const KindInfo& kind, const std::string& ns, const ListOptions& opts) override {
    return std::make_unique<HttpWatchStream>(base_url_, options_, collection_path(kind, ns) + query(opts, true));
  }
  json version() override { return call("GET", "/version"); }
  std::string endpoint() const override { return base_url_; }

 private:
  json call(const char* method, const std::string& target, const std::string& body = "",
            const std::string& content_type = "") {
    http::Headers h = {{"Accept", "application/json"}, {"User-Agent", options_.user_agent}};
    if (!content_type.empty()) h.emplace("Content-Type", content_type);
    http::Response r;
    try {
      r = http_.request(method, target, body, h);
    } catch (const http::ConnectError& e) {
      throw StatusError(unreachable(base_url_, e.what()));
    }
    if (r.status < 200 || r.status >= 300) throw_response_error(r);
    try {
      return r.body.empty() ? json::object() : json::parse(r.body);
    } catch (const json::exception& e) {
      throw StatusError(Status::internal(std::string("the server answered with invalid JSON: ") + e.what()));
    }
  }

  std::string base_url_;
  ClientOptions options_;
  http::Client http_;
};

}  // namespace

TransportPtr make_http_transport(const std::string& base_url, const ClientOptions& options) {
  return std::make_unique<HttpTransport>(base_url, options);
}

TransportPtr make_transport(const std::string& endpoint, const ClientOptions& options) {
  if (endpoint.rfind("http://", 0) == 0 || endpoint.rfind("https://", 0) == 0)
    return make_http_transport(endpoint, options);
  if (endpoint == "dbus:" || endpoint.rfind("dbus:", 0) == 0) return make_dbus_transport(endpoint.substr(5), options);
  throw std::invalid_argument("unknown API endpoint \"" + endpoint +
                              "\": expected http://HOST:PORT, https://HOST:PORT, dbus: or dbus:BUS-ADDRESS");
}

}  // namespace kctl::api
