// kctl config: view, get-contexts, current-context, use-context, set-context, get-clusters, get-users,
// delete-context, set-cluster, set-credentials, with kubectl's output and the same files (see kubeconfig.h).
#include <tuple>

#include "api/codec.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/jsonpath.h"
#include "cli/printers.h"
#include "cli/tabwriter.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

// -o json prints clientcmd's Go structs, so fields come in their declaration order (YAML sorts them). Fields the
// structs do not know keep their place after the known ones, sorted.
nlohmann::ordered_json in_struct_order(const json& v, const std::vector<std::string>& order) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& k : order)
    if (v.contains(k)) out[k] = nlohmann::ordered_json::parse(v[k].dump());
  for (auto it = v.begin(); it != v.end(); ++it)
    if (!out.contains(it.key())) out[it.key()] = nlohmann::ordered_json::parse(it->dump());
  return out;
}

std::string config_json(const json& view) {
  static const std::vector<std::string> kConfig = {"kind", "apiVersion", "preferences", "clusters", "users", "contexts",
                                                   "current-context", "extensions"};
  static const std::vector<std::string> kCluster = {"server", "tls-server-name", "insecure-skip-tls-verify",
                                                    "certificate-authority", "certificate-authority-data", "proxy-url",
                                                    "disable-compression", "extensions"};
  static const std::vector<std::string> kUser = {"client-certificate", "client-certificate-data", "client-key",
                                                 "client-key-data", "token", "tokenFile", "as", "as-uid", "as-groups",
                                                 "as-user-extra", "username", "password", "auth-provider", "exec",
                                                 "extensions"};
  static const std::vector<std::string> kContext = {"cluster", "user", "namespace", "extensions"};
  json v = view;
  if (!v.contains("preferences")) v["preferences"] = json::object();
  auto out = in_struct_order(v, kConfig);
  for (auto [list, inner, order] : {std::tuple{"clusters", "cluster", &kCluster}, std::tuple{"users", "user", &kUser},
                                    std::tuple{"contexts", "context", &kContext}}) {
    if (!v.contains(list) || !v[list].is_array()) continue;
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const auto& item : v[list]) {
      nlohmann::ordered_json o = in_struct_order(item, {"name", inner});
      if (item.contains(inner) && item[inner].is_object()) o[inner] = in_struct_order(item[inner], *order);
      items.push_back(std::move(o));
    }
    out[list] = std::move(items);
  }
  return out.dump(4) + "\n";
}

int run_view(Invocation& inv) {
  bool raw = false, minify = false, flatten = false, merge = true;
  OutputFlags output;
  output.output = "yaml";
  inv.flags().add_bool("raw", 0, &raw, "Display raw byte data and sensitive data");
  inv.flags().add_bool("minify", 0, &minify, "Remove all information not used by current-context from the output");
  inv.flags().add_bool("flatten", 0, &flatten, "Flatten the resulting kubeconfig file into self-contained output (useful for creating portable kubeconfig files)");
  inv.flags().add_bool("merge", 0, &merge, "Merge the full hierarchy of kubeconfig files");
  output.add_flags(inv.flags(), "json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file");
  if (!inv.parse()) return 0;
  Session& s = inv.session();
  json view = api::view_config(s.kubeconfig(), raw || flatten, minify, s.options().overrides.context);
  if (output.output == "json") {
    inv.out() << config_json(view);
    return 0;
  }
  auto printer = make_object_printer(output);
  printer->print(view, inv.out());
  printer->finish(inv.out());
  return 0;
}

// kubectl's helpErrorf: the verb's help on stdout, then "Unexpected args: [a b]" (Go's %v of the slice).
CliError unexpected_args(Invocation& inv) {
  inv.print_help(inv.out());
  inv.out().flush();
  std::string list;
  for (const auto& a : inv.args()) list += (list.empty() ? "" : " ") + a;
  return CliError("Unexpected args: [" + list + "]");
}

int run_get_contexts(Invocation& inv) {
  std::string output;
  bool no_headers = false;
  inv.flags().add_string("output", 'o', &output, "Output format. One of: (name).");
  inv.flags().add_bool("no-headers", 0, &no_headers, "When using the default or custom-column output format, don't print headers (default print headers).");
  if (!inv.parse()) return 0;
  if (!output.empty() && output != "name") throw CliError("output must be one of '' or 'name'");
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  std::vector<const api::Kubeconfig::Named*> shown;
  for (const auto& c : kc.contexts)
    if (inv.args().empty() || std::find(inv.args().begin(), inv.args().end(), c.name) != inv.args().end())
      shown.push_back(&c);
  std::string missing;
  for (const auto& a : inv.args())
    if (!kc.context(a)) missing = a;
  std::sort(shown.begin(), shown.end(), [](auto* a, auto* b) { return a->name < b->name; });
  if (output == "name") {
    for (const auto* c : shown) inv.out() << c->name << "\n";
  } else {
    TabWriter tw(inv.out());
    if (!no_headers) tw << "CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n";
    for (const auto* c : shown) {
      tw << std::string(c->name == kc.current_context ? "*" : "") + "\t" + c->name + "\t" + c->value.value("cluster", "") +
                "\t" + c->value.value("user", "") + "\t" + c->value.value("namespace", "") + "\n";
    }
  }
  // kubectl prints what it found (the heading at least) before the error.
  if (!missing.empty()) {
    inv.out().flush();
    throw CliError("context " + missing + " not found");
  }
  return 0;
}

