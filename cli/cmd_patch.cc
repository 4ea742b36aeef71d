// kctl patch (strategic, merge or JSON patch) and kctl label / annotate (key=value, key- to remove, --overwrite,
// --list): a GET, then the PATCH kubectl sends, with kubectl's "patched (no change)" / "not labeled" wording.
#include <fstream>
#include <sstream>

#include "api/codec.h"
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

struct Target {
  const api::KindInfo* kind;
  std::string ns, name, source;
};

// TYPE NAME..., TYPE/NAME..., -f, or TYPE with -l / --all.
std::vector<Target> resolve_targets(Invocation& inv, const FilenameOptions& files, const std::vector<std::string>& args,
                                    const std::string& selector, bool all, bool all_namespaces) {
  std::vector<Target> out;
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) out.push_back({m.kind, m.ns, m.name, m.source});
    return out;
  }
  ResourceArgs ra = parse_resource_args(args);
  if (ra.refs.empty()) throw CliError("one or more resources must be specified as <resource> <name> or <resource>/<name>");
  for (const auto& r : ra.refs) {
    std::string ns = r.kind->namespaced ? inv.session().ns() : "";
    if (!r.name.empty()) {
      out.push_back({r.kind, ns, r.name, ""});
      continue;
    }
    if (selector.empty() && !all) throw CliError("resource(s) were provided, but no name was specified");
    json list = inv.session().rest().call("GET", api::collection_path(*r.kind, all_namespaces ? "" : ns) +
                                                     Query().add("labelSelector", selector).str());
    for (const auto& item : list.value("items", json::array()))
      out.push_back({r.kind, r.kind->namespaced ? item.value("/metadata/namespace"_json_pointer, ns) : "",
                     item.value("/metadata/name"_json_pointer, std::string()), ""});
  }
  return out;
}

int run_patch(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  std::string patch, patch_file, type = "strategic", subresource;
  bool local = false;
  files.add_flags(inv.flags(), "identifying the resource to update");
  w.add_flags(inv.flags(), "kubectl-patch", false);
  inv.flags().add_string("patch", 'p', &patch, "The patch to be applied to the resource JSON file.");
  inv.flags().add_string("patch-file", 0, &patch_file, "A file containing a patch to be applied to the resource.");
  inv.flags().add_string("type", 0, &type, "The type of patch being provided; one of [json merge strategic]");
  inv.flags().add_string("subresource", 0, &subresource,
                         "If specified, patch will operate on the subresource of the requested object. Supports "
                         "status, scale and resize.");
  inv.flags().add_bool("local", 0, &local, "If true, patch will operate on the content of the file, not the server-side resource.");
  if (!inv.parse()) return 0;
  if (!patch_file.empty()) {
    FilenameOptions pf;
    std::ifstream in(patch_file);
    if (!in) throw CliError("unable to read patch file: open " + patch_file + ": no such file or directory");
    std::stringstream ss;
    ss << in.rdbuf();
    patch = ss.str();
  }
  if (patch.empty()) throw CliError("must specify -p to patch");
  api::PatchType pt;
  if (type == "strategic") pt = api::PatchType::Strategic;
  else if (type == "merge") pt = api::PatchType::Merge;
  else if (type == "json") pt = api::PatchType::Json;
  else throw CliError("--type must be one of [json merge strategic], not \"" + type + "\"");
  json body;
  try {
    body = api::decode_yaml(patch);
  } catch (const api::StatusError& e) {
    throw CliError("unable to parse \"" + patch + "\": " + e.status().message);
  }
  if (local) throw CliError("--local is not supported by kctl");
  OperationPrinter printer(w);
  printer.without_suffix();
  ErrorList errors;
  RestClient& rest = inv.session().rest();
  for (const auto& t : resolve_targets(inv, files, inv.args(), "", false, false)) {
    try {
      std::string path = api::object_path(*t.kind, t.ns, t.name, subresource);
      json before = rest.call("GET", path);
      json after;
      if (w.dry_run_mode() == DryRun::Client) {  // patched here, nothing sent
        after = pt == api::PatchType::Json ? api::json_patch(before, body)
                : pt == api::PatchType::Merge ? api::merge_patch(before, body)
                                              : api::strategic_merge_patch(before, body, t.kind->schema());
      } else {
        after = rest.call("PATCH", path + w.query(false), body.dump(), api::patch_content_type(pt));
      }
      printer.print(inv.out(), after, before == after ? "patched (no change)" : "patched");
    } catch (const api::StatusError& e) {
      errors.add(std::make_exception_ptr(with_source(e, "patching", t.source)));
    }
  }
  printer.finish(inv.out());
  return errors.report(inv.err());
}

