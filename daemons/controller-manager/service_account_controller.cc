// ServiceAccountsController: namespaces (added, changed) and ServiceAccounts (deleted) say which namespace to look
// at; a sync creates what is missing there.
#include "daemons/controller-manager/service_account_controller.h"

namespace kctl::controllers {

using api::ObjectPtr;
using nlohmann::json;

ServiceAccountsController::ServiceAccountsController(ControllerContext& context)
    : Controller("serviceaccount", context),
      namespaces_(context.informer("namespaces")),
      service_accounts_(context.informer("serviceaccounts")) {
  auto ns_changed = [this](const ObjectPtr& ns) { enqueue(key_of(*ns)); };
  namespaces_.add_handler({ns_changed, [ns_changed](const ObjectPtr&, const ObjectPtr& ns) { ns_changed(ns); }, nullptr});
  service_accounts_.add_handler({nullptr, nullptr, [this](const ObjectPtr& sa) {
                                   enqueue(sa->value("/metadata/namespace"_json_pointer, std::string()));
                                 }});
}

void ServiceAccountsController::resync() {
  for (const auto& ns : namespaces_.list()) enqueue(key_of(*ns));
}

void ServiceAccountsController::sync(const std::string& ns) {
  ObjectPtr n = namespaces_.get(ns);
  // Only active namespaces: a terminating one refuses new objects anyway.
  if (!n || being_deleted(*n) || n->value("/status/phase"_json_pointer, std::string("Active")) != "Active") return;
  if (service_accounts_.get(ns + "/" + kDefaultServiceAccount)) return;
  try {
    context_.client("serviceaccounts", ns).create({{"metadata", {{"name", kDefaultServiceAccount}, {"namespace", ns}}}});
  } catch (const api::StatusError& e) {
    // 409: made meanwhile (the cache is behind); 403 with a namespace being deleted: nothing to do.
    if (e.status().code != 409 && e.status().code != 403) throw;
  }
}

}  // namespace kctl::controllers
