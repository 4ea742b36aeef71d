// kctl version, cluster-info and api-resources: what the server is, where it runs and which kinds it serves (read
// from its aggregated discovery, printed in kubectl's columns and order).
#include <unistd.h>

#include <algorithm>

#include "api/codec.h"
#include "api/http.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/printers.h"
#include "cli/tabwriter.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

// kctl's own version, in the form the server reports (the Kubernetes API level it speaks, then kctl's release).
constexpr const char* kClientGitVersion = "v1.33.0-kctl.0.1.0";

nlohmann::ordered_json client_version() {
  return {{"major", "1"},         {"minor", "33"},          {"gitVersion", kClientGitVersion},
          {"gitCommit", ""},      {"gitTreeState", "clean"}, {"buildDate", __DATE__},
          {"goVersion", "kctl (C++20)"}, {"compiler", "g++"},     {"platform", "linux/amd64"}};
}

int run_version(Invocation& inv) {
  bool client_only = false;
  std::string output;
  inv.flags().add_bool("client", 0, &client_only, "If true, shows client version only (no server required).");
  inv.flags().add_string("output", 'o', &output, "One of 'yaml' or 'json'.");
  if (!inv.parse()) return 0;
  if (!output.empty() && output != "yaml" && output != "json")
    throw CliError("--output must be 'yaml' or 'json'");
  nlohmann::ordered_json all = {{"clientVersion", client_version()}};
  std::string server_error;
  if (!client_only) {
    try {
      json v = inv.session().rest().call("GET", "/version");
      nlohmann::ordered_json sv;
      for (const char* k : {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                            "compiler", "platform"})
        if (v.contains(k)) sv[k] = v[k];
      all["serverVersion"] = sv;
    } catch (const std::exception& e) {
      if (output.empty()) {
        inv.out() << "Client Version: " << kClientGitVersion << "\n";
        throw;
      }
      server_error = final_error_message(e);
    }
  }
  if (output == "json") {
    inv.out() << all.dump(2) << "\n";
  } else if (output == "yaml") {
    inv.out() << api::encode_yaml(json::parse(all.dump()));
  } else {
    inv.out() << "Client Version: " << kClientGitVersion << "\n";
    if (all.contains("serverVersion")) inv.out() << "Server Version: " << all["serverVersion"].value("gitVersion", "") << "\n";
  }
  if (!server_error.empty()) {
    inv.err() << server_error << "\n";
    return kErrorExitCode;
  }
  return 0;
}

int run_cluster_info(Invocation& inv) {
  if (!inv.parse()) return 0;
  if (!inv.args().empty() && inv.args()[0] == "dump")
    throw CliError("cluster-info dump is not supported by kctl; use `kctl get all -A -o yaml`");
  RestClient& rest = inv.session().rest();
  json services = rest.call("GET", "/api/v1/namespaces/kube-system/services?labelSelector=" +
                                       http::url_encode("kubernetes.io/cluster-service=true"));
  bool tty = isatty(STDOUT_FILENO);
  auto line = [&](const std::string& what, const std::string& where) {
    if (tty) inv.out() << "\x1b[0;32m" << what << "\x1b[0m is running at \x1b[0;33m" << where << "\x1b[0m\n";
    else inv.out() << what << " is running at " << where << "\n";
  };
  line("Kubernetes control plane", rest.server());
  for (const auto& s : services.value("items", json::array())) {
    std::string name = s.value("/metadata/labels/kubernetes.io~1name"_json_pointer, s.value("/metadata/name"_json_pointer, std::string()));
    line(name, rest.server() + "/api/v1/namespaces/kube-system/services/" + s.value("/metadata/name"_json_pointer, std::string()) + "/proxy");
  }
  inv.out() << "\nTo further debug and diagnose cluster problems, use 'kctl cluster-info dump'.\n";
  return 0;
}

struct ApiResource {
  std::string name, short_names, api_version, kind, verbs, categories, group;
  bool namespaced = false;
};

// The resources of the server's aggregated discovery (/api and /apis), subresources left out.
std::vector<ApiResource> discover(RestClient& rest) {
  const char* accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
  std::vector<ApiResource> out;
  for (const char* path : {"/api", "/apis"}) {
    json doc = rest.call("GET", path, "", "", accept);
    for (const auto& g : doc.value("items", json::array())) {
      std::string group = g.value("/metadata/name"_json_pointer, std::string());
      const json versions = g.value("versions", json::array());
      if (versions.empty()) continue;
      const json& v = versions[0];  // the preferred version comes first
      std::string version = v.value("version", "");
      for (const auto& r : v.value("resources", json::array())) {
        auto join = [](const json& arr) {
          std::string s;
          for (const auto& e : arr) s += (s.empty() ? "" : ",") + e.get<std::string>();
          return s;
        };
        ApiResource a;
        a.name = r.value("resource", "");
        a.group = group;
        a.api_version = group.empty() ? version : group + "/" + version;
        a.kind = r.value("/responseKind/kind"_json_pointer, std::string());
        a.namespaced = r.value("scope", "") == "Namespaced";
        a.short_names = join(r.value("shortNames", json::array()));
        a.verbs = join(r.value("verbs", json::array()));
        a.categories = join(r.value("categories", json::array()));
        out.push_back(a);
      }
    }
  }
  return out;
}

