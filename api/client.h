// The client every kctl component uses to reach an apiserver. A Transport carries the object operations over HTTP(S)
// or over the node's D-Bus, chosen by an endpoint string; Client and ResourceClient give the per-kind API on top.
// Failures are StatusErrors carrying the server's Status (code, reason, message); a server that cannot be reached
// is a 503 ServiceUnavailable with reason "ServiceUnavailable".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/patch.h"
#include "api/registry.h"
#include "api/status.h"
#include "api/tls.h"

namespace kctl::api {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  // list: "" for the newest state; watch: events after this revision ("" or "0": the current state first)
  std::string resource_version;
  int timeout_seconds = 0;  // watch: the server ends the stream after this long (0: never)
  bool allow_bookmarks = false;
};

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resource_version;
};

struct WatchEvent {
  // Synced is not a server event: ResumableWatch sends it once after the objects that existed when it started.
  enum class Type { Added, Modified, Deleted, Bookmark, Error, Synced };
  Type type = Type::Added;
  nlohmann::json object;
};
const char* to_string(WatchEvent::Type t);
bool parse_watch_event_type(std::string_view s, WatchEvent::Type& out);

// One watch stream as the transport delivers it: it ends when the server or the connection ends it.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next event; false when the stream has ended (or stop() was called).
  virtual bool next(WatchEvent& out) = 0;
  // Ends the stream from another thread; next() returns false soon after.
  virtual void stop() = 0;
};
using WatchStreamPtr = std::unique_ptr<WatchStream>;

struct ClientOptions {
  std::string bearer_token;
  http::TlsClientOptions tls;  // for https:// endpoints
  std::string user_agent = "kctl";
  int timeout_seconds = 60;  // per request (not watches)
};

// The object operations of the Kubernetes API, whatever carries them. `kind` names the resource; `ns` is ignored
// for cluster-scoped kinds and means "all namespaces" when empty on list and watch.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual nlohmann::json get(const KindInfo& kind, const std::string& ns, const std::string& name,
                             const std::string& subresource = "") = 0;
  virtual ObjectList list(const KindInfo& kind, const std::string& ns, const ListOptions& opts) = 0;
  // POST to the collection; with `name` and `subresource`, POST to that subresource (pods/NAME/binding).
  virtual nlohmann::json create(const KindInfo& kind, const std::string& ns, const nlohmann::json& obj,
                                const std::string& name = "", const std::string& subresource = "") = 0;
  virtual nlohmann::json update(const KindInfo& kind, const std::string& ns, const std::string& name,
                                const nlohmann::json& obj, const std::string& subresource = "") = 0;
  virtual nlohmann::json patch(const KindInfo& kind, const std::string& ns, const std::string& name, PatchType type,
                               const std::string& patch, const std::string& subresource = "") = 0;
  // `options` is a metav1.DeleteOptions object (or null). Returns what the server answered (the object or a Status).
  virtual nlohmann::json remove(const KindInfo& kind, const std::string& ns, const std::string& name,
                                const nlohmann::json& options = nullptr) = 0;
  virtual WatchStreamPtr watch(const KindInfo& kind, const std::string& ns, const ListOptions& opts) = 0;
  // The server's /version document.
  virtual nlohmann::json version() = 0;
  virtual std::string endpoint() const = 0;
};
using TransportPtr = std::unique_ptr<Transport>;

// "http://host:port" or "https://host:port": HTTP; "dbus:" for the system bus, "dbus:ADDRESS" for another bus
// (e.g. dbus:unix:path=/run/kctl/bus). Throws std::invalid_argument for anything else.
TransportPtr make_transport(const std::string& endpoint, const ClientOptions& options = {});
TransportPtr make_http_transport(const std::string& base_url, const ClientOptions& options);
// Defined in api/dbus_transport.cc.
TransportPtr make_dbus_transport(const std::string& bus_address, const ClientOptions& options);

// One kind, optionally in one namespace: the per-kind ("typed") client.
class ResourceClient {
 public:
  ResourceClient(Transport& transport, const KindInfo& kind, std::string ns = "")
      : transport_(&transport), kind_(&kind), ns_(std::move(ns)) {}
  ResourceClient in(const std::string& ns) const { return ResourceClient(*transport_, *kind_, ns); }
  const KindInfo& kind() const { return *kind_; }
  const std::string& ns() const { return ns_; }

  nlohmann::json get(const std::string& name) const;
  ObjectList list(const ListOptions& opts = {}) const;
  nlohmann::json create(const nlohmann::json& obj) const;  // the namespace of obj, else this client's
  nlohmann::json update(const nlohmann::json& obj) const;
  nlohmann::json update_status(const nlohmann::json& obj) const;
  nlohmann::json patch(const std::string& name, PatchType type, const nlohmann::json& patch,
                       const std::string& subresource = "") const;
  nlohmann::json remove(const std::string& name, const nlohmann::json& options = nullptr) const;
  WatchStreamPtr watch(const ListOptions& opts = {}) const;
  nlohmann::json get_scale(const std::string& name) const;
  nlohmann::json update_scale(const std::string& name, int replicas) const;
  // pods only: POST pods/NAME/binding to `node`.
  void bind(const std::string& pod, const std::string& node, const std::string& pod_uid = "") const;

 private:
  std::string ns_of(const nlohmann::json& obj) const;
  Transport* transport_;
  const KindInfo* kind_;
  std::string ns_;
};

class Client {
 public:
  explicit Client(TransportPtr transport, const Registry& registry = Registry::builtin())
      : transport_(std::move(transport)), registry_(&registry) {}
  static Client connect(const std::string& endpoint, const ClientOptions& options = {}) {
    return Client(make_transport(endpoint, options));
  }
  // By plural, singular, short name or kind ("pods", "deploy", "Lease"); throws StatusError(404) when unknown.
  ResourceClient resource(std::string_view name, const std::string& ns = "") const;
  ResourceClient resource(const KindInfo& kind, const std::string& ns = "") const {
    return ResourceClient(*transport_, kind, ns);
  }
  Transport& transport() const { return *transport_; }
  const Registry& registry() const { return *registry_; }

 private:
  TransportPtr transport_;
  const Registry* registry_;
};

// The namespace/name key of an object as informers and work queues use it ("ns/name", or "name").
std::string object_key(const nlohmann::json& obj);

}  // namespace kctl::api
