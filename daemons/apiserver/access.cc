// Request attributes from URLs, impersonation, the authorization chain and the in-flight limits.
#include "daemons/apiserver/access.h"

#include <algorithm>

#include "api/status.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  for (size_t p = 0; p < path.size();) {
    size_t e = path.find('/', p);
    if (e == std::string::npos) e = path.size();
    if (e > p) out.push_back(path.substr(p, e - p));
    p = e + 1;
  }
  return out;
}

// metadata.name=X in a field selector: a list or watch of one object is authorized as that object's.
std::string name_from_field_selector(const std::string& selector) {
  for (size_t p = 0; p <= selector.size();) {
    size_t e = selector.find(',', p);
    if (e == std::string::npos) e = selector.size();
    std::string term = selector.substr(p, e - p);
    for (const char* prefix : {"metadata.name==", "metadata.name="})
      if (term.rfind(prefix, 0) == 0) return term.substr(std::string(prefix).size());
    p = e + 1;
  }
  return "";
}

}  // namespace

RequestAttributes request_attributes(const http::Request& req) {
  RequestAttributes a;
  a.path = req.path;
  a.verb = lower(req.method);
  auto seg = segments(req.path);
  size_t i;
  if (seg.size() >= 3 && seg[0] == "api") {
    a.api_version = seg[1];
    i = 2;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    a.api_group = seg[1];
    a.api_version = seg[2];
    i = 3;
  } else {
    return a;  // discovery, /version, /healthz, /openapi/...: non-resource
  }
  a.resource_request = true;
  const std::string& m = req.method;
  if (m == "POST") a.verb = "create";
  else if (m == "GET" || m == "HEAD") a.verb = "get";
  else if (m == "PUT") a.verb = "update";
  else if (m == "PATCH") a.verb = "patch";
  else if (m == "DELETE") a.verb = "delete";
  bool legacy_watch = false;
  if (seg[i] == "watch") {  // /api/v1/watch/...: deprecated, still served
    legacy_watch = true;
    a.verb = "watch";
    ++i;
  }
  std::vector<std::string> parts(seg.begin() + long(i), seg.end());
  if (!parts.empty() && parts[0] == "namespaces") {
    if (parts.size() > 1) {
      a.ns = parts[1];
      // /namespaces/NS/RESOURCE/...; but /namespaces/NS[/status|/finalize] is the namespace itself.
      if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") parts.erase(parts.begin(), parts.begin() + 2);
    }
  }
  if (!parts.empty()) a.resource = parts[0];
  if (parts.size() > 1) a.name = parts[1];
  if (parts.size() > 2) a.subresource = parts[2];
  if (a.name.empty() && a.verb == "get") {
    a.verb = legacy_watch || http::parse_bool(req.param("watch")).value_or(false) ? "watch" : "list";
    a.name = name_from_field_selector(req.param("fieldSelector"));
  }
  if (a.name.empty() && a.verb == "delete") a.verb = "deletecollection";
  return a;
}

namespace {
thread_local const UserInfo* current_user = nullptr;
}  // namespace

const UserInfo* request_user() { return current_user; }
RequestUserScope::RequestUserScope(const UserInfo& user) : previous_(current_user) { current_user = &user; }
RequestUserScope::~RequestUserScope() { current_user = previous_; }

bool is_public_path(const std::string& path) {
  for (const char* p : {"/healthz", "/livez", "/readyz"})
    if (path == p || path.rfind(std::string(p) + "/", 0) == 0) return true;
  return path == "/version" || path == "/version/";
}

bool anonymous_may_ask(const RequestAttributes& a) {
  if (!a.resource_request) return is_public_path(a.path);
  return a.verb == "get" && a.api_group.empty() && a.resource == "configmaps" && a.subresource.empty() &&
         a.ns == kClusterInfoNamespace && a.name == kClusterInfoName;
}

bool is_long_running(const RequestAttributes& a) {
  if (!a.resource_request) return false;
  if (a.verb == "watch") return true;
  static const char* const kStreams[] = {"proxy", "attach", "log", "exec", "portforward"};
  return std::any_of(std::begin(kStreams), std::end(kStreams), [&](const char* s) { return a.subresource == s; });
}

bool is_mutating(const RequestAttributes& a) {
  if (!a.resource_request) return a.verb != "get" && a.verb != "head" && a.verb != "options";
  return a.verb != "get" && a.verb != "list" && a.verb != "watch";
}

