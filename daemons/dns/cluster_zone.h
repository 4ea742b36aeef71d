// ClusterZone: the records of Kubernetes' DNS-based service discovery (kubernetes/dns docs/specification.md) for
// one cluster domain, kept from Services and Endpoints, and the answer to one question about them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/dns/dns_message.h"

namespace kctl::dns {

// kube-dns and the Corefile Kubernetes ships answer with a TTL of 30 s (CoreDNS's own default is 5 s; Kubernetes
// sets `ttl 30` to keep kube-dns's): long enough to spare the server, short enough that a new ClusterIP is seen
// within half a minute.
inline constexpr uint32_t kDefaultTtl = 30;
// The version of the DNS schema these records follow (the dns-version.<zone> TXT record).
inline constexpr const char* kSchemaVersion = "1.1.0";

struct ZoneAnswer {
  enum class Kind {
    Answer,   // rcode, records below
    Forward,  // not ours: ask the upstream resolvers
  } kind = Kind::Answer;
  uint8_t rcode = rcode::kNoError;
  bool authoritative = true;
  std::vector<Record> answers, authority, additional;
};

class ClusterZone {
 public:
  explicit ClusterZone(std::string domain = "cluster.local", uint32_t ttl = kDefaultTtl);

  // From the Service and Endpoints objects as the API has them (informer events). Safe from any thread.
  void set_service(const nlohmann::json& svc);
  void remove_service(const std::string& ns, const std::string& name);
  void set_endpoints(const nlohmann::json& ep);
  void remove_endpoints(const std::string& ns, const std::string& name);

  // The answer to one question (name as asked, any case). Safe from any thread, concurrently with the setters.
  ZoneAnswer answer(const Question& q) const;

  const std::string& domain() const { return domain_; }
  size_t services() const;

 private:
  struct Port {
    std::string name, protocol;  // protocol lower-cased: "tcp", "udp", "sctp"
    int port = 0;
  };
  struct Service {
    std::string ns, name;            // as the API has them (lower-case by validation)
    std::string type, cluster_ip;    // cluster_ip "None" for headless; "" for ExternalName
    std::string external_name;
    std::vector<Port> ports;
  };
  struct Address {
    std::string ip, hostname;  // hostname: the endpoint's, or the dashed IP when it has none
    bool has_hostname = false;
  };
  struct Subset {
    std::vector<Address> ready;
    std::vector<Port> ports;
  };
  using Key = std::pair<std::string, std::string>;  // namespace, name (lower-case)

  ZoneAnswer answer_in_zone(const Question& q, const std::vector<std::string>& labels) const;
  ZoneAnswer answer_reverse(const Question& q, const std::string& lname) const;
  void service_records(const Question& q, const Service& s, ZoneAnswer& a) const;
  void srv_records(const Question& q, const Service& s, const std::string& port, const std::string& proto,
                   ZoneAnswer& a) const;
  Record soa() const;
  ZoneAnswer negative(uint8_t rcode) const;
  std::string fqdn(const Service& s) const;
  void reindex_reverse(const Key& key);
  void touch();

  std::string domain_;  // lower-case, no final dot
  uint32_t ttl_;
  mutable std::shared_mutex mutex_;
  std::map<Key, Service> services_;                  // guarded by mutex_
  std::map<Key, std::vector<Subset>> endpoints_;     // guarded by mutex_
  std::map<std::string, int> namespaces_;            // services per namespace; guarded by mutex_
  std::map<std::string, std::vector<std::string>> reverse_;  // IP -> names (PTR); guarded by mutex_
  std::map<Key, std::vector<std::string>> reverse_of_;       // what reindex_reverse filed per Service
  uint32_t serial_;  // the SOA serial: the time of the last change; guarded by mutex_
};

using ClusterZonePtr = std::unique_ptr<ClusterZone>;

}  // namespace kctl::dns
