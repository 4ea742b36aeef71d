// kubeconfig files as kubectl reads and writes them (client-go clientcmd): --kubeconfig, KUBECONFIG with several
// files merged (the first file to name a cluster, user or context wins, as does the first current-context), and
// ~/.kube/config; the connection settings a context and the command-line overrides resolve to.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/tls.h"

namespace kctl::api {

// Where a fresh local cluster listens (`kctl local up`): used when no kubeconfig names a server.
inline constexpr const char* kDefaultServer = "http://127.0.0.1:8080";
// A kubeconfig is a small hand-edited file; a bigger one is a mistake (or not a kubeconfig).
inline constexpr size_t kMaxKubeconfigBytes = 16 * 1024 * 1024;

// A kubeconfig that cannot be read or does not make sense: kubectl prints these as "error: ..." too.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Kubeconfig {
  struct Named {
    std::string name;
    nlohmann::json value;  // the "cluster", "user" or "context" object
    std::string origin;    // the file it came from (relative paths in it are relative to that file)
  };
  std::vector<std::string> precedence;  // the files in loading order (KUBECONFIG, or the one file)
  bool explicit_file = false;           // --kubeconfig
  std::vector<Named> clusters, users, contexts;
  std::string current_context;

  const Named* cluster(const std::string& name) const { return lookup(clusters, name); }
  const Named* user(const std::string& name) const { return lookup(users, name); }
  const Named* context(const std::string& name) const { return lookup(contexts, name); }
  // The file new entries and a new current-context go to (clientcmd's GetDefaultFilename).
  std::string default_file() const;
  static const Named* lookup(const std::vector<Named>& list, const std::string& name);
};

// Reads the configuration: only `explicit_path` when given (it must exist), else the files of $KUBECONFIG
// (colon-separated; missing ones are skipped), else ~/.kube/config if it exists. Throws ConfigError.
Kubeconfig load_kubeconfig(const std::string& explicit_path);

// What the command line says about the connection (the global flags), applied over the kubeconfig.
struct ConfigOverrides {
  std::string context, cluster, user, namespace_;
  std::string server, token, certificate_authority, client_certificate, client_key, tls_server_name;
  bool insecure_skip_tls_verify = false;
};

struct RestConfig {
  std::string server;  // never empty: kDefaultServer without any configuration
  std::string token;
  std::string certificate_authority, certificate_authority_data;  // file path (absolute) or base64 PEM
  std::string client_certificate, client_certificate_data, client_key, client_key_data;
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string namespace_ = "default";
  bool namespace_from_flag = false;  // -n was given (kubectl's "explicit namespace")
  std::string context;               // the context used ("" when none)
};

// Resolves the current (or --context) context and the overrides; throws ConfigError for a context, cluster or
// user that does not exist, or a token file that cannot be read.
RestConfig resolve_config(const Kubeconfig& config, const ConfigOverrides& overrides);

// The TLS settings of a resolved configuration (kubeconfig's *-data fields are base64 of PEM); throws ConfigError
// ("error loading config: client-key-data: illegal base64 data").
http::TlsClientOptions tls_client_options(const RestConfig& config);

// What a daemon's --kubeconfig=FILE says (kube's daemons read it alone, without KUBECONFIG or ~/.kube/config): the
// current context's server, credentials and TLS settings. Throws ConfigError.
struct ClientConfig {
  std::string server;
  std::string token;
  http::TlsClientOptions tls;
};
ClientConfig load_client_config(const std::string& path);

// A kubeconfig (YAML) of one cluster, one user and the context joining them as current-context, keys as kubectl
// writes them: what the apiserver's admin kubeconfig, a kubelet's, a bootstrap kubeconfig and the local cluster's
// daemons' are. `cluster` and `user` are kubeconfig objects ({"server", "certificate-authority-data"},
// {"client-certificate-data", "client-key-data"} or {"token"}); `ns` the context's namespace, if any.
std::string single_kubeconfig(const std::string& cluster_name, const nlohmann::json& cluster,
                              const std::string& user_name, const nlohmann::json& user,
                              const std::string& context_name, const std::string& ns = "");

// The merged configuration as `kubectl config view` prints it: relative paths made absolute, entries sorted by
// name, secrets shown as DATA+OMITTED / REDACTED unless `raw`; `minify` keeps only what `context` uses.
nlohmann::json view_config(const Kubeconfig& config, bool raw, bool minify, const std::string& context);

// Writes current-context where kubectl would (the --kubeconfig file, else the default file).
void write_current_context(const Kubeconfig& config, const std::string& name);
// Creates or replaces one named entry ("clusters", "users" or "contexts") in the file that defines it, or in the
// default file for a new one; a null value deletes it.
void write_entry(const Kubeconfig& config, const std::string& list, const std::string& name,
                 const nlohmann::json& value);

}  // namespace kctl::api