int run_current_context(Invocation& inv) {
  if (!inv.parse()) return 0;
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  if (kc.current_context.empty()) throw CliError("current-context is not set");
  inv.out() << kc.current_context << "\n";
  return 0;
}

int run_use_context(Invocation& inv) {
  if (!inv.parse()) return 0;
  if (inv.args().size() != 1) throw unexpected_args(inv);
  const std::string& name = inv.args()[0];
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  if (!kc.context(name)) throw CliError("no context exists with the name: \"" + name + "\"");
  api::write_current_context(kc, name);
  inv.out() << "Switched to context \"" << name << "\".\n";
  return 0;
}

int run_set_context(Invocation& inv) {
  bool current = false;
  std::string cluster, user, ns;
  inv.flags().add_bool("current", 0, &current, "Modify the current context");
  // --cluster, --user and --namespace are the global flags' names; here they set the context's fields.
  if (!inv.parse()) return 0;
  const auto& o = inv.session().options().overrides;
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  std::string name = current ? kc.current_context : (inv.args().empty() ? "" : inv.args()[0]);
  if (current && !inv.args().empty()) throw CliError("you cannot specify a context name and --current");
  if (current && name.empty()) throw CliError("no current context is set");
  if (name.empty()) throw CliError("you must specify a non-empty context name or --current");
  const auto* existing = kc.context(name);
  json ctx = existing ? existing->value : json{{"cluster", ""}, {"user", ""}};
  if (inv.flags().changed("cluster")) ctx["cluster"] = o.cluster;
  if (inv.flags().changed("user")) ctx["user"] = o.user;
  if (inv.flags().changed("namespace")) {
    if (o.namespace_.empty()) ctx.erase("namespace");
    else ctx["namespace"] = o.namespace_;
  }
  api::write_entry(kc, "contexts", name, ctx);
  inv.out() << "Context \"" << name << "\" " << (existing ? "modified" : "created") << ".\n";
  return 0;
}

int run_delete_context(Invocation& inv) {
  if (!inv.parse()) return 0;
  if (inv.args().size() != 1) throw unexpected_args(inv);
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  const std::string& name = inv.args()[0];
  if (!kc.context(name)) throw CliError("cannot delete context " + name + ", not in " + kc.default_file());
  if (kc.current_context == name)
    inv.err() << "warning: this removed your active context, use \"kctl config use-context\" to select a different one\n";
  api::write_entry(kc, "contexts", name, nullptr);
  inv.out() << "deleted context " << name << " from " << kc.default_file() << "\n";
  return 0;
}

int list_names(Invocation& inv, bool clusters) {
  if (!inv.parse()) return 0;
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  std::vector<std::string> names;
  for (const auto& n : clusters ? kc.clusters : kc.users) names.push_back(n.name);
  std::sort(names.begin(), names.end());
  inv.out() << "NAME\n";
  for (const auto& n : names) inv.out() << n << "\n";
  return 0;
}

int run_set_cluster(Invocation& inv) {
  bool embed = false;
  inv.flags().add_bool("embed-certs", 0, &embed, "embed-certs for the cluster entry in kubeconfig");
  if (!inv.parse()) return 0;
  if (inv.args().size() != 1) throw unexpected_args(inv);
  const auto& o = inv.session().options().overrides;
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  const std::string& name = inv.args()[0];
  const auto* existing = kc.cluster(name);
  json c = existing ? existing->value : json{{"server", ""}};
  if (inv.flags().changed("server")) c["server"] = o.server;
  if (inv.flags().changed("certificate-authority")) c["certificate-authority"] = o.certificate_authority;
  if (inv.flags().changed("insecure-skip-tls-verify")) c["insecure-skip-tls-verify"] = o.insecure_skip_tls_verify;
  if (inv.flags().changed("tls-server-name")) c["tls-server-name"] = o.tls_server_name;
  api::write_entry(kc, "clusters", name, c);
  inv.out() << "Cluster \"" << name << "\" " << (existing ? "set" : "set") << ".\n";
  return 0;
}

int run_set_credentials(Invocation& inv) {
  if (!inv.parse()) return 0;
  if (inv.args().size() != 1) throw unexpected_args(inv);
  const auto& o = inv.session().options().overrides;
  const api::Kubeconfig& kc = inv.session().kubeconfig();
  const std::string& name = inv.args()[0];
  const auto* existing = kc.user(name);
  json u = existing ? existing->value : json::object();
  if (inv.flags().changed("token")) u["token"] = o.token;
  if (inv.flags().changed("client-certificate")) u["client-certificate"] = o.client_certificate;
  if (inv.flags().changed("client-key")) u["client-key"] = o.client_key;
  api::write_entry(kc, "users", name, u);
  inv.out() << "User \"" << name << "\" set.\n";
  return 0;
}

