// What a verb acts on, as kubectl's resource builder reads it: "pods,svc", "pod web web2", "deploy/api", the "all"
// category, and -f manifests (files, directories with -R, "-" for stdin, multi-document YAML, JSON, Lists). Kinds
// come from the compiled-in registry, so no discovery request is needed.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "cli/flags.h"

namespace kctl::cli {

class Session;

struct ResourceRef {
  const api::KindInfo* kind = nullptr;
  std::string name;  // empty: every object of the kind (in the namespace, or matching the selector)
};

struct ResourceArgs {
  std::vector<ResourceRef> refs;
  bool singular = false;  // exactly one named object: printed as itself, not inside a List
};

// A kind as typed ("po", "deployments.apps", "Service"); throws CliError "the server doesn't have a resource type".
const api::KindInfo& resolve_kind(const std::string& typed);
// kubectl's ResourceTypeOrNameArgs: TYPE[,TYPE...] [NAME...] or TYPE/NAME... Throws CliError.
ResourceArgs parse_resource_args(const std::vector<std::string>& args);
// Whether the refs name more than one kind (kubectl then prints "kind/name").
bool several_kinds(const std::vector<ResourceRef>& refs);

struct FilenameOptions {
  std::vector<std::string> filenames;
  bool recursive = false;
  void add_flags(FlagSet& flags, const std::string& purpose);
  bool empty() const { return filenames.empty(); }
};

// One object from -f.
struct Manifest {
  std::string source;  // the file as kubectl names it in messages ("pod.yaml", "STDIN")
  nlohmann::json object;
  const api::KindInfo* kind = nullptr;
  std::string ns;  // the object's namespace, else the session's (empty for cluster-scoped kinds)
  std::string name;
};

// Reads and decodes every -f source in order. With `fill_namespace`, metadata.namespace of namespaced objects is
// set to the namespace used (as kubectl does before sending them). Throws CliError (missing file, bad YAML, unknown
// kind, a namespace that contradicts -n).
std::vector<Manifest> read_manifests(const FilenameOptions& files, Session& session, std::istream& in,
                                     bool fill_namespace = true);

// The object's namespace for a request: its own, else the session's; "" for cluster-scoped kinds.
std::string namespace_for(const api::KindInfo& kind, const nlohmann::json& obj, Session& session);

}  // namespace kctl::cli
