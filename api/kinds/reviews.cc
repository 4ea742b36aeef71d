// The review kinds (authorization.k8s.io/v1 access reviews, authentication.k8s.io/v1 SelfSubjectReview and
// TokenReview): a client creates one to ask a question and gets it back answered in its status; nothing is stored.
#include "api/registry.h"

namespace kctl::api::kinds {

namespace {
KindInfo review_kind(std::string group, std::string kind, std::string plural, bool namespaced) {
  KindInfo k = make_kind(std::move(group), "v1", std::move(kind), std::move(plural), {});
  k.namespaced = namespaced;
  k.verbs = {"create"};
  return k;
}
}  // namespace

KindInfo token_review_kind() { return review_kind("authentication.k8s.io", "TokenReview", "tokenreviews", false); }

std::vector<KindInfo> review_kinds() {
  return {
      review_kind("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", false),
      review_kind("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
      review_kind("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", false),
      review_kind("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", true),
      review_kind("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", false),
  };
}

}  // namespace kctl::api::kinds
