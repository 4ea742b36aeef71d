// kctl scale: the scale subresource of ReplicationControllers, ReplicaSets and Deployments, patched like kubectl
// does, or read and replaced under --current-replicas / --resource-version preconditions.
#include "api/client.h"
#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

int run_scale(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  int64_t replicas = -1, current = -1;
  std::string resource_version, selector, timeout = "0s";
  bool all = false;
  files.add_flags(inv.flags(), "identifying the resource to set a new size");
  w.add_flags(inv.flags(), "kubectl-scale", false);
  inv.flags().add_int("replicas", 0, &replicas, "The new desired number of replicas. Required.");
  inv.flags().add_int("current-replicas", 0, &current, "Precondition for current size. Requires that the current size of the resource match this value in order to scale. -1 (default) for no condition.");
  inv.flags().add_string("resource-version", 0, &resource_version, "Precondition for resource version. Requires that the current resource version match this value in order to scale.");
  inv.flags().add_string("selector", 'l', &selector, "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.");
  inv.flags().add_bool("all", 0, &all, "Select all resources in the namespace of the specified resource types");
  inv.flags().add_string("timeout", 0, &timeout, "The length of time to wait before giving up on a scale operation, zero means don't wait.");
  if (!inv.parse()) return 0;
  if (!inv.flags().changed("replicas")) throw CliError("required flag(s) \"replicas\" not set");
  if (replicas < 0) throw CliError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
  std::vector<std::pair<const api::KindInfo*, std::string>> targets;
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) targets.push_back({m.kind, m.name});
  } else {
    ResourceArgs ra = parse_resource_args(inv.args());
    if (ra.refs.empty()) throw CliError("You must provide one or more resources by argument or filename.");
    for (const auto& r : ra.refs) {
      if (!r.name.empty()) {
        targets.push_back({r.kind, r.name});
        continue;
      }
      if (selector.empty() && !all) throw CliError("resource(s) were provided, but no name was specified");
      std::string ns = r.kind->namespaced ? inv.session().ns() : "";
      json list = inv.session().rest().call("GET", api::collection_path(*r.kind, ns) + Query().add("labelSelector", selector).str());
      for (const auto& item : list.value("items", json::array())) targets.push_back({r.kind, item.value("/metadata/name"_json_pointer, std::string())});
    }
  }
  OperationPrinter printer(w);
  ErrorList errors;
  for (const auto& [kind, name] : targets) {
    try {
      if (!kind->has_subresource("scale")) throw CliError("cannot scale " + kind->qualified_plural() + ": it has no scale subresource");
      std::string ns = kind->namespaced ? inv.session().ns() : "";
      api::ResourceClient rc(inv.session().rest().transport(), *kind, ns);
      if (w.dry_run_mode() == DryRun::Client) {
        printer.print_name(inv.out(), *kind, name, "scaled");
        continue;
      }
      if (current >= 0 || !resource_version.empty()) {
        json scale = rc.get_scale(name);
        int64_t actual = scale.value("/spec/replicas"_json_pointer, int64_t(0));
        if (current >= 0 && actual != current)
          throw CliError("Expected replicas to be " + std::to_string(current) + ", was " + std::to_string(actual));
        if (!resource_version.empty() && scale.value("/metadata/resourceVersion"_json_pointer, std::string()) != resource_version)
          throw CliError("Expected resource version to be " + resource_version + ", was " +
                         scale.value("/metadata/resourceVersion"_json_pointer, std::string()));
        scale["spec"]["replicas"] = replicas;
        inv.session().rest().call("PUT", api::object_path(*kind, ns, name, "scale") + w.query(false), scale.dump(), "application/json");
      } else {
        inv.session().rest().call("PATCH", api::object_path(*kind, ns, name, "scale") + w.query(false),
                                  json{{"spec", {{"replicas", replicas}}}}.dump(),
                                  api::patch_content_type(api::PatchType::Merge));
      }
      printer.print_name(inv.out(), *kind, name, "scaled");
    } catch (const std::exception&) {
      errors.add_current();
    }
  }
  return errors.report(inv.err());
}

}  // namespace

CommandInfo scale_command() {
  return {"scale", "Deploy Commands", "Set a new size for a deployment, replica set, or replication controller",
          "Set a new size for a deployment, replica set, replication controller, or stateful set.\n\n"
          " Scale also allows users to specify one or more preconditions for the scale action.\n\n"
          " If --current-replicas or --resource-version is specified, it is validated before the scale is attempted, "
          "and it is guaranteed that the precondition holds true when the scale is sent to the server.",
          "scale [--resource-version=version] [--current-replicas=count] --replicas=COUNT (-f FILENAME | TYPE NAME) [options]",
          "  # Scale a replica set named 'foo' to 3\n  kctl scale --replicas=3 rs/foo\n\n"
          "  # If the deployment named mysql's current size is 2, scale mysql to 3\n"
          "  kctl scale --current-replicas=2 --replicas=3 deployment/mysql\n\n"
          "  # Scale multiple replication controllers\n  kctl scale --replicas=5 rc/example1 rc/example2 rc/example3",
          run_scale};
}

}  // namespace kctl::cli
