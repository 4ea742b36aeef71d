// ServiceRegistration: kctl-dns puts itself behind the Service pods' resolv.conf names (kube-system/kube-dns at
// the tenth service address, as kubeadm places CoreDNS): the Service without a selector, and the Endpoints and an
// EndpointSlice with this server's address, kept so by a level-driven loop that repairs edits and deletions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"

namespace kctl::dns {

inline constexpr const char* kDnsServiceNamespace = "kube-system";
inline constexpr const char* kDnsServiceName = "kube-dns";
// What the EndpointSlice says wrote it; the endpointslice controller leaves slices with another manager alone.
inline constexpr const char* kDnsSliceManager = "kctl-dns";
// How often the registration is checked without any event about it: a missed watch event is repaired within this.
inline constexpr auto kRegistrationResync = std::chrono::seconds(30);
// Back-off between failed attempts (the apiserver away, a conflict), doubling up to the resync period.
inline constexpr auto kRegistrationRetryMin = std::chrono::seconds(1);

struct ServiceRegistrationOptions {
  std::string cluster_ip;         // the Service's ClusterIP
  std::string advertise_address;  // this server's address in the Endpoints and the slice; "" writes none
  int port = 53;                  // the port this server answers on (the endpoints' port, the Service's targetPort)
};

// The tenth address of a service range "10.96.0.0/12" (10.96.0.10); nullopt when not an IPv4 CIDR large enough.
std::optional<std::string> tenth_address(const std::string& cidr);

// The objects as kctl-dns wants them (for the loop and for tests). service_uid: the owner of the slice.
nlohmann::json desired_dns_service(const ServiceRegistrationOptions& o);
nlohmann::json desired_dns_endpoints(const ServiceRegistrationOptions& o);
nlohmann::json desired_dns_slice(const ServiceRegistrationOptions& o, const std::string& service_uid);

class ServiceRegistration {
 public:
  ServiceRegistration(api::Transport& transport, ServiceRegistrationOptions options);
  ~ServiceRegistration();
  ServiceRegistration(const ServiceRegistration&) = delete;
  ServiceRegistration& operator=(const ServiceRegistration&) = delete;

  // One pass: creates or corrects the Service, the Endpoints and the slice; returns what it changed, and in
  // `problems` what it had to leave as it is (a ClusterIP that cannot change). Throws api::StatusError and
  // transport errors.
  std::vector<std::string> ensure(std::vector<std::string>& problems);

  void start();    // the loop: a pass at once, on every trigger(), every kRegistrationResync, with back-off
  void stop();
  void trigger();  // something about the kube-dns objects changed (an informer event): look again

 private:
  void loop();
  std::string ensure_service(std::vector<std::string>& changes, std::vector<std::string>& problems);
  void ensure_endpoints(std::vector<std::string>& changes);
  void ensure_slice(const std::string& service_uid, std::vector<std::string>& changes);

  api::Transport& transport_;
  ServiceRegistrationOptions options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool triggered_ = false, stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

using ServiceRegistrationPtr = std::unique_ptr<ServiceRegistration>;

}  // namespace kctl::dns
