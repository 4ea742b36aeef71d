// kctl delete: by name, -f, -l or --all; one DELETE per object with kubectl's DeleteOptions (propagation policy,
// grace period), then, like kubectl, a wait on the watch until every deleted object is gone (unless --wait=false).
#include "api/resource_path.h"
#include "api/selector.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/waiting.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

struct DeleteOptions {
  FilenameOptions files;
  WriteFlags w;
  std::string selector, field_selector, cascade = "background", timeout = "0s";
  bool all = false, all_namespaces = false, now = false, force = false, wait = true, ignore_not_found = false;
  int64_t grace_period = -1;

  void add_flags(FlagSet& f) {
    files.add_flags(f, "containing the resource to delete.");
    w.add_flags(f, "", false);
    f.add_string("selector", 'l', &selector, "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.");
    f.add_string("field-selector", 0, &field_selector, "Selector (field query) to filter on, supports '=', '==', and '!='.");
    f.add_bool("all", 0, &all, "Delete all resources, in the namespace of the specified resource types.");
    f.add_bool("all-namespaces", 'A', &all_namespaces,
               "If present, list the requested object(s) across all namespaces. Namespace in current context is "
               "ignored even if specified with --namespace.");
    f.add_string("cascade", 0, &cascade,
                 "Must be \"background\", \"orphan\", or \"foreground\". Selects the deletion cascading strategy for "
                 "the dependents (e.g. Pods created by a ReplicationController). Defaults to background.")
        .no_value_default = "background";
    f.add_int("grace-period", 0, &grace_period,
              "Period of time in seconds given to the resource to terminate gracefully. Ignored if negative. Set to 1 "
              "for immediate shutdown. Can only be set to 0 when --force is true (force deletion).");
    f.add_bool("now", 0, &now, "If true, resources are signaled for immediate shutdown (same as --grace-period=1).");
    f.add_bool("force", 0, &force,
               "If true, immediately remove resources from API and bypass graceful deletion. Note that immediate "
               "deletion of some resources may result in inconsistency or data loss and requires confirmation.");
    f.add_bool("wait", 0, &wait,
               "If true, wait for resources to be gone before returning. This waits for finalizers.");
    f.add_string("timeout", 0, &timeout,
                 "The length of time to wait before giving up on a delete, zero means determine a timeout from the "
                 "size of the object");
    f.add_bool("ignore-not-found", 0, &ignore_not_found,
               "Treat \"resource not found\" as a successful delete. Defaults to \"true\" when --all is specified.");
  }

  json delete_body() const {
    std::string policy = cascade == "true" ? "background" : cascade == "false" ? "orphan" : cascade;
    json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (policy == "background") body["propagationPolicy"] = "Background";
    else if (policy == "foreground") body["propagationPolicy"] = "Foreground";
    else if (policy == "orphan") body["propagationPolicy"] = "Orphan";
    else throw UsageError("invalid cascade value (" + cascade + "). Must be \"background\", \"foreground\", or \"orphan\".");
    if (grace_period >= 0) body["gracePeriodSeconds"] = grace_period;
    if (w.dry_run_mode() == DryRun::Server) body["dryRun"] = json::array({"All"});
    return body;
  }
};

struct Target {
  const api::KindInfo* kind;
  std::string ns, name, source;
};

// The objects to delete: named ones as given, selected ones listed first (as kubectl does, one DELETE each).
std::vector<Target> targets(Invocation& inv, const DeleteOptions& o, bool& listed_nothing) {
  std::vector<Target> out;
  if (!o.files.empty()) {
    for (const auto& m : read_manifests(o.files, inv.session(), inv.in(), false)) out.push_back({m.kind, m.ns, m.name, m.source});
    return out;
  }
  ResourceArgs ra = parse_resource_args(inv.args());
  if (ra.refs.empty())
    throw CliError("You must provide one or more resources by argument or filename.\nExample resource specifications "
                   "include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'");
  bool selecting = !o.selector.empty() || !o.field_selector.empty() || o.all;
  for (const auto& r : ra.refs) {
    std::string ns = r.kind->namespaced ? inv.session().ns() : "";
    if (!r.name.empty()) {
      if (selecting) throw CliError("name cannot be provided when a selector is specified");
      out.push_back({r.kind, ns, r.name, ""});
      continue;
    }
    if (!selecting) throw CliError("resource(s) were provided, but no name was specified");
    std::string list_ns = o.all_namespaces ? "" : ns;
    json list = inv.session().rest().call("GET", api::collection_path(*r.kind, list_ns) +
                                                     Query().add("labelSelector", o.selector).add("fieldSelector", o.field_selector).str());
    for (const auto& item : list.value("items", json::array()))
      out.push_back({r.kind, r.kind->namespaced ? item.value("/metadata/namespace"_json_pointer, ns) : "",
                     item.value("/metadata/name"_json_pointer, std::string()), ""});
  }
  listed_nothing = out.empty();
  return out;
}

