// ApiServer: start and stop, the per-record attributes (labels, selectable fields, Table cells), the compactor,
// and the top-level routing of every URL the apiserver serves.
#include "daemons/apiserver/apiserver.h"

#include <filesystem>

#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "api/codec.h"
#include "api/protobuf.h"
#include "daemons/apiserver/cluster_pki.h"
#include "daemons/apiserver/bootstrap_token.h"
#include "daemons/apiserver/node_authorizer.h"
#include "daemons/apiserver/rbac_bootstrap.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

// The Kubernetes version kctl implements: kubectl's skew warning and `kubectl version` read this.
constexpr const char* kKubernetesMajor = "1";
constexpr const char* kKubernetesMinor = "33";
constexpr const char* kGitVersion = "v1.33.0-kctl.0.1.0";

std::string host_address() {
  ifaddrs* ifs = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&ifs) != 0) return found;
  for (ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    found = buf;
    break;
  }
  freeifaddrs(ifs);
  return found;
}

std::string field_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "";
  return v.dump();
}

}  // namespace

json version_info() {
  return {{"major", kKubernetesMajor}, {"minor", kKubernetesMinor}, {"gitVersion", kGitVersion},
          {"gitCommit", "0000000000000000000000000000000000000000"}, {"gitTreeState", "clean"},
          {"buildDate", "2026-11-27T00:00:00Z"}, {"goVersion", "kctl (C++20)"}, {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

void send_status(ResponseWriter& w, const Status& s) {
  if (s.retry_after_seconds > 0) w.headers().emplace("Retry-After", std::to_string(s.retry_after_seconds));
  w.respond(s.code, "application/json", s.to_json().dump());
}

json decode_body(const http::Request& req) {
  std::string ct = http::header(req.headers, "Content-Type");
  std::string base = ct.substr(0, ct.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  if (req.body.empty()) throw StatusError(Status::bad_request("the request body is empty"));
  try {
    if (base.empty() || base == "application/json" || base == "*/*") return json::parse(req.body);
    if (base == "application/yaml" || base == "application/x-yaml" || base == "text/yaml") return api::decode_yaml(req.body);
    // kubectl's typed clients (create configmap/secret/deployment/...) send protobuf since 1.32.
    if (base == api::kProtobufContentType) return api::decode_kubernetes_protobuf(req.body, api::Schema::builtin());
  } catch (const json::exception& e) {
    throw StatusError(Status::bad_request(std::string("the body of the request was in an unknown format - accepted "
                                                      "media types include: application/json, application/yaml: ") +
                                          e.what()));
  }
  throw StatusError(Status::unsupported_media_type("the body of the request was in an unknown format - accepted "
                                                   "media types include: application/json, application/yaml, "
                                                   "application/vnd.kubernetes.protobuf"));
}

ApiServer::ApiServer(ApiServerOptions options) : options_(std::move(options)), registry_(api::Registry::builtin()) {}

ApiServer::~ApiServer() { stop(); }

std::vector<std::string> ApiServer::listen_addresses() const {
  auto url = [](const std::string& scheme, const std::string& address, int port) {
    std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
    return scheme + "://" + host + ":" + std::to_string(port);
  };
  std::vector<std::string> out = {url("http", options_.bind_address, port_)};
  if (secure_server_) out.push_back(url("https", options_.secure_bind_address, secure_port_));
  return out;
}

std::string ApiServer::storage_path() const {
  return (std::filesystem::path(options_.data_dir) / "state.db").string();
}

ObjectAttrs ApiServer::compute_attrs(const std::string& key, const json& obj) const {
  ObjectAttrs a;
  // key: /RESOURCE[.GROUP]/...
  std::string res = key.substr(1, key.find('/', 1) - 1);
  std::string group, plural = res;
  if (auto dot = res.find('.'); dot != std::string::npos) {
    plural = res.substr(0, dot);
    group = res.substr(dot + 1);
  }
  const api::KindInfo* kind = registry_.by_resource(group, plural);
  json m = obj.value("metadata", json::object());
  if (m.contains("labels") && m["labels"].is_object())
    for (auto it = m["labels"].begin(); it != m["labels"].end(); ++it) a.labels.emplace_back(it.key(), field_text(*it));
  a.fields.emplace_back("metadata.name", m.value("name", ""));
  a.fields.emplace_back("metadata.namespace", m.value("namespace", ""));
  if (!kind) return a;
  for (const auto& f : kind->selectable_fields) {
    if (f == "source") {  // events: source.component, as kube-apiserver's event field set does
      a.fields.emplace_back(f, obj.value("/source/component"_json_pointer, std::string()));
      continue;
    }
    std::string ptr = "/" + f;
    for (auto& c : ptr)
      if (c == '.') c = '/';
    a.fields.emplace_back(f, field_text(obj.value(json::json_pointer(ptr), json())));
  }
  try {
    a.cells = kind->table_cells(obj);
  } catch (const std::exception&) {
    a.cells.clear();  // a malformed stored object still lists; its row is just empty
  }
  json tm = m;
  tm.erase("managedFields");
  if (tm.contains("annotations") && tm["annotations"].is_object()) {
    tm["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
    if (tm["annotations"].empty()) tm.erase("annotations");
  }
  a.table_metadata = tm.dump();
  return a;
}

void ApiServer::start() {
  // The data directory holds the store (every Secret) and the cluster's keys: root's alone, as etcd keeps its data
  // directory 0700. An existing one (made by an older run, or by hand) is tightened too.
  std::filesystem::create_directories(options_.data_dir);
  std::filesystem::permissions(options_.data_dir, std::filesystem::perms::owner_all);
  SqliteStoreOptions so;
  so.path = storage_path();
  so.sync = options_.storage_sync;
  so.history_events = options_.watch_history_events;
  so.attrs = [this](const std::string& key, const json& obj) { return compute_attrs(key, obj); };
  store_ = std::make_unique<SqliteStore>(so);
  allocator_ = std::make_unique<ServiceAllocator>(options_.service_cluster_ip_range, options_.node_port_min,
                                                  options_.node_port_max);
  for (const auto& rec : store_->list("/services/", nullptr)) allocator_->mark_service(json::parse(rec->value));
  objects_ = std::make_unique<ObjectService>(*store_, registry_, *allocator_);
  try {
    authenticator_ = std::make_unique<Authenticator>(AuthnOptions{options_.token_auth_file, options_.basic_auth_file});
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
  authenticator_->add_token_source(bootstrap_token_source(*objects_));
  limiter_ = std::make_unique<InflightLimiter>(options_.max_requests_inflight, options_.max_mutating_requests_inflight,
                                               options_.max_watches_per_user);

  HttpServerOptions ho;
  ho.max_connections = options_.max_connections;
  server_ = std::make_unique<HttpServer>([this](http::Request& r, ResponseWriter& w) { handle(r, w); }, ho);
  port_ = server_->listen(options_.bind_address, options_.port);
  kubelet_tls_ = {.ca_file = options_.kubelet_certificate_authority,
                  .cert_file = options_.kubelet_client_certificate,
                  .key_file = options_.kubelet_client_key,
                  .insecure_skip_verify = options_.kubelet_certificate_authority.empty()};
  if (options_.secure_port != 0) {
    http::TlsServerOptions tls{options_.tls_cert_file, options_.tls_private_key_file, options_.client_ca_file};
    if (tls.cert_file.empty() && tls.key_file.empty()) use_cluster_pki(tls);
    try {
      ho.tls = http::TlsContext::for_server(tls);
    } catch (const http::TlsError& e) {
      throw std::runtime_error(std::string("cannot serve HTTPS: ") + e.what());
    }
    secure_server_ = std::make_unique<HttpServer>([this](http::Request& r, ResponseWriter& w) { handle(r, w); }, ho);
    secure_port_ = secure_server_->listen(options_.secure_bind_address, options_.secure_port);
  }
  check_kubelet_client();
  // The `kubernetes` Service leads to the secure port when there is one, as kube-apiserver's does.
  const std::string& bind = secure_server_ ? options_.secure_bind_address : options_.bind_address;
  std::string advertise = options_.advertise_address;
  if (advertise.empty())
    advertise = bind == "0.0.0.0" || bind == "::" || bind.empty() ? host_address() : bind;
  use_service_account_keys();
  authenticator_->add_token_source([this](const std::string& token) { return token_authenticator_->authenticate(token); });
  objects_->bootstrap(advertise, secure_server_ ? secure_port_ : port_);
  rbac_changes_ = ensure_bootstrap_rbac(*objects_);
  if (secure_server_ && !cluster_ca_pem_.empty())
    publish_cluster_info("https://" + (advertise.find(':') != std::string::npos ? "[" + advertise + "]" : advertise) +
                         ":" + std::to_string(secure_port_));
  rbac_ = std::make_shared<RbacAuthorizer>(*store_, registry_);
  authorizer_.add(std::make_shared<NodeAuthorizer>(*objects_));
  authorizer_.add(rbac_);
  rbac_escalation_ = std::make_unique<RbacEscalationCheck>(*rbac_, authorizer_, *store_);
  objects_->set_rbac_escalation_check(rbac_escalation_.get());
  set_rule_resolver([rbac = rbac_.get()](const UserInfo& user, const std::string& ns) {
    return rbac->rules_review_status(user, ns);
  });
  server_->start();
  if (secure_server_) secure_server_->start();
  compactor_ = std::thread([this] { compaction_loop(); });
}

void ApiServer::use_cluster_pki(http::TlsServerOptions& tls) {
  namespace fs = std::filesystem;
  pki::ClusterPkiFiles files((fs::path(options_.data_dir) / "pki").string());
  const std::string& bind = options_.secure_bind_address;
  bool any_address = bind.empty() || bind == "0.0.0.0" || bind == "::";
  // The addresses clients can reach HTTPS on: every one of the host's, or the one it is bound to.
  std::vector<std::string> node = {options_.advertise_address};
  if (any_address) {
    for (const auto& a : host_addresses()) node.push_back(a);
  } else {
    node.push_back(bind);
  }
  // The admin reaches the apiserver on this host: on 127.0.0.1 unless it serves on one other address only.
  std::string host = any_address ? "127.0.0.1" : bind;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  try {
    pki_changes_ = pki::ensure_cluster_pki(files, serving_alt_names(allocator_->first_ip(), node));
    std::string config = admin_kubeconfig(files, "https://" + host + ":" + std::to_string(options_.secure_port));
    std::string path = (fs::path(options_.data_dir) / "admin.kubeconfig").string();
    // Written again only when it would change (a new port, a re-issued certificate), and 0600: it holds a key.
    bool same = false;
    try {
      same = fs::exists(path) && pki::read_pem(path) == config;
    } catch (const pki::PkiError&) {
    }
    if (!same) {
      pki::write_file(path, config, 0600);
      pki_changes_.push_back("wrote the admin kubeconfig " + path);
    }
    admin_kubeconfig_path_ = path;
  } catch (const pki::PkiError& e) {
    throw std::runtime_error(std::string("cannot set up the cluster PKI in ") + files.dir + ": " + e.what());
  }
  if (kubelet_tls_.cert_file.empty() && kubelet_tls_.key_file.empty()) {
    kubelet_tls_.cert_file = files.kubelet_client_cert;
    kubelet_tls_.key_file = files.kubelet_client_key;
  }
  tls.cert_file = files.serving_cert;
  tls.key_file = files.serving_key;
  try {
    cluster_ca_pem_ = pki::read_pem(files.ca_cert);
  } catch (const pki::PkiError& e) {
    throw std::runtime_error(e.what());
  }
  if (tls.client_ca_file.empty()) tls.client_ca_file = files.ca_cert;
}

void ApiServer::publish_cluster_info(const std::string& server) {
  const api::KindInfo& kind = *registry_.by_kind("", "ConfigMap");
  std::string kubeconfig = cluster_info_kubeconfig(cluster_ca_pem_, server);
  RecordPtr current;
  try {
    current = objects_->get(kind, kClusterInfoNamespace, kClusterInfoName);
  } catch (const StatusError& e) {
    if (e.status().code != 404) throw;
  }
  if (!current) {
    objects_->create(kind, kClusterInfoNamespace,
                     {{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", {{"name", kClusterInfoName}, {"namespace", kClusterInfoNamespace}}},
                      {"data", {{"kubeconfig", kubeconfig}}}},
                     WriteOptions{});
    return;
  }
  json cm = json::parse(current->value);
  if (cm.value("/data/kubeconfig"_json_pointer, std::string()) == kubeconfig) return;
  json data = {{"kubeconfig", kubeconfig}};
  json old = cm.value("data", json::object());
  for (auto& [k, v] : old.items())
    if (k != "kubeconfig" && k.rfind("jws-kubeconfig-", 0) != 0) data[k] = v;
  cm["data"] = data;
  objects_->update(kind, kClusterInfoNamespace, kClusterInfoName, "", cm, WriteOptions{});
}

void ApiServer::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (compactor_.joinable()) compactor_.join();
  if (secure_server_) secure_server_->stop();
  if (server_) server_->stop();
  secure_server_.reset();
  server_.reset();
  rule_resolver_ = nullptr;
  if (objects_) objects_->set_rbac_escalation_check(nullptr);
  rbac_escalation_.reset();
  authorizer_ = AuthorizerChain();
  rbac_.reset();
  objects_.reset();
  store_.reset();
}

void ApiServer::compaction_loop() {
  // Every interval, compact up to the revision seen one interval ago: at least one interval of history stays
  // available to watchers that resume.
  int64_t previous = 0;
  std::unique_lock lock(stop_mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::seconds(options_.compaction_interval_seconds), [&] { return stopping_; })) {
    lock.unlock();
    try {
      if (previous > 0) store_->compact(previous);
      previous = store_->current_revision();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kctl-apiserver: compaction failed: %s\n", e.what());
    }
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------------------------------------

UserInfo ApiServer::local_superuser() { return {"system:unsecured", "", {kSystemMasters, kSystemAuthenticated}, {}}; }

RequestAttributes ApiServer::admit(const http::Request& req) const {
  RequestAttributes a = request_attributes(req);
  if (!req.tls) {
    // The plain HTTP port listens on 127.0.0.1 for the node's own tools: its callers are the local superuser, as
    // kube-apiserver's insecure port was (user system:unsecured in system:masters).
    a.user = local_superuser();
    return a;
  }
  auto user = authenticator_->authenticate(req);  // throws 401 for bad credentials
  if (!user) {
    if (!anonymous_may_ask(a)) throw StatusError(Status::unauthorized("Unauthorized"));
    a.user = {kAnonymousUser, "", {kSystemUnauthenticated}, {}};
  } else {
    a.user = impersonate(req, *user, authorizer_);
  }
  if (is_public_path(req.path)) return a;
  Decision d = authorizer_.authorize(a);
  if (!d.allowed()) {
    Status s = a.resource_request ? Status::forbidden(a.resource, a.name, "", a.api_group)
                                  : Status::forbidden("", "", "");
    s.message = forbidden_message(a);
    if (!d.reason.empty()) s.message += ": " + d.reason;
    throw StatusError(s);
  }
  return a;
}

void ApiServer::handle(http::Request& req, ResponseWriter& w) {
  try {
    RequestAttributes attrs = admit(req);
    auto ticket = limiter_->admit(attrs);
    if (!ticket) {
      if (!req.tls && attrs.verb == "watch") ticket.emplace();  // local watches are not counted per user
      else return send_status(w, Status::too_many_requests("Too many requests, please try again later.", 1));
    }
    RequestUserScope as(attrs.user);
    route(req, w, attrs);
  } catch (const StatusError& e) {
    if (!w.responded()) send_status(w, e.status());
  } catch (const StoreError& e) {
    if (!w.responded()) send_status(w, Status::service_unavailable(e.what()));
  } catch (const std::exception& e) {
    if (!w.responded()) send_status(w, Status::internal(e.what()));
  }
}

void ApiServer::route(http::Request& req, ResponseWriter& w, const RequestAttributes& attrs) {
  const std::string& path = req.path;
  if (path == "/version" || path == "/version/") {
    if (req.method != "GET") return send_status(w, Status::method_not_allowed("the server does not allow this method on the requested resource"));
    return w.respond(200, "application/json", version_info().dump());
  }
  if (is_public_path(path)) return w.respond(200, "text/plain; charset=utf-8", "ok");  // the health checks
  if (path.rfind("/openapi/", 0) == 0) return serve_openapi(req, w, path);
  bool under_api = path == "/api" || path == "/api/" || path.rfind("/api/", 0) == 0;
  bool under_apis = path == "/apis" || path == "/apis/" || path.rfind("/apis/", 0) == 0;
  if (!under_api && !under_apis) return send_status(w, Status::not_found("", ""));
  // Discovery: /api, /api/v1, /apis, /apis/G, /apis/G/V
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  size_t depth = std::count(trimmed.begin(), trimmed.end(), '/');
  if ((under_api && depth <= 2) || (under_apis && depth <= 3)) return serve_discovery(req, w, trimmed);
  RequestInfo ri = parse_resource_path(trimmed);
  if (ri.kind->verbs == std::vector<std::string>{"create"}) return serve_review(req, w, ri, attrs.user);
  return handle_resource(req, w, ri);
}

RequestInfo ApiServer::parse_resource_path(const std::string& path) const {
  std::vector<std::string> seg;
  for (size_t p = 1; p <= path.size();) {
    size_t e = path.find('/', p);
    if (e == std::string::npos) e = path.size();
    seg.push_back(path.substr(p, e - p));
    p = e + 1;
  }
  RequestInfo ri;
  size_t i;
  if (seg[0] == "api") {
    ri.version = seg[1];
    i = 2;
  } else {
    ri.group = seg[1];
    ri.version = seg[2];
    i = 3;
  }
  auto not_found = [&] { return StatusError(Status::not_found("", "")); };
  if (i < seg.size() && seg[i] == "watch") {
    ri.legacy_watch = true;
    ++i;
  }
  if (i >= seg.size()) throw not_found();
  // /namespaces/NS/RESOURCE/... unless it names the namespace itself (/namespaces/NS[/status|/finalize]).
  if (seg[i] == "namespaces" && i + 2 < seg.size() &&
      (!ri.group.empty() || (seg[i + 2] != "status" && seg[i + 2] != "finalize"))) {
    ri.ns = seg[i + 1];
    i += 2;
  }
  const api::KindInfo* kind = registry_.by_resource(ri.group, seg[i]);
  if (!kind || kind->version != ri.version) throw not_found();
  ri.kind = kind;
  ++i;
  if (i < seg.size()) ri.name = seg[i++];
  if (i < seg.size()) ri.subresource = seg[i++];
  if (i < seg.size()) throw not_found();
  if (!kind->namespaced && !ri.ns.empty()) throw not_found();
  if (!ri.subresource.empty() && !kind->has_subresource(ri.subresource)) throw not_found();
  if (ri.name.empty() && ri.ns.empty() && kind->namespaced) {
    // all namespaces: list, watch only (checked by the verb handlers)
  }
  return ri;
}

}  // namespace kctl::apiserver
