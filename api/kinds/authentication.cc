// authentication.k8s.io/v1: TokenReview, a create-only kind the apiserver answers without storing it (as
// kube-apiserver does). TokenRequest is not a kind of its own here: it is the serviceaccounts/token subresource.
#include "api/registry.h"

namespace kctl::api::kinds {

KindInfo token_review_kind() {
  KindInfo k = make_kind("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", {});
  k.namespaced = false;
  k.verbs = {"create"};
  return k;
}

}  // namespace kctl::api::kinds
