// kctl-apiserver: the HTTP face of the object API. Routes Kubernetes URLs to ObjectService, negotiates JSON or
// Table, streams watches, and serves discovery, OpenAPI and /version.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "api/http.h"
#include "api/http_client.h"
#include "api/registry.h"
#include "daemons/apiserver/access.h"
#include "daemons/apiserver/authn.h"
#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/rbac.h"
#include "daemons/apiserver/rbac_escalation.h"
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
  // Authentication of HTTPS requests (the plain HTTP port is the local superuser's: see docs/security.md).
  std::string token_auth_file;  // --token-auth-file
  std::string basic_auth_file;  // --basic-auth-file (legacy; off unless given)
  // Requests served at once (0: no bound), beyond which a request gets 429 with Retry-After; watches, logs, exec and
  // port-forward do not count. And the watches one user may hold open over HTTPS.
  int max_requests_inflight = 400;           // --max-requests-inflight
  int max_mutating_requests_inflight = 200;  // --max-mutating-requests-inflight
  int max_watches_per_user = 1000;           // --max-watches-per-user
  // A watch ends after a random time between this and twice this, or its timeoutSeconds (0: only timeoutSeconds).
  int min_request_timeout_seconds = 1800;  // --min-request-timeout
  // How kubelets are reached (HTTPS, for logs, exec, port-forward): the client certificate shown to them
  // (--kubelet-client-certificate/--kubelet-client-key; default with the apiserver's own PKI:
  // pki/apiserver-kubelet-client.crt/.key) and the CAs their serving certificates are checked against
  // (--kubelet-certificate-authority; unset: not checked, as kube-apiserver).
  std::string kubelet_client_certificate, kubelet_client_key, kubelet_certificate_authority;
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
  // What start() added to the default RBAC policy (one sentence each; empty when it was all there).
  const std::vector<std::string>& rbac_changes() const { return rbac_changes_; }
  ObjectService& objects() { return *objects_; }
  // The authenticator of ServiceAccount bearer tokens (after start()).
  const ServiceAccountTokenAuthenticator& service_account_authenticator() const { return *token_authenticator_; }
  SqliteStore& store() { return *store_; }

  void handle(http::Request& req, ResponseWriter& w);
  // The authorization chain (system:masters, then the authorizers added): what requests and access reviews ask.
  AuthorizerChain& authorizer() { return authorizer_; }
  // The rules a user has in a namespace ({"resourceRules": [...], "nonResourceRules": [...]}), for
  // SelfSubjectRulesReview; without one, reviews of users outside system:masters say they are incomplete.
  using RuleResolver = std::function<nlohmann::json(const UserInfo&, const std::string& ns)>;
  void set_rule_resolver(RuleResolver r) { rule_resolver_ = std::move(r); }
  Authenticator& authenticator() { return *authenticator_; }
  // The answer to an access review, SelfSubjectReview or TokenReview `body` of `kind` POSTed by `user` (to namespace
  // `ns` for a LocalSubjectAccessReview): the object with its status; never stored. Throws StatusError (400, 422).
  nlohmann::json review(const api::KindInfo& kind, const std::string& ns, const nlohmann::json& body,
                        const UserInfo& user) const;
  // Who callers of the plain HTTP port and root on D-Bus are: the node's superuser (system:unsecured in
  // system:masters), as kube-apiserver's insecure port was.
  static UserInfo local_superuser();

 private:
  // Who the request is from and whether it may do what it asks; throws StatusError (401, 403, 400) otherwise.
  RequestAttributes admit(const http::Request& req) const;
  void route(http::Request& req, ResponseWriter& w, const RequestAttributes& attrs);
  // POST of an access review or SelfSubjectReview (reviews.cc): answered, never stored.
  void serve_review(http::Request& req, ResponseWriter& w, const RequestInfo& ri, const UserInfo& user);
  // A SelfSubjectRulesReview's status: what `user` may do in `ns`.
  nlohmann::json rules_review(const UserInfo& user, const std::string& ns) const;
  void handle_resource(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
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
  http::ClientOptions kubelet_client_options(http::ClientOptions o = {}) const;  // `o` with kubelet_tls_
  void check_kubelet_client() const;  // throws std::runtime_error when kubelet_tls_ will not do
  // pods/exec and pods/portforward: the upgrade relayed to the kubelet and the connection spliced (pod_proxy.cc).
  void serve_pod_upgrade(http::Request& req, ResponseWriter& w, const RequestInfo& ri);
  void serve_openapi(http::Request& req, ResponseWriter& w, const std::string& path);
  void compaction_loop();
  // Makes or checks DATA_DIR/pki and points `tls` at it; writes admin.kubeconfig. Throws std::runtime_error.
  void use_cluster_pki(http::TlsServerOptions& tls);
  // Creates or corrects kube-public/cluster-info for the CA of the cluster PKI and `server` (signatures of the
  // bootstrap signer are dropped when the kubeconfig changes: they signed the old one).
  void publish_cluster_info(const std::string& server);
  // Reads (or makes, in DATA_DIR/pki) the ServiceAccount keys and sets up the token issuer and authenticator.
  // Throws std::runtime_error.
  void use_service_account_keys();
  ObjectAttrs compute_attrs(const std::string& key, const nlohmann::json& obj) const;

  ApiServerOptions options_;
  const api::Registry& registry_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ServiceAllocator> allocator_;
  std::unique_ptr<ObjectService> objects_;
  std::unique_ptr<Authenticator> authenticator_;
  AuthorizerChain authorizer_;
  std::shared_ptr<RbacAuthorizer> rbac_;
  std::unique_ptr<RbacEscalationCheck> rbac_escalation_;  // uses rbac_ and authorizer_
  std::vector<std::string> rbac_changes_;
  RuleResolver rule_resolver_;
  std::unique_ptr<InflightLimiter> limiter_;
  ServiceAccountTokenIssuerPtr token_issuer_;
  ServiceAccountTokenAuthenticatorPtr token_authenticator_;
  std::unique_ptr<HttpServer> server_, secure_server_;
  int port_ = 0, secure_port_ = 0;
  std::string admin_kubeconfig_path_;
  std::string cluster_ca_pem_;  // the cluster PKI's CA, when the apiserver serves HTTPS with it
  http::TlsClientOptions kubelet_tls_;  // how kubelets are reached, set by start() (pod_proxy.cc)
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