Decision AuthorizerChain::authorize(const RequestAttributes& a) const {
  if (a.user.in_group(kSystemMasters)) return Decision::allow("member of system:masters");
  std::string reasons;  // why nobody allowed it, when an authorizer says (a binding to a missing role)
  for (const auto& z : chain_) {
    Decision d = z->authorize(a);
    if (d.kind != Decision::Kind::NoOpinion) return d;
    if (!d.reason.empty()) reasons += (reasons.empty() ? "" : "; ") + d.reason;
  }
  return Decision::no_opinion(reasons);
}

UserInfo impersonate(const http::Request& req, const UserInfo& requester, const Authorizer& authz) {
  std::string user = http::header(req.headers, "Impersonate-User");
  std::string uid = http::header(req.headers, "Impersonate-Uid");
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
  for (const auto& [k, v] : req.headers) {
    if (http::iequals(k, "Impersonate-Group")) groups.push_back(v);
    static const std::string kExtra = "impersonate-extra-";
    if (k.size() > kExtra.size() && http::iequals(k.substr(0, kExtra.size()), kExtra))
      extra[lower(http::url_decode(k.substr(kExtra.size()), false))].push_back(v);
  }
  if (user.empty()) {
    if (!groups.empty() || !uid.empty() || !extra.empty())
      throw StatusError(Status::bad_request("requested impersonation of groups, uid or extra without impersonating a user"));
    return requester;
  }
  auto check = [&](RequestAttributes a) {
    a.user = requester;
    a.verb = "impersonate";
    a.resource_request = true;
    Decision d = authz.authorize(a);
    if (!d.allowed()) {
      Status s = Status::forbidden(a.resource, a.name, "");
      s.message = forbidden_message(a);
      throw StatusError(s);
    }
  };
  static const std::string kServiceAccount = "system:serviceaccount:";
  UserInfo out;
  out.name = user;
  out.uid = uid;
  if (user.rfind(kServiceAccount, 0) == 0 && user.find(':', kServiceAccount.size()) != std::string::npos) {
    std::string rest = user.substr(kServiceAccount.size());
    RequestAttributes a;
    a.resource = "serviceaccounts";
    a.ns = rest.substr(0, rest.find(':'));
    a.name = rest.substr(rest.find(':') + 1);
    check(a);
    out.groups = {"system:serviceaccounts", "system:serviceaccounts:" + a.ns};
  } else {
    RequestAttributes a;
    a.resource = "users";
    a.name = user;
    check(a);
  }
  for (const auto& g : groups) {
    RequestAttributes a;
    a.resource = "groups";
    a.name = g;
    check(a);
    if (!out.in_group(g)) out.groups.push_back(g);
  }
  if (!uid.empty()) {
    RequestAttributes a;
    a.api_group = "authentication.k8s.io";
    a.resource = "uids";
    a.name = uid;
    check(a);
  }
  for (const auto& [key, values] : extra)
    for (const auto& v : values) {
      RequestAttributes a;
      a.api_group = "authentication.k8s.io";
      a.resource = "userextras";
      a.subresource = key;
      a.name = v;
      check(a);
    }
  out.extra = extra;
  if (user == kAnonymousUser) {
    if (!out.in_group(kSystemUnauthenticated)) out.groups.push_back(kSystemUnauthenticated);
  } else if (!out.in_group(kSystemAuthenticated)) {
    out.groups.push_back(kSystemAuthenticated);
  }
  return out;
}

InflightLimiter::Ticket& InflightLimiter::Ticket::operator=(Ticket&& o) noexcept {
  if (this != &o) {
    release();
    counter_ = std::exchange(o.counter_, nullptr);
    owner_ = std::exchange(o.owner_, nullptr);
    user_ = std::move(o.user_);
  }
  return *this;
}

void InflightLimiter::Ticket::release() {
  if (counter_) --*counter_;
  if (owner_) {
    std::lock_guard lock(owner_->mutex_);
    if (--owner_->watches_[user_] <= 0) owner_->watches_.erase(user_);
  }
  counter_ = nullptr;
  owner_ = nullptr;
}

std::optional<InflightLimiter::Ticket> InflightLimiter::admit(const RequestAttributes& a) {
  if (is_long_running(a)) {
    if (a.verb != "watch" || max_watches_ <= 0) return Ticket();
    std::lock_guard lock(mutex_);
    int& n = watches_[a.user.name];
    if (n >= max_watches_) {
      if (n == 0) watches_.erase(a.user.name);
      return std::nullopt;
    }
    ++n;
    return Ticket(this, a.user.name);
  }
  bool mutating = is_mutating(a);
  std::atomic<int>& counter = mutating ? mutating_ : readonly_;
  int max = mutating ? max_mutating_ : max_readonly_;
  if (max <= 0) return Ticket();
  if (++counter > max) {
    --counter;
    return std::nullopt;
  }
  return Ticket(&counter);
}

}  // namespace kctl::apiserver
