// The reviews: a client POSTs a question and gets the object back with the answer in its status, as kube-apiserver's
// authorization.k8s.io (SelfSubjectAccessReview for `kubectl auth can-i`, SubjectAccessReview,
// LocalSubjectAccessReview, SelfSubjectRulesReview for `kubectl auth can-i --list`) and authentication.k8s.io
// (SelfSubjectReview for `kubectl auth whoami`, TokenReview). Nothing is stored.
#include <ctime>

#include "daemons/apiserver/apiserver.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusCause;
using api::StatusError;
using nlohmann::json;

namespace {

std::string text(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// spec.resourceAttributes or spec.nonResourceAttributes as the attributes the authorizers read. Exactly one must be
// given (422 otherwise, as kube-apiserver's validation says).
RequestAttributes attributes_of(const std::string& kind, const json& spec) {
  bool resource = spec.contains("resourceAttributes") && spec["resourceAttributes"].is_object();
  bool non_resource = spec.contains("nonResourceAttributes") && spec["nonResourceAttributes"].is_object();
  if (resource == non_resource)
    throw StatusError(Status::invalid(kind, "", {{"FieldValueRequired",
                                                  resource ? "resourceAttributes and nonResourceAttributes cannot both be specified"
                                                           : "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                                                  "spec.resourceAttributes"}},
                                      "authorization.k8s.io"));
  RequestAttributes a;
  if (resource) {
    const json& r = spec["resourceAttributes"];
    a.resource_request = true;
    a.verb = text(r, "verb");
    a.api_group = text(r, "group");
    a.api_version = text(r, "version");
    a.resource = text(r, "resource");
    a.subresource = text(r, "subresource");
    a.ns = text(r, "namespace");
    a.name = text(r, "name");
  } else {
    const json& r = spec["nonResourceAttributes"];
    a.path = text(r, "path");
    a.verb = text(r, "verb");
  }
  return a;
}

json access_status(const Decision& d) {
  json st = {{"allowed", d.allowed()}};
  if (d.kind == Decision::Kind::Deny) st["denied"] = true;
  if (!d.reason.empty()) st["reason"] = d.reason;
  return st;
}

}  // namespace

json ApiServer::rules_review(const UserInfo& user, const std::string& ns) const {
  json st = {{"resourceRules", json::array()}, {"nonResourceRules", json::array()}, {"incomplete", false}};
  if (user.in_group(kSystemMasters)) {
    st["resourceRules"].push_back({{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}});
    st["nonResourceRules"].push_back({{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}});
  }
  if (rule_resolver_) {
    json more = rule_resolver_(user, ns);
    for (const char* k : {"resourceRules", "nonResourceRules"})
      for (auto& r : more.value(k, json::array())) st[k].push_back(std::move(r));
  } else if (!user.in_group(kSystemMasters)) {
    st["incomplete"] = true;
    st["evaluationError"] = "no authorizer can list the rules of this user";
  }
  return st;
}

void ApiServer::serve_review(http::Request& req, ResponseWriter& w, const RequestInfo& ri, const UserInfo& user) {
  if (req.method != "POST" || !ri.name.empty() || !ri.subresource.empty())
    throw StatusError(Status::method_not_allowed("the server does not allow this method on the requested resource"));
  w.respond(201, "application/json", review(*ri.kind, ri.ns, decode_body(req), user).dump());
}

json ApiServer::review(const api::KindInfo& kind, const std::string& request_ns, const json& body,
                       const UserInfo& user) const {
  if (!body.is_object()) throw StatusError(Status::bad_request("the request body is not an object"));
  if (body.contains("kind") && body["kind"] != kind.kind)
    throw StatusError(Status::bad_request("the body is a " + text(body, "kind") + ", not a " + kind.kind));
  if (kind.kind == "TokenReview")  // may this token call the API (a webhook or an aggregated server asks)
    return review_token(*token_authenticator_, body, std::time(nullptr));
  json spec = body.value("spec", json::object());
  json out = {{"kind", kind.kind}, {"apiVersion", kind.api_version()}, {"metadata", {{"creationTimestamp", nullptr}}}};
  if (kind.kind != "SelfSubjectReview") out["spec"] = spec;

  if (kind.kind == "SelfSubjectReview") {
    out["status"] = {{"userInfo", user.to_json()}};
  } else if (kind.kind == "SelfSubjectAccessReview") {
    RequestAttributes a = attributes_of(kind.kind, spec);
    a.user = user;
    out["status"] = access_status(authorizer_.authorize(a));
  } else if (kind.kind == "SubjectAccessReview" || kind.kind == "LocalSubjectAccessReview") {
    RequestAttributes a = attributes_of(kind.kind, spec);
    a.user.name = text(spec, "user");
    a.user.uid = text(spec, "uid");
    for (const auto& g : spec.value("groups", json::array()))
      if (g.is_string()) a.user.groups.push_back(g.get<std::string>());
    if (spec.contains("extra") && spec["extra"].is_object())
      for (auto it = spec["extra"].begin(); it != spec["extra"].end(); ++it)
        for (const auto& v : *it)
          if (v.is_string()) a.user.extra[it.key()].push_back(v.get<std::string>());
    if (a.user.name.empty() && a.user.groups.empty())
      throw StatusError(Status::invalid(kind.kind, "",
                                        {{"FieldValueInvalid", "at least one of user or group must be specified",
                                          "spec.user"}},
                                        "authorization.k8s.io"));
    if (kind.kind == "LocalSubjectAccessReview") {
      if (!a.resource_request)
        throw StatusError(Status::invalid(kind.kind, "",
                                          {{"FieldValueInvalid", "disallowed on this kind of request",
                                            "spec.nonResourceAttributes"}},
                                          "authorization.k8s.io"));
      if (a.ns != request_ns)
        throw StatusError(Status::invalid(kind.kind, "",
                                          {{"FieldValueInvalid", "must match metadata.namespace",
                                            "spec.resourceAttributes.namespace"}},
                                          "authorization.k8s.io"));
      out["metadata"]["namespace"] = request_ns;
    }
    out["status"] = access_status(authorizer_.authorize(a));
  } else if (kind.kind == "SelfSubjectRulesReview") {
    std::string ns = text(spec, "namespace");
    if (ns.empty())
      throw StatusError(Status::invalid(kind.kind, "", {{"FieldValueRequired", "Required value", "spec.namespace"}},
                                        "authorization.k8s.io"));
    out["status"] = rules_review(user, ns);
  } else {
    throw StatusError(Status::not_found("", ""));
  }
  return out;
}

}  // namespace kctl::apiserver
