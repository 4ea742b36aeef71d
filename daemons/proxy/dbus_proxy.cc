// The org.kctl.Proxy1 object: the proxy's counters as properties, and Sync() answered from a worker thread once the
// full sync it asked for is committed (the bus thread keeps serving meanwhile).
#include "daemons/proxy/dbus_proxy.h"

#include "daemons/common/dbus_service.h"
#include "daemons/proxy/proxy.h"
#include "dbus/org.kctl.Proxy1_adaptor.h"

namespace kctl::proxy {

namespace {
constexpr const char* kName = "org.kctl.Proxy1";
constexpr const char* kPath = "/org/kctl/Proxy1";
// A full sync of 10,000 Services takes about a second; one that has not finished after this is reported as failed.
constexpr auto kSyncTimeout = std::chrono::seconds(60);
// Sync() calls waiting at once: they all wait for the next full sync, so a few are plenty.
constexpr size_t kMaxQueuedSyncs = 8;
}  // namespace

class DbusProxy::Object final : public DbusObject<org::kctl::Proxy1_adaptor> {
 public:
  Object(DbusService& service, Proxy& proxy, MethodCallQueue& calls)
      : DbusObject(service, kPath), proxy_(proxy), calls_(calls) {
    publish();
  }
  ~Object() { withdraw(); }

 private:
  void Sync(sdbus::Result<>&& result) override {
    auto shared = std::make_shared<sdbus::Result<>>(std::move(result));
    bool queued = calls_.push([&proxy = proxy_, shared] {
      std::string error;
      if (proxy.sync_now(kSyncTimeout, &error)) shared->returnResults();
      else shared->returnError(sdbus::Error(std::string(kName) + ".Error.Failed", error));
    });
    if (!queued)
      shared->returnError(sdbus::Error(std::string(kName) + ".Error.TooManyRequests", "too many Sync calls waiting"));
  }
  uint32_t Services() override { return uint32_t(proxy_.stats().services); }
  uint32_t Endpoints() override { return uint32_t(proxy_.stats().endpoints); }
  uint64_t LastSyncMicroseconds() override { return proxy_.stats().last_sync_us; }
  uint64_t SyncCount() override { return proxy_.stats().sync_count; }
  std::string Table() override { return std::string("ip ") + kTable; }

  Proxy& proxy_;
  MethodCallQueue& calls_;
};

DbusProxy::DbusProxy(Proxy& proxy, const std::string& bus_address, std::function<void(const std::string&)> failed)
    : calls_(std::make_unique<MethodCallQueue>(1, kMaxQueuedSyncs)),
      service_(std::make_unique<DbusService>(bus_address)) {
  object_ = std::make_unique<Object>(*service_, proxy, *calls_);
  service_->own_name(kName);
  service_->start(std::move(failed));
}

DbusProxy::~DbusProxy() {
  // Answer the Sync calls still waiting while the connection is there (they return at once once the proxy stops).
  calls_.reset();
  object_.reset();
  service_->stop();
}

}  // namespace kctl::proxy
