// kctl create deployment|namespace|configmap|secret generic|service clusterip|nodeport|serviceaccount: objects
// built from flags as kubectl's generators build them, and the helpers `run` and `expose` share with them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::cli {

class Invocation;

// Runs `kctl create WHAT ...`; throws UsageError for an unknown WHAT.
int run_create_generator(Invocation& inv, const std::string& what);

// The container name kubectl derives from an image: "registry/ns/nginx:1.25" -> "nginx".
std::string container_name_for_image(const std::string& image);
// "k=v,k2=v2" -> {"k":"v","k2":"v2"}; throws CliError on a malformed pair.
nlohmann::json parse_key_values(const std::string& text, const std::string& what);
// Sends `obj` to its collection (or prints it for --dry-run=client), prints "kind/name created". Returns 0 or
// throws.
int send_created(Invocation& inv, const nlohmann::json& obj, const struct WriteFlags& w);

}  // namespace kctl::cli
