// The CertificateSigningRequest strategies of kube-apiserver (pkg/registry/certificates/certificates/strategy.go),
// applied by ObjectService on every write of the kind.
#include "daemons/apiserver/csr_strategy.h"

namespace kctl::apiserver {

using nlohmann::json;

namespace {

bool is_approval_condition(const json& c) {
  std::string type = c.is_object() ? c.value("type", "") : "";
  return type == "Approved" || type == "Denied";
}

void keep(json& obj, const json& old, const char* field) {
  if (old.contains(field))
    obj[field] = old[field];
  else
    obj.erase(field);
}

}  // namespace

void prepare_csr_for_create(json& csr, const UserInfo* user) {
  if (!csr.contains("spec") || !csr["spec"].is_object()) csr["spec"] = json::object();
  json& spec = csr["spec"];
  for (const char* f : {"username", "uid", "groups", "extra"}) spec.erase(f);
  if (user) {
    if (!user->name.empty()) spec["username"] = user->name;
    if (!user->uid.empty()) spec["uid"] = user->uid;
    if (!user->groups.empty()) spec["groups"] = user->groups;
    if (!user->extra.empty()) spec["extra"] = user->extra;
  }
  csr.erase("status");
}

void prepare_csr_for_update(const std::string& sub, json& csr, const json& old) {
  keep(csr, old, "spec");
  if (sub.empty()) {
    keep(csr, old, "status");
    return;
  }
  json old_status = old.value("status", json::object());
  if (!csr.contains("status") || !csr["status"].is_object()) csr["status"] = json::object();
  json& status = csr["status"];
  if (sub == "approval") {
    if (old_status.contains("certificate"))
      status["certificate"] = old_status["certificate"];
    else
      status.erase("certificate");
  } else if (sub == "status") {
    json conds = json::array();
    for (const auto& c : old_status.value("conditions", json::array()))
      if (is_approval_condition(c)) conds.push_back(c);
    for (const auto& c : status.value("conditions", json::array()))
      if (!is_approval_condition(c)) conds.push_back(c);
    if (conds.empty())
      status.erase("conditions");
    else
      status["conditions"] = conds;
  }
  if (status.empty()) csr.erase("status");
}

}  // namespace kctl::apiserver