// label and annotate differ only in the map they change and their wording.
struct MetaMapVerb {
  const char* field;    // "labels" / "annotations"
  const char* manager;  // "kubectl-label"
  const char* done;     // "labeled"
  const char* undone;   // "unlabeled"
  const char* nothing;  // "not labeled"
  const char* noun;     // "label"
  bool validate_keys;
};

int run_meta_map(Invocation& inv, const MetaMapVerb& verb) {
  FilenameOptions files;
  WriteFlags w;
  std::string selector, resource_version;
  bool overwrite = false, all = false, all_namespaces = false, list = false, local = false;
  files.add_flags(inv.flags(), std::string("identifying the resource to update the ") + verb.field);
  w.add_flags(inv.flags(), verb.manager, false);
  inv.flags().add_bool("overwrite", 0, &overwrite, std::string("If true, allow ") + verb.field + " to be overwritten, otherwise reject " + verb.noun + " updates that overwrite existing " + verb.field + ".");
  inv.flags().add_string("selector", 'l', &selector, "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.");
  inv.flags().add_bool("all", 0, &all, "Select all resources, in the namespace of the specified resource types");
  inv.flags().add_bool("all-namespaces", 'A', &all_namespaces, "If true, check the specified action in all namespaces.");
  inv.flags().add_bool("list", 0, &list, std::string("If true, display the ") + verb.field + " for a given resource.");
  inv.flags().add_bool("local", 0, &local, "If true, will NOT contact api-server but run locally.");
  inv.flags().add_string("resource-version", 0, &resource_version, "If non-empty, the update will only succeed if this is the current resource-version for the object. Only valid when specifying a single resource.");
  if (!inv.parse()) return 0;
  // Resource arguments come first; KEY=VAL and KEY- follow.
  std::vector<std::string> resources;
  json changes = json::object();
  std::vector<std::string> removals;
  for (const auto& a : inv.args()) {
    if (a.find('=') != std::string::npos) {
      auto eq = a.find('=');
      changes[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (a.size() > 1 && a.back() == '-' && (!resources.empty() || !files.empty())) {
      removals.push_back(a.substr(0, a.size() - 1));
    } else {
      resources.push_back(a);
    }
  }
  if (!list && changes.empty() && removals.empty())
    throw CliError(std::string("at least one ") + verb.noun + " update is required");
  OperationPrinter printer(w);
  ErrorList errors;
  RestClient& rest = inv.session().rest();
  for (const auto& t : resolve_targets(inv, files, resources, selector, all, all_namespaces)) {
    try {
      std::string path = api::object_path(*t.kind, t.ns, t.name);
      json obj = rest.call("GET", path);
      json current = obj.value("metadata", json::object()).value(verb.field, json::object());
      if (list) {
        for (auto it = current.begin(); it != current.end(); ++it) inv.out() << it.key() << "=" << it->get<std::string>() << "\n";
        continue;
      }
      json updated = current;
      for (auto it = changes.begin(); it != changes.end(); ++it) {
        if (!overwrite && current.contains(it.key()) && current[it.key()] != *it)
          throw CliError("'" + it.key() + "' already has a value (" + current[it.key()].get<std::string>() + "), and --overwrite is false");
        updated[it.key()] = *it;
      }
      for (const auto& k : removals) {
        if (!updated.contains(k)) inv.out() << verb.noun << " \"" << k << "\" not found.\n";
        updated.erase(k);
      }
      json patch = {{"metadata", {{verb.field, api::create_merge_patch(current, updated)}}}};
      if (!resource_version.empty()) patch["metadata"]["resourceVersion"] = resource_version;
      std::string msg = verb.done;
      if (std::string(verb.noun) == "label")
        msg = current == updated ? verb.nothing : (!overwrite && updated.size() < current.size() ? verb.undone : verb.done);
      json result = obj;
      if (current != updated || !resource_version.empty())
        result = rest.call("PATCH", path + w.query(false), patch.dump(), api::patch_content_type(api::PatchType::Merge));
      printer.print(inv.out(), result, msg);
    } catch (const api::StatusError& e) {
      errors.add(std::make_exception_ptr(e));
    } catch (const CliError& e) {
      errors.add_current();
    }
  }
  printer.finish(inv.out());
  return errors.report(inv.err());
}

}  // namespace

CommandInfo patch_command() {
  return {"patch", "Advanced Commands", "Update fields of a resource using strategic merge patch, a JSON merge patch, or a JSON patch",
          "Update fields of a resource using strategic merge patch, a JSON merge patch, or a JSON patch.\n\n"
          " JSON and YAML formats are accepted.",
          "patch (-f FILENAME | TYPE NAME) [-p PATCH|--patch-file FILE] [options]",
          "  # Partially update a node using a strategic merge patch, specifying the patch as JSON\n"
          "  kctl patch node k8s-node-1 -p '{\"spec\":{\"unschedulable\":true}}'\n\n"
          "  # Update a container's image; spec.containers[*].name is required because it's a merge key\n"
          "  kctl patch pod valid-pod -p '{\"spec\":{\"containers\":[{\"name\":\"kubernetes-serve-hostname\",\"image\":\"new image\"}]}}'\n\n"
          "  # Update a container's image using a JSON patch with positional arrays\n"
          "  kctl patch pod valid-pod --type='json' -p='[{\"op\": \"replace\", \"path\": \"/spec/containers/0/image\", \"value\":\"new image\"}]'\n\n"
          "  # Update a deployment's replicas through the scale subresource using a merge patch\n"
          "  kctl patch deployment nginx-deployment --subresource='scale' --type='merge' -p '{\"spec\":{\"replicas\":2}}'",
          run_patch};
}

CommandInfo label_command() {
  return {"label", "Settings Commands", "Update the labels on a resource",
          "Update the labels on a resource.\n\n"
          "  *  A label key and value must begin with a letter or number, and may contain letters, numbers, hyphens, "
          "dots, and underscores, up to 63 characters each.\n"
          "  *  If --overwrite is true, then existing labels can be overwritten, otherwise attempting to overwrite a "
          "label will result in an error.\n"
          "  *  If --resource-version is specified, then updates will use this resource version, otherwise the "
          "existing resource-version will be used.",
          "label [--overwrite] (-f FILENAME | TYPE NAME) KEY_1=VAL_1 ... KEY_N=VAL_N [--resource-version=version] [options]",
          "  # Update pod 'foo' with the label 'unhealthy' and the value 'true'\n  kctl label pods foo unhealthy=true\n\n"
          "  # Update pod 'foo' with the label 'status' and the value 'unhealthy', overwriting any existing value\n"
          "  kctl label --overwrite pods foo status=unhealthy\n\n"
          "  # Update all pods in the namespace\n  kctl label pods --all status=unhealthy\n\n"
          "  # Update pod 'foo' by removing a label named 'bar' if it exists\n  kctl label pods foo bar-",
          [](Invocation& inv) {
            return run_meta_map(inv, {"labels", "kubectl-label", "labeled", "unlabeled", "not labeled", "label", true});
          }};
}

CommandInfo annotate_command() {
  return {"annotate", "Settings Commands", "Update the annotations on a resource",
          "Update the annotations on one or more resources.\n\n"
          " All Kubernetes objects support the ability to store additional data with the object as annotations. "
          "Annotations are key/value pairs that can be larger than labels and include arbitrary string values such "
          "as structured JSON.\n\n Attempting to set an annotation that already exists will fail unless --overwrite "
          "is set.",
          "annotate [--overwrite] (-f FILENAME | TYPE NAME) KEY_1=VAL_1 ... KEY_N=VAL_N [--resource-version=version] [options]",
          "  # Update pod 'foo' with the annotation 'description' and the value 'my frontend'\n"
          "  kctl annotate pods foo description='my frontend'\n\n"
          "  # Update pod 'foo' by removing an annotation named 'description' if it exists\n"
          "  kctl annotate pods foo description-",
          [](Invocation& inv) {
            return run_meta_map(inv, {"annotations", "kubectl-annotate", "annotated", "annotated", "annotated", "annotation", false});
          }};
}

}  // namespace kctl::cli
