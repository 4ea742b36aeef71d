// kctl-apiserver: the HTTP face of the object API. Routes Kubernetes URLs to ObjectService, negotiates JSON or
// Table, streams watches, and serves discovery, OpenAPI and /version.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/http.h"
#include "api/registry.h"
#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/service_account_token.h"
#include "daemons/apiserver/sqlite_store.h"
#include "daemons/common/http_server.h"

namespace kctl::apiserver {

struct ApiServerOptions {
  std::string data_dir = "/var/lib/kctl";
  std::string bind_address = "127.0.0.1";  // --insecure-bind-address
  int port = 8080;                         // --insecure-port; 0 picks a free port
  std::string advertise_address;           // the `kubernetes` Endpoints address; default: bind or host address
  std::string service_cluster_ip_range = "10.96.0.0/12";
  int node_port_min = 30000, node_port_max = 32767;
  SyncMode storage_sync = SyncMode::Full;
  int compaction_interval_seconds = 300;  // history older than one interval is compacted (kube-apiserver: 5m)
  size_t watch_history_events = 10000;
  size_t max_connections = 4096;
  // HTTPS on --secure-port (0: not served, as with kube-apiserver) with the serving certificate of --tls-cert-file
  // and --tls-private-key-file; without them, with the apiserver's own PKI under DATA_DIR/pki (made at the first
  // start, see cluster_pki.h), whose CA is then also the client CA unless --client-ca-file names one.
  std::string secure_bind_address = "0.0.0.0";  // --bind-address
  int secure_port = 6443;                        // --secure-port
  std::string tls_cert_file, tls_private_key_file, client_ca_file;
  // ServiceAccount tokens: signed with --service-account-signing-key-file's key, verified with
  // --service-account-key-file's keys (comma-separated files; default: the signing key's public half); without
  // either, DATA_DIR/pki/sa.key and sa.pub, made at the first start. --service-account-issuer (comma-separated: the
  // first signs, all are accepted) and --api-audiences (comma-separated; default: the issuers).
  std::string service_account_key_file, service_account_signing_key_file;
  std::string service_account_issuer = kDefaultServiceAccountIssuer;
  std::string api_audiences;
};

// What a URL under /api or /apis names.
struct RequestInfo {
  const api::KindInfo* kind = nullptr;
  std::string group, version;
  std::string ns;    // from /namespaces/NS/...; "" for cluster-scoped or all-namespaces
  std::string name;
  std::string subresource;
  bool legacy_watch = false;  // /api/v1/watch/...
};

class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options);
  ~ApiServer();

  // Opens the store, creates the bootstrap objects and starts serving. Throws std::runtime_error.
  void start();
  void stop();
  int port() const { return port_; }
  int secure_port() const { return secure_port_; }  // 0 when HTTPS is not served
  // Where the API is served ("http://127.0.0.1:8080", "https://0.0.0.0:6443") and where the state lives, for the
  // D-Bus properties.
  std::vector<std::string> listen_addresses() const;
  std::string storage_path() const;
  // With the apiserver's own PKI: DATA_DIR/admin.kubeconfig, and what start() made or re-issued under DATA_DIR/pki
  // (one sentence each, for the daemon to log). Empty otherwise.
  const std::string& admin_kubeconfig_path() const { return admin_kubeconfig_path_; }
  const std::vector<std::string>& pki_changes() const { return pki_changes_; }
  ObjectService& objects() { return *objects_; }
  // The authenticator of ServiceAccount bearer tokens (after start()).
  const ServiceAccountTokenAuthenticator& service_account_authenticator() const { return *token_authenticator_; }
  SqliteStore& store() { return *store_; }

  void handle(http::Request& req, ResponseWriter& w);

 private:
  void handle_resource(http::Request& req, ResponseWriter& w, const std::string& path);
  RequestInfo parse_resource_path(const std::string& path) const;  // throws StatusError(404)
  void serve_get(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_list(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_watch(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_create(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_update(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_patch(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_delete(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_delete_collection(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_discovery(http::Request& req, ResponseWriter& w, const std::string& path);
  // pods/log relayed from the kubelet of the pod's node (pod_proxy.cc).
  void serve_pod_log(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  std::string kubelet_url(const nlohmann::json& pod) const;
  // pods/exec and pods/portforward: the upgrade relayed to the kubelet and the connection spliced (pod_proxy.cc).
  void serve_pod_upgrade(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_openapi(http::Request& req, ResponseWriter& w, const std::string& path);
  void compaction_loop();
  // Makes or checks DATA_DIR/pki and points `tls` at it; writes admin.kubeconfig. Throws std::runtime_error.
  void use_cluster_pki(http::TlsServerOptions& tls);
  // Reads (or makes, in DATA_DIR/pki) the ServiceAccount keys and sets up the token issuer and authenticator.
  // Throws std::runtime_error.
  void use_service_account_keys();
  // POST /apis/authentication.k8s.io/v1/tokenreviews.
  void serve_token_review(http::Request& req, ResponseWriter& w);
  ObjectAttrs compute_attrs(const std::string& key, const nlohmann::json& obj) const;

  ApiServerOptions options_;
  const api::Registry& registry_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ServiceAllocator> allocator_;
  std::unique_ptr<ObjectService> objects_;
  ServiceAccountTokenIssuerPtr token_issuer_;
  ServiceAccountTokenAuthenticatorPtr token_authenticator_;
  std::unique_ptr<HttpServer> server_, secure_server_;
  int port_ = 0, secure_port_ = 0;
  std::string admin_kubeconfig_path_;
  std::vector<std::string> pki_changes_;
  std::thread compactor_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mutex_
};

// The /version document.
nlohmann::json version_info();
// Sends a Status error object.
void send_status(ResponseWriter& w, const api::Status& s);
// The request's body decoded as JSON or YAML per its Content-Type; throws StatusError(400/415).
nlohmann::json decode_body(const http::Request& req);
// The OpenAPI v2 document kubectl 1.27-1.31 fetch from /openapi/v2, built once from the schema and the registry:
// as gnostic's openapi.v2.Document protobuf, and as the equivalent swagger 2.0 JSON.
const std::string& openapi_v2_protobuf(const api::Registry& reg);
const std::string& openapi_v2_json(const api::Registry& reg);

}  // namespace kctl::apiserver
