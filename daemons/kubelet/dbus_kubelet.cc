#include "daemons/kubelet/dbus_kubelet.h"

#include "daemons/common/dbus_service.h"
#include "daemons/kubelet/kubelet.h"
#include "dbus/org.kctl.Kubelet1_adaptor.h"

namespace kctl::kubelet {

namespace {
constexpr const char* kName = "org.kctl.Kubelet1";
constexpr const char* kPath = "/org/kctl/Kubelet1";
}  // namespace

class DbusKubelet::Object final : public DbusObject<org::kctl::Kubelet1_adaptor> {
 public:
  Object(DbusService& service, Kubelet& kubelet) : DbusObject(service, kPath), kubelet_(kubelet) { publish(); }
  ~Object() { withdraw(); }

 private:
  std::vector<sdbus::Struct<std::string, std::string, std::string, std::string, std::string>> ListPods() override {
    std::vector<sdbus::Struct<std::string, std::string, std::string, std::string, std::string>> out;
    for (const auto& p : kubelet_.pods_summary())
      out.emplace_back(p.value("namespace", ""), p.value("name", ""), p.value("uid", ""), p.value("phase", ""),
                       p.value("podIP", ""));
    return out;
  }
  std::string GetPod(const std::string& ns, const std::string& name) override {
    nlohmann::json pod = kubelet_.pod_object(ns, name);
    if (pod.is_null())
      throw sdbus::Error(std::string(kName) + ".Error.NotFound", "pod " + ns + "/" + name + " is not bound to this node");
    return pod.dump();
  }
  void Sync() override { kubelet_.resync(); }
  std::string NodeName() override { return kubelet_.node_name(); }
  bool Ready() override { return kubelet_.ready(); }
  std::string PodCIDR() override { return kubelet_.pod_cidr(); }
  uint32_t RunningPods() override {
    uint32_t n = 0;
    for (const auto& p : kubelet_.pods_summary()) n += p.value("phase", "") == "Running";
    return n;
  }

  Kubelet& kubelet_;
};

DbusKubelet::DbusKubelet(Kubelet& kubelet, const std::string& bus_address, std::function<void(const std::string&)> failed)
    : service_(std::make_unique<DbusService>(bus_address)) {
  object_ = std::make_unique<Object>(*service_, kubelet);
  service_->own_name(kName);
  service_->start(std::move(failed));
}

DbusKubelet::~DbusKubelet() {
  object_.reset();
  service_->stop();
}

std::string DbusKubelet::unique_name() const { return service_->unique_name(); }

}  // namespace kctl::kubelet
