// kctl create -f and kctl replace -f: every object of the manifests POSTed (or PUT) in order, "kind/name created"
// for each, the failures collected and printed at the end as kubectl does.
#include "api/resource_path.h"
#include "api/selector.h"
#include "cli/command.h"
#include "cli/create_generators.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/waiting.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

struct CreateOptions {
  FilenameOptions files;
  WriteFlags w;
  bool save_config = false, edit = false, windows_line_endings = false;
  std::string selector;

  void add_flags(FlagSet& f) {
    files.add_flags(f, "to use to create the resource");
    w.add_flags(f, "kubectl-create", true);
    f.add_bool("save-config", 0, &save_config,
               "If true, the configuration of current object will be saved in its annotation. Otherwise, the "
               "annotation will be unchanged. This flag is useful when you want to perform kctl apply on this object "
               "in the future.");
    f.add_bool("edit", 0, &edit, "Edit the API resource before creating (not supported by kctl)");
    f.add_string("selector", 'l', &selector, "Selector (label query) to filter on.");
    f.add_bool("windows-line-endings", 0, &windows_line_endings, "Only relevant if --edit=true.");
  }
};

// `kctl create deployment|namespace|...`: the first argument that is not a flag or a flag's value, if any.
std::string generator_name(Invocation& inv) {
  FlagSet probe;
  GlobalOptions g;
  g.add_flags(probe);
  CreateOptions unused;
  unused.add_flags(probe);
  const auto& raw = inv.raw_args();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == "--") break;
    if (raw[i].size() > 1 && raw[i][0] == '-') {
      if (probe.takes_value(raw[i])) ++i;
      continue;
    }
    return raw[i];
  }
  return "";
}

int run_create(Invocation& inv) {
  if (std::string what = generator_name(inv); !what.empty()) return run_create_generator(inv, what);
  CreateOptions o;
  o.add_flags(inv.flags());
  auto& files = o.files;
  auto& w = o.w;
  const bool &save_config = o.save_config, &edit = o.edit;
  const std::string& selector = o.selector;
  if (!inv.parse()) return 0;
  if (files.empty()) throw CliError("must specify one of -f and -k");
  if (edit) throw CliError("--edit is not supported by kctl; create the object, then use `kctl edit`");
  auto manifests = read_manifests(files, inv.session(), inv.in());
  OperationPrinter printer(w);
  ErrorList errors;
  std::string q = w.query();
  for (auto& m : manifests) {
    if (!selector.empty()) {
      if (!api::LabelSelector::parse(selector).matches(m.object.value("/metadata/labels"_json_pointer, json::object()))) continue;
    }
    json obj = save_config ? with_last_applied(m.object) : m.object;
    if (w.dry_run_mode() == DryRun::Client) {
      printer.print(inv.out(), obj, "created");
      continue;
    }
    try {
      json created = inv.session().rest().call("POST", api::collection_path(*m.kind, m.ns) + q, obj.dump(), "application/json");
      printer.print(inv.out(), created, "created");
    } catch (const api::StatusError& e) {
      errors.add(std::make_exception_ptr(with_source(e, "creating", m.source)));
    }
  }
  printer.finish(inv.out());
  return errors.report(inv.err());
}

int run_replace(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  bool force = false, save_config = false, wait = false;
  int64_t grace = -1;
  std::string timeout = "0s";
  files.add_flags(inv.flags(), "to use to replace the resource.");
  w.add_flags(inv.flags(), "kubectl-replace", true);
  inv.flags().add_bool("force", 0, &force, "If true, immediately remove resources from API and bypass graceful deletion. Note that immediate deletion of some resources may result in inconsistency or data loss and requires confirmation.");
  inv.flags().add_bool("save-config", 0, &save_config, "If true, the configuration of current object will be saved in its annotation.");
  inv.flags().add_int("grace-period", 0, &grace, "Period of time in seconds given to the resource to terminate gracefully. Ignored if negative.");
  inv.flags().add_bool("wait", 0, &wait, "Only relevant if --force is specified. If true, wait for resources to be gone before returning.");
  inv.flags().add_string("timeout", 0, &timeout, "Only relevant if --force is specified. The length of time to wait before giving up on a delete.");
  if (!inv.parse()) return 0;
  if (files.empty()) throw CliError("must specify --filename to replace");
  auto manifests = read_manifests(files, inv.session(), inv.in());
  OperationPrinter printer(w);
  ErrorList errors;
  RestClient& rest = inv.session().rest();
  for (auto& m : manifests) {
    json obj = save_config ? with_last_applied(m.object) : m.object;
    if (w.dry_run_mode() == DryRun::Client) {
      printer.print(inv.out(), obj, "replaced");
      continue;
    }
    try {
      std::string path = api::object_path(*m.kind, m.ns, m.name);
      if (force) {
        // --force: delete, wait until gone, create again
        json opts = {{"propagationPolicy", "Background"}};
        if (grace >= 0) opts["gracePeriodSeconds"] = grace;
        try {
          rest.call("DELETE", path, opts.dump(), "application/json");
          printer.print_name(inv.out(), *m.kind, m.name, "deleted", true);
        } catch (const api::StatusError& e) {
          if (e.status().code != 404) throw;
        }
        wait_until_deleted(inv, *m.kind, m.ns, m.name, "", 0);
        obj["metadata"].erase("resourceVersion");
        json created = rest.call("POST", api::collection_path(*m.kind, m.ns) + w.query(), obj.dump(), "application/json");
        printer.print(inv.out(), created, "replaced");
        continue;
      }
      json replaced = rest.call("PUT", path + w.query(), obj.dump(), "application/json");
      printer.print(inv.out(), replaced, "replaced");
    } catch (const api::StatusError& e) {
      errors.add(std::make_exception_ptr(with_source(e, "replacing", m.source)));
    }
  }
  printer.finish(inv.out());
  return errors.report(inv.err());
}

}  // namespace

CommandInfo create_command() {
  CommandInfo c{"create", "Basic Commands (Beginner)", "Create a resource from a file or from stdin",
                "Create a resource from a file or from stdin.\n\n JSON and YAML formats are accepted.",
                "create -f FILENAME [options]",
                "  # Create a pod using the data in pod.json\n  kctl create -f ./pod.json\n\n"
                "  # Create a pod based on the JSON passed into stdin\n  cat pod.json | kctl create -f -\n\n"
                "  # Create every manifest in a directory and its subdirectories\n  kctl create -f ./manifests/ -R\n\n"
                "  # Create a deployment named my-dep that runs the busybox image\n"
                "  kctl create deployment my-dep --image=busybox\n\n"
                "  # Create a namespace named my-namespace\n  kctl create namespace my-namespace",
                run_create};
  c.subcommands = nullptr;
  return c;
}

CommandInfo replace_command() {
  return {"replace", "Advanced Commands", "Replace a resource by file name or stdin",
          "Replace a resource by file name or stdin.\n\n JSON and YAML formats are accepted. If replacing an existing "
          "resource, the complete resource spec must be provided. This can be obtained by\n\n"
          "        $ kctl get TYPE NAME -o yaml",
          "replace -f FILENAME [options]",
          "  # Replace a pod using the data in pod.json\n  kctl replace -f ./pod.json\n\n"
          "  # Replace a pod based on the JSON passed into stdin\n  cat pod.json | kctl replace -f -\n\n"
          "  # Force replace, delete and then re-create the resource\n  kctl replace --force -f ./pod.json",
          run_replace};
}

}  // namespace kctl::cli
