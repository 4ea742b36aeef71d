// The serviceaccount controller ("serviceaccount"), as kube's pkg/controller/serviceaccount: every active namespace
// has a ServiceAccount `default`, made again when it is deleted.
#pragma once

#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

// The ServiceAccounts every namespace gets (kube's DefaultServiceAccountsControllerOptions).
inline constexpr const char* kDefaultServiceAccount = "default";

class ServiceAccountsController : public Controller {
 public:
  explicit ServiceAccountsController(ControllerContext& context);
  void resync() override;

 protected:
  void sync(const std::string& ns) override;  // the key is the namespace's name

 private:
  api::Informer& namespaces_;
  api::Informer& service_accounts_;
};

}  // namespace kctl::controllers
