// The global flags kubectl defines for every command and the lazily made configuration and connection.
#include "cli/session.h"

#include <cmath>

namespace kctl::cli {

void GlobalOptions::add_flags(FlagSet& f) {
  auto global = [](FlagSet::Flag& flag) { flag.global = true; };
  global(f.add_string("kubeconfig", 0, &kubeconfig, "Path to the kubeconfig file to use for CLI requests."));
  global(f.add_string("context", 0, &overrides.context, "The name of the kubeconfig context to use"));
  global(f.add_string("cluster", 0, &overrides.cluster, "The name of the kubeconfig cluster to use"));
  global(f.add_string("user", 0, &overrides.user, "The name of the kubeconfig user to use"));
  global(f.add_string("namespace", 'n', &overrides.namespace_, "If present, the namespace scope for this CLI request"));
  global(f.add_string("server", 's', &overrides.server, "The address and port of the Kubernetes API server"));
  global(f.add_string("token", 0, &overrides.token, "Bearer token for authentication to the API server"));
  global(f.add_string("certificate-authority", 0, &overrides.certificate_authority,
                      "Path to a cert file for the certificate authority"));
  global(f.add_string("client-certificate", 0, &overrides.client_certificate, "Path to a client certificate file for TLS"));
  global(f.add_string("client-key", 0, &overrides.client_key, "Path to a client key file for TLS"));
  global(f.add_string("tls-server-name", 0, &overrides.tls_server_name,
                      "Server name to use for server certificate validation. If it is not provided, the hostname used "
                      "to contact the server is used"));
  global(f.add_bool("insecure-skip-tls-verify", 0, &overrides.insecure_skip_tls_verify,
                    "If true, the server's certificate will not be checked for validity. This will make your HTTPS "
                    "connections insecure"));
  global(f.add_string("request-timeout", 0, &request_timeout,
                      "The length of time to wait before giving up on a single server request. Non-zero values should "
                      "contain a corresponding time unit (e.g. 1s, 2m, 3h). A value of zero means don't timeout "
                      "requests."));
  global(f.add_string("cache-dir", 0, &cache_dir, "Default cache directory (kctl keeps no cache; accepted for kubectl compatibility)"));
  global(f.add_string("v", 'v', &verbosity, "number for the log level verbosity (accepted for kubectl compatibility)"));
  global(f.add_bool("match-server-version", 0, &match_server_version, "Require server version to match client version"));
  global(f.add_bool("warnings-as-errors", 0, &warnings_as_errors,
                    "Treat warnings received from the server as errors and exit with a non-zero exit code"));
}

const api::Kubeconfig& Session::kubeconfig() {
  if (!kubeconfig_) kubeconfig_ = api::load_kubeconfig(options_.kubeconfig);
  return *kubeconfig_;
}

const api::RestConfig& Session::config() {
  if (!config_) config_ = api::resolve_config(kubeconfig(), options_.overrides);
  return *config_;
}

RestClient& Session::rest() {
  if (!rest_) {
    const std::string& rt = options_.request_timeout;
    bool digits = !rt.empty() && rt.find_first_not_of("0123456789") == std::string::npos;  // bare seconds
    double t = digits ? std::stod(rt) : parse_duration(rt, "--request-timeout");
    int seconds = t > 0 ? std::max(1, int(std::ceil(t))) : kDefaultRequestTimeoutSeconds;
    rest_ = std::make_unique<RestClient>(config(), err_, seconds);
  }
  return *rest_;
}

}  // namespace kctl::cli