std::vector<CommandInfo> config_subcommands() {
  return {
      {"current-context", "", "Display the current-context", "Display the current-context.",
       "config current-context [flags] [options]", "  # Display the current-context\n  kctl config current-context",
       run_current_context},
      {"delete-context", "", "Delete the specified context from the kubeconfig",
       "Delete the specified context from the kubeconfig.", "config delete-context NAME [options]",
       "  # Delete the context for the minikube cluster\n  kctl config delete-context minikube", run_delete_context},
      {"get-clusters", "", "Display clusters defined in the kubeconfig", "Display clusters defined in the kubeconfig.",
       "config get-clusters [flags] [options]", "  # List the clusters that kctl knows about\n  kctl config get-clusters",
       [](Invocation& i) { return list_names(i, true); }},
      {"get-contexts", "", "Describe one or many contexts", "Display one or many contexts from the kubeconfig file.",
       "config get-contexts [(-o|--output=)name)] [options]",
       "  # List all the contexts in your kubeconfig file\n  kctl config get-contexts\n\n"
       "  # Describe one context in your kubeconfig file\n  kctl config get-contexts my-context",
       run_get_contexts},
      {"get-users", "", "Display users defined in the kubeconfig", "Display users defined in the kubeconfig.",
       "config get-users [flags] [options]", "  # List the users that kctl knows about\n  kctl config get-users",
       [](Invocation& i) { return list_names(i, false); }},
      {"set-cluster", "", "Set a cluster entry in kubeconfig",
       "Set a cluster entry in kubeconfig.\n\n Specifying a name that already exists will merge new fields on top of existing values for those fields.",
       "config set-cluster NAME [--server=server] [--certificate-authority=path/to/certificate/authority] "
       "[--insecure-skip-tls-verify=true] [--tls-server-name=example.com] [options]",
       "  # Set only the server field on the e2e cluster entry without touching other values\n"
       "  kctl config set-cluster e2e --server=https://1.2.3.4",
       run_set_cluster},
      {"set-context", "", "Set a context entry in kubeconfig",
       "Set a context entry in kubeconfig.\n\n Specifying a name that already exists will merge new fields on top of existing values for those fields.",
       "config set-context [NAME | --current] [--cluster=cluster_nickname] [--user=user_nickname] "
       "[--namespace=namespace] [options]",
       "  # Set the user field on the gce context entry without touching other values\n"
       "  kctl config set-context gce --user=cluster-admin\n\n"
       "  # Set the namespace of the current context\n  kctl config set-context --current --namespace=dev",
       run_set_context},
      {"set-credentials", "", "Set a user entry in kubeconfig",
       "Set a user entry in kubeconfig.\n\n Specifying a name that already exists will merge new fields on top of existing values.",
       "config set-credentials NAME [--client-certificate=path/to/certfile] [--client-key=path/to/keyfile] "
       "[--token=bearer_token] [options]",
       "  # Set just the token for the cluster-admin entry\n  kctl config set-credentials cluster-admin --token=s3cr3t",
       run_set_credentials},
      {"use-context", "", "Set the current-context in a kubeconfig file", "Set the current-context in a kubeconfig file.",
       "config use-context CONTEXT_NAME [options]",
       "  # Use the context for the minikube cluster\n  kctl config use-context minikube", run_use_context},
      {"view", "", "Display merged kubeconfig settings or a specified kubeconfig file",
       "Display merged kubeconfig settings or a specified kubeconfig file.\n\n You can use --output jsonpath={...} "
       "to extract specific values using a jsonpath expression.",
       "config view [flags] [options]",
       "  # Show merged kubeconfig settings\n  kctl config view\n\n"
       "  # Show merged kubeconfig settings, raw certificate data, and exposed secrets\n  kctl config view --raw\n\n"
       "  # Get the password for the e2e user\n  kctl config view -o jsonpath='{.users[?(@.name == \"e2e\")].user.password}'",
       run_view},
  };
}

}  // namespace

CommandInfo config_command() {
  CommandInfo c{"config", "Settings Commands", "Modify kubeconfig files",
                "Modify kubeconfig files using subcommands like \"kctl config set current-context my-context\".\n\n"
                " The loading order follows these rules:\n\n"
                "  1.  If the --kubeconfig flag is set, then only that file is loaded. The flag may only be set once "
                "and no merging takes place.\n"
                "  2.  If $KUBECONFIG environment variable is set, then it is used as a list of paths (normal path "
                "delimiting rules for your system). These paths are merged. When a value is modified, it is modified "
                "in the file that defines the stanza. When a value is created, it is created in the first file that "
                "exists. If no files in the chain exist, then it creates the last file in the list.\n"
                "  3.  Otherwise, ${HOME}/.kube/config is used and no merging takes place.",
                "config SUBCOMMAND [options]", "", nullptr};
  c.subcommands = config_subcommands;
  // `use` is kubectl's alias of use-context
  return c;
}

}  // namespace kctl::cli
