// Helpers shared by describe_kinds.cc and describe_cluster.cc (not used elsewhere).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/describe.h"
#include "cli/get_support.h"

namespace kctl::cli {

// A resource.Quantity as kubectl prints it (canonical form).
std::string quantity_text(const nlohmann::json& q);
void describe_volumes(DescribeWriter& w, const nlohmann::json& volumes, const std::string& space);
// qos.GetPodQOS: BestEffort, Burstable or Guaranteed.
std::string pod_qos(const nlohmann::json& pod);
// "ReplicaSet/name" of the controlling owner reference, or "".
std::string controller_of(const nlohmann::json& obj);
inline std::string age_since_text(const std::string& ts) { return age_since(ts); }
// The ReplicationController and ReplicaSet describers (is_rs picks the ReplicaSet's selector form).
std::string describe_replicas(RestClient& rest, const nlohmann::json& obj, const nlohmann::json* events, bool is_rs);

}  // namespace kctl::cli
