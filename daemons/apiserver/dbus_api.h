// kctl-apiserver on D-Bus: the object API of ObjectService exported as org.kctl.ApiServer1 at
// /org/kctl/ApiServer1 (api/dbus/org.kctl.ApiServer1.xml), with watches delivered as signals to their owner.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/sqlite_store.h"

namespace kctl {
class DbusService;
}

namespace kctl::apiserver {

struct DbusApiOptions {
  std::string bus_address;  // a D-Bus address; "" for the system bus
  std::string storage_path;
  std::vector<std::string> listen_addresses;  // the HTTP endpoints, for people debugging with busctl
  nlohmann::json version;                     // the /version document
  // Answers a POST of a create-only kind (access reviews, TokenReview) of the given namespace; unset: 405.
  std::function<nlohmann::json(const api::KindInfo&, const std::string& ns, const nlohmann::json& body)> review;
};

class DbusApi {
 public:
  // Connects, exports the object, owns org.kctl.ApiServer1 and serves on a thread of its own. Throws
  // std::runtime_error (sdbus::Error) when the bus cannot be reached or the name cannot be owned. `failed` is
  // called (from the bus thread) if the bus goes away later.
  DbusApi(ObjectService& objects, SqliteStore& store, DbusApiOptions options,
          std::function<void(const std::string&)> failed = {});
  // Ends every watch, withdraws the object, releases the name and disconnects.
  ~DbusApi();
  DbusApi(const DbusApi&) = delete;
  DbusApi& operator=(const DbusApi&) = delete;

  std::string unique_name() const;

 private:
  class Object;
  std::unique_ptr<DbusService> service_;
  std::unique_ptr<Object> object_;
};

}  // namespace kctl::apiserver