int run_delete(Invocation& inv) {
  DeleteOptions o;
  o.add_flags(inv.flags());
  if (!inv.parse()) return 0;
  // kubectl's Complete and Validate: --now is a grace period of 1, a grace period of 0 needs --force (else it
  // becomes 1), --force alone is 0.
  if (o.now) {
    if (o.grace_period != -1) throw CliError("--now and --grace-period cannot be specified together");
    o.grace_period = 1;
  }
  if (o.grace_period == 0 && !o.force) o.grace_period = 1;
  if (o.force && o.grace_period < 0) o.grace_period = 0;
  if (o.all && !o.field_selector.empty()) throw CliError("cannot set --all and --field-selector at the same time");
  if (o.force && o.grace_period > 0) throw CliError("--force and --grace-period greater than 0 cannot be specified together");
  if (o.force && o.grace_period == 0)
    inv.err() << "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n";
  // The resource builder's own check, worded as it is (with its trailing space).
  if (o.all && !o.selector.empty()) throw CliError("setting 'all' parameter but found a non empty selector. ");
  bool ignore_not_found = o.ignore_not_found || (o.all && !inv.flags().changed("ignore-not-found"));
  double timeout = parse_duration(o.timeout, "--timeout");
  // kubectl warns once when -n was given and a cluster-scoped object is deleted.
  bool warn_cluster_scope = inv.session().ns_from_flag() && !o.all_namespaces;
  std::string operation = o.grace_period == 0 ? "force deleted" : "deleted";
  json body = o.delete_body();
  bool listed_nothing = false;
  auto all = targets(inv, o, listed_nothing);
  if (listed_nothing) {
    inv.out() << "No resources found\n";
    return 0;
  }
  OperationPrinter printer(o.w);
  ErrorList errors;
  std::vector<std::pair<Target, std::string>> deleted;  // with the uid, for the wait
  RestClient& rest = inv.session().rest();
  for (const auto& t : all) {
    if (warn_cluster_scope && !t.kind->namespaced) {
      inv.err() << "Warning: deleting cluster-scoped resources, not scoped to the provided namespace\n";
      warn_cluster_scope = false;
    }
    try {
      if (o.w.dry_run_mode() == DryRun::Client) {
        rest.call("GET", api::object_path(*t.kind, t.ns, t.name));
      } else {
        json answer = rest.call("DELETE", api::object_path(*t.kind, t.ns, t.name), body.dump(), "application/json");
        std::string uid = answer.value("/metadata/uid"_json_pointer, answer.value("/details/uid"_json_pointer, std::string()));
        deleted.push_back({t, uid});
      }
      printer.print_name(inv.out(), *t.kind, t.name, operation, true);
    } catch (const api::StatusError& e) {
      if (e.status().code == 404 && ignore_not_found) continue;
      errors.add(std::make_exception_ptr(with_source(e, "deleting", t.source)));
    }
  }
  inv.out().flush();
  // As kubectl's DeleteResult: a failed delete ends the command before any wait.
  if (!errors.empty()) return errors.report(inv.err());
  if (o.wait && o.w.dry_run_mode() == DryRun::None) {
    for (const auto& [t, uid] : deleted) {
      if (!wait_until_deleted(inv, *t.kind, t.ns, t.name, uid, timeout > 0 ? timeout : kWaitForever)) {
        errors.add(std::make_exception_ptr(
            CliError("timed out waiting for the condition on " + t.kind->qualified_plural() + "/" + t.name)));
      }
    }
  }
  return errors.report(inv.err());
}

}  // namespace

CommandInfo delete_command() {
  return {"delete", "Basic Commands (Intermediate)",
          "Delete resources by file names, stdin, resources and names, or by resources and label selector",
          "Delete resources by file names, stdin, resources and names, or by resources and label selector.\n\n"
          " JSON and YAML formats are accepted. Only one type of argument may be specified: file names, resources "
          "and names, or resources and label selector.\n\n"
          " Like kubectl, kctl waits for each deleted object to be gone (it watches it) unless --wait=false.",
          "delete ([-f FILENAME] | TYPE [(NAME | -l label | --all)]) [options]",
          "  # Delete a pod using the type and name specified in pod.json\n  kctl delete -f ./pod.json\n\n"
          "  # Delete pods and services with same names \"baz\" and \"foo\"\n  kctl delete pod,service baz foo\n\n"
          "  # Delete pods and services with label name=myLabel\n  kctl delete pods,services -l name=myLabel\n\n"
          "  # Delete a pod with minimal delay\n  kctl delete pod foo --now\n\n"
          "  # Delete all pods\n  kctl delete pods --all\n\n"
          "  # Delete a pod without waiting for it to be gone\n  kctl delete pod foo --wait=false",
          run_delete};
}

}  // namespace kctl::cli
