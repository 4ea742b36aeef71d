// What kube-apiserver's CertificateSigningRequest strategies do beyond validation: the requester recorded at create
// from the authenticated user (never from the body), and what each of the object, status and approval writes may
// change.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "daemons/apiserver/auth.h"

namespace kctl::apiserver {

// spec.username, uid, groups and extra from `user` (null: none, e.g. a D-Bus or local caller without one: left
// empty), and no status.
void prepare_csr_for_create(nlohmann::json& csr, const UserInfo* user);

// sub "": spec and status stay as they were (only metadata changes); "status": spec stays, and so do the Approved and
// Denied conditions (only the approval subresource sets them); "approval": spec and status.certificate stay, the
// conditions are the writer's.
void prepare_csr_for_update(const std::string& sub, nlohmann::json& csr, const nlohmann::json& old);

}  // namespace kctl::apiserver
