// What every kctl verb shares: the global flags (kubeconfig, context, namespace, server, credentials), the
// configuration they resolve to, and the connection to the server, each made only when a verb first needs it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/registry.h"
#include "cli/flags.h"
#include "api/kubeconfig.h"
#include "cli/rest_client.h"

namespace kctl::cli {

struct GlobalOptions {
  std::string kubeconfig;
  api::ConfigOverrides overrides;
  std::string request_timeout = "0";
  // Accepted for kubectl compatibility and ignored: kctl keeps no discovery cache and logs nothing.
  std::string cache_dir, verbosity;
  bool match_server_version = false, warnings_as_errors = false;

  // Registers the global flags (kubectl's "kctl options") on `flags`.
  void add_flags(FlagSet& flags);
};

class Session {
 public:
  Session(GlobalOptions options, std::ostream& err) : options_(std::move(options)), err_(err) {}

  const GlobalOptions& options() const { return options_; }
  const api::Kubeconfig& kubeconfig();
  const api::RestConfig& config();
  RestClient& rest();
  const api::Registry& registry() const { return api::Registry::builtin(); }
  // The namespace verbs work in (-n, else the context's, else "default") and whether -n gave it.
  const std::string& ns() { return config().namespace_; }
  bool ns_from_flag() { return config().namespace_from_flag; }

 private:
  GlobalOptions options_;
  std::ostream& err_;
  std::optional<api::Kubeconfig> kubeconfig_;
  std::optional<api::RestConfig> config_;
  std::unique_ptr<RestClient> rest_;
};

}  // namespace kctl::cli
