// kctl apply -f: client-side apply (the kubectl.kubernetes.io/last-applied-configuration annotation and a three-way
// strategic merge patch computed here, "unchanged" when it is empty) and --server-side apply (an apply patch).
#include "api/patch.h"
#include "api/resource_path.h"
#include "api/selector.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

// kubectl retries a client-side apply patch that met a concurrent write this often.
constexpr int kApplyConflictRetries = 5;

struct ApplyOptions {
  FilenameOptions files;
  WriteFlags w;
  bool server_side = false, force_conflicts = false, overwrite = true, force = false;
  std::string prune_selector;

  void add_flags(FlagSet& f) {
    files.add_flags(f, "that contains the configuration to apply");
    w.add_flags(f, "kubectl-client-side-apply", true);
    f.add_bool("server-side", 0, &server_side, "If true, apply runs in the server instead of the client.");
    f.add_bool("force-conflicts", 0, &force_conflicts,
               "If true, server-side apply will force the changes against conflicts.");
    f.add_bool("overwrite", 0, &overwrite,
               "Automatically resolve conflicts between the modified and live configuration by using values from the "
               "modified configuration");
    f.add_bool("force", 0, &force,
               "If true, immediately remove resources from API and bypass graceful deletion. (kctl: accepted, "
               "conflicts are retried instead)");
    f.add_string("selector", 'l', &prune_selector, "Selector (label query) to filter on.");
  }
};

std::string plural_name(const Manifest& m) { return m.kind->plural + "/" + m.name; }

void apply_server_side(Invocation& inv, const ApplyOptions& o, const Manifest& m, OperationPrinter& printer) {
  Query q;
  if (o.w.dry_run_mode() == DryRun::Server) q.add("dryRun", "All");
  std::string manager = inv.flags().changed("field-manager") ? o.w.field_manager : "kubectl";
  q.add("fieldManager", manager).add("fieldValidation", o.w.field_validation()).add("force", o.force_conflicts ? "true" : "false");
  json result = inv.session().rest().call("PATCH", api::object_path(*m.kind, m.ns, m.name) + q.str(), m.object.dump(),
                                          api::patch_content_type(api::PatchType::Apply));
  printer.print(inv.out(), result, "serverside-applied");
}

void apply_client_side(Invocation& inv, const ApplyOptions& o, const Manifest& m, OperationPrinter& printer) {
  RestClient& rest = inv.session().rest();
  json modified = with_last_applied(m.object);
  std::string path = api::object_path(*m.kind, m.ns, m.name);
  for (int attempt = 0;; ++attempt) {
    json current;
    try {
      current = rest.call("GET", path);
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;
      if (o.w.dry_run_mode() == DryRun::Client) return printer.print(inv.out(), modified, "created");
      json created;
      try {
        created = rest.call("POST", api::collection_path(*m.kind, m.ns) + o.w.query(), modified.dump(), "application/json");
      } catch (const api::StatusError& ce) {
        throw with_source(ce, "creating", m.source);
      }
      return printer.print(inv.out(), created, "created");
    }
    json original = nullptr;
    std::string applied = current.value("/metadata/annotations"_json_pointer, json::object()).value(kLastAppliedAnnotation, "");
    if (applied.empty()) {
      if (attempt == 0)
        inv.err() << "Warning: resource " << plural_name(m)
                  << " is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is required "
                     "by kctl apply. kctl apply should only be used on resources created declaratively by either "
                     "kctl create --save-config or kctl apply. The missing annotation will be patched automatically.\n";
    } else {
      original = json::parse(applied, nullptr, false);
      if (original.is_discarded()) original = nullptr;
    }
    json patch = api::create_three_way_merge_patch(original, modified, current, m.kind->schema(), o.overwrite);
    if (patch.is_null() || patch.empty()) return printer.print(inv.out(), current, "unchanged");
    if (o.w.dry_run_mode() == DryRun::Client) {
      json preview = api::strategic_merge_patch(current, patch, m.kind->schema());
      return printer.print(inv.out(), preview, "configured");
    }
    try {
      json result = rest.call("PATCH", path + o.w.query(), patch.dump(), api::patch_content_type(api::PatchType::Strategic));
      return printer.print(inv.out(), result, "configured");
    } catch (const api::StatusError& e) {
      if (e.status().code == 409 && attempt + 1 < kApplyConflictRetries) continue;
      throw with_source(e, "applying patch", m.source);
    }
  }
}

int run_apply(Invocation& inv) {
  ApplyOptions o;
  o.add_flags(inv.flags());
  if (!inv.parse()) return 0;
  if (o.files.empty()) throw CliError("must specify one of -f and -k");
  auto manifests = read_manifests(o.files, inv.session(), inv.in());
  OperationPrinter printer(o.w);
  ErrorList errors;
  for (const auto& m : manifests) {
    if (!o.prune_selector.empty() &&
        !api::LabelSelector::parse(o.prune_selector).matches(m.object.value("/metadata/labels"_json_pointer, json::object())))
      continue;
    try {
      if (m.name.empty()) throw CliError("error when retrieving current configuration of:\nResource: \"" + m.kind->qualified_plural() +
                                         "\"\nfrom server for: \"" + m.source + "\": resource name may not be empty");
      if (o.server_side) apply_server_side(inv, o, m, printer);
      else apply_client_side(inv, o, m, printer);
    } catch (const std::exception&) {
      errors.add_current();
    }
  }
  printer.finish(inv.out());
  return errors.report(inv.err());
}

}  // namespace

CommandInfo apply_command() {
  return {"apply", "Advanced Commands", "Apply a configuration to a resource by file name or stdin",
          "Apply a configuration to a resource by file name or stdin. The resource name must be specified. This "
          "resource will be created if it doesn't exist yet. To use 'apply', always create the resource initially "
          "with either 'apply' or 'create --save-config'.\n\n JSON and YAML formats are accepted.",
          "apply (-f FILENAME | -k DIRECTORY) [options]",
          "  # Apply the configuration in pod.json to a pod\n  kctl apply -f ./pod.json\n\n"
          "  # Apply the JSON passed into stdin to a pod\n  cat pod.json | kctl apply -f -\n\n"
          "  # Apply every manifest of a directory, recursively\n  kctl apply -f ./manifests -R\n\n"
          "  # Let the server merge the configuration (server-side apply)\n  kctl apply --server-side -f ./deploy.yaml",
          run_apply};
}

}  // namespace kctl::cli