int run_api_resources(Invocation& inv) {
  std::string output, api_group, sort_by;
  std::vector<std::string> verbs, categories;
  bool no_headers = false, namespaced = true, cached = false;
  auto& f = inv.flags();
  f.add_string("output", 'o', &output, "Output format. One of: (wide, name).");
  f.add_string("api-group", 0, &api_group, "Limit to resources in the specified API group.");
  f.add_string("sort-by", 0, &sort_by, "If non-empty, sort list of resources using specified field. The field can be either 'name' or 'kind'.");
  f.add_strings("verbs", 0, &verbs, "Limit to resources that support the specified verbs.");
  f.add_strings("categories", 0, &categories, "Limit to resources that belong to the specified categories.");
  f.add_bool("no-headers", 0, &no_headers, "When using the default or custom-column output format, don't print headers (default print headers).");
  f.add_bool("namespaced", 0, &namespaced, "If false, non-namespaced resources will be returned, otherwise returning namespaced resources by default.");
  f.add_bool("cached", 0, &cached, "Use the cached list of resources if available (kctl has no cache).");
  if (!inv.parse()) return 0;
  if (!output.empty() && output != "wide" && output != "name") throw CliError("--output " + output + " is not available");
  if (!sort_by.empty() && sort_by != "name" && sort_by != "kind") throw CliError("--sort-by accepts only name or kind");
  auto all = discover(inv.session().rest());
  std::vector<ApiResource> shown;
  for (const auto& r : all) {
    if (f.changed("api-group") && r.group != api_group) continue;
    if (f.changed("namespaced") && r.namespaced != namespaced) continue;
    bool verbs_ok = std::all_of(verbs.begin(), verbs.end(), [&](const std::string& v) {
      return ("," + r.verbs + ",").find("," + v + ",") != std::string::npos;
    });
    bool cats_ok = std::all_of(categories.begin(), categories.end(), [&](const std::string& c) {
      return ("," + r.categories + ",").find("," + c + ",") != std::string::npos;
    });
    if (verbs_ok && cats_ok) shown.push_back(r);
  }
  // kubectl orders by group (in discovery order), then by name; --sort-by orders by name or kind instead.
  std::vector<std::string> groups;
  for (const auto& r : all)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);
  auto group_rank = [&](const std::string& g) { return std::find(groups.begin(), groups.end(), g) - groups.begin(); };
  std::stable_sort(shown.begin(), shown.end(), [&](const ApiResource& a, const ApiResource& b) {
    if (sort_by == "name") return a.name < b.name;
    if (sort_by == "kind") return a.kind < b.kind;
    if (a.group != b.group) return group_rank(a.group) < group_rank(b.group);
    return a.name < b.name;
  });
  if (output == "name") {
    for (const auto& r : shown) inv.out() << r.name << (r.group.empty() ? "" : "." + r.group) << "\n";
    return 0;
  }
  TabWriter tw(inv.out());
  bool wide = output == "wide";
  if (!no_headers) tw << (wide ? "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND\tVERBS\tCATEGORIES\n" : "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND\n");
  for (const auto& r : shown) {
    tw << r.name + "\t" + r.short_names + "\t" + r.api_version + "\t" + (r.namespaced ? "true" : "false") + "\t" + r.kind;
    if (wide) tw << "\t" + r.verbs + "\t" + r.categories;
    tw << "\n";
  }
  return 0;
}

int run_options(Invocation& inv) {
  inv.out() << "The following options can be passed to any command:\n\n";
  inv.flags().print_options(inv.out(), true);
  return 0;
}

}  // namespace

CommandInfo version_command() {
  return {"version", "Other Commands", "Print the client and server version information",
          "Print the client and server version information for the current context.",
          "version [flags] [options]",
          "  # Print the client and server versions for the current context\n  kctl version", run_version};
}

CommandInfo cluster_info_command() {
  return {"cluster-info", "Basic Commands (Intermediate)", "Display cluster information",
          "Display addresses of the control plane and services with label kubernetes.io/cluster-service=true.",
          "cluster-info [flags] [options]", "  # Print the address of the control plane and cluster services\n  kctl cluster-info",
          run_cluster_info};
}

CommandInfo api_resources_command() {
  return {"api-resources", "Other Commands", "Print the supported API resources on the server",
          "Print the supported API resources on the server.", "api-resources [flags] [options]",
          "  # Print the supported API resources\n  kctl api-resources\n\n"
          "  # Print the supported API resources with more information\n  kctl api-resources -o wide\n\n"
          "  # Print the supported API resources sorted by a column\n  kctl api-resources --sort-by=name\n\n"
          "  # Print the supported namespaced resources\n  kctl api-resources --namespaced=true\n\n"
          "  # Print the supported non-namespaced resources\n  kctl api-resources --namespaced=false\n\n"
          "  # Print the supported API resources with a specific APIGroup\n  kctl api-resources --api-group=rbac.authorization.k8s.io",
          run_api_resources};
}

CommandInfo options_command() {
  return {"options", "Other Commands", "Print the list of flags inherited by all commands",
          "Print the list of flags inherited by all commands.", "options [flags] [options]",
          "  # Print flags inherited by all commands\n  kctl options", run_options};
}

}  // namespace kctl::cli
