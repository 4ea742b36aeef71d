// The gate every request passes before it is served: what it asks (request attributes, as kube-apiserver's
// RequestInfoFactory reads a URL), impersonation, the authorization chain, and the in-flight limits.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http.h"
#include "daemons/apiserver/auth.h"

namespace kctl::apiserver {

// What the method and URL ask for (the user is left empty). Resource requests: /api/v1/... and /apis/G/V/...
// beyond discovery; everything else is a non-resource request on its path.
RequestAttributes request_attributes(const http::Request& req);

// The user the request being served on this thread acts as (set by the apiserver for the length of each request,
// null outside one): for the writes that record who made them (a CertificateSigningRequest's spec.username) and for
// admission that depends on the caller.
const UserInfo* request_user();
class RequestUserScope {
 public:
  explicit RequestUserScope(const UserInfo& user);
  ~RequestUserScope();
  RequestUserScope(const RequestUserScope&) = delete;
  RequestUserScope& operator=(const RequestUserScope&) = delete;

 private:
  const UserInfo* previous_;
};

// Paths anyone may GET without credentials (kube-apiserver's system:public-info-viewer).
bool is_public_path(const std::string& path);
// Whether a request without credentials is let through as system:anonymous (then authorized as any other): the
// public paths, and reading the ConfigMap kube-public/cluster-info that joining nodes fetch before they have
// anything to authenticate with (kubeadm's discovery). Everything else without credentials is 401.
bool anonymous_may_ask(const RequestAttributes& a);
inline constexpr const char* kClusterInfoNamespace = "kube-public";
inline constexpr const char* kClusterInfoName = "cluster-info";

// Requests that may last as long as the client wants (watches, logs, exec, attach, port-forward, proxy): they do not
// count against the in-flight limits, as in kube-apiserver.
bool is_long_running(const RequestAttributes& a);
bool is_mutating(const RequestAttributes& a);

// Asks its authorizers in order; the first that allows or denies decides. Members of system:masters are allowed
// everything before any authorizer is asked (kube-apiserver's privileged group).
class AuthorizerChain : public Authorizer {
 public:
  void add(std::shared_ptr<const Authorizer> a) { chain_.push_back(std::move(a)); }
  Decision authorize(const RequestAttributes& a) const override;

 private:
  std::vector<std::shared_ptr<const Authorizer>> chain_;
};

// Applies the Impersonate-User / -Group / -Uid / -Extra-* headers: each impersonated attribute must be allowed to
// the requester (verb "impersonate" on users, groups, serviceaccounts, uids, userextras/KEY). Returns the user the
// request then acts as; throws api::StatusError (403 naming what may not be impersonated, 400 for groups or extras
// without a user).
UserInfo impersonate(const http::Request& req, const UserInfo& requester, const Authorizer& authz);

// Bounds the requests served at once, read-only and mutating apart (--max-requests-inflight,
// --max-mutating-requests-inflight; 0 = no bound), and the watches one client holds open (--max-watches-per-user).
class InflightLimiter {
 public:
  InflightLimiter(int max_readonly, int max_mutating, int max_watches_per_user)
      : max_readonly_(max_readonly), max_mutating_(max_mutating), max_watches_(max_watches_per_user) {}

  // Holds one slot while alive.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(std::atomic<int>* counter) : counter_(counter) {}
    Ticket(InflightLimiter* owner, std::string user) : owner_(owner), user_(std::move(user)) {}
    Ticket(Ticket&& o) noexcept { *this = std::move(o); }
    Ticket& operator=(Ticket&& o) noexcept;
    ~Ticket() { release(); }

   private:
    void release();
    std::atomic<int>* counter_ = nullptr;
    InflightLimiter* owner_ = nullptr;
    std::string user_;
  };

  // A slot for the request, or nullopt when its kind is at the bound (answer 429).
  std::optional<Ticket> admit(const RequestAttributes& a);
  int readonly_in_flight() const { return readonly_; }
  int mutating_in_flight() const { return mutating_; }

 private:
  const int max_readonly_, max_mutating_, max_watches_;
  std::atomic<int> readonly_{0}, mutating_{0};
  std::mutex mutex_;
  std::map<std::string, int> watches_;  // per user, guarded by mutex_
};

}  // namespace kctl::apiserver
