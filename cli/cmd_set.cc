// kctl set image: the containers' images of a pod or of the pod template of a workload (rc, rs, deployment,
// daemonset, statefulset, job, cronjob), changed by a strategic merge patch naming each container, as kubectl does.
#include "api/client.h"
#include "api/patch.h"
#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

// Where an object of `kind` keeps its pod spec, as a path of keys; empty for a kind without one.
std::vector<std::string> pod_spec_path(const api::KindInfo& kind) {
  if (kind.kind == "Pod") return {"spec"};
  if (kind.kind == "CronJob") return {"spec", "jobTemplate", "spec", "template", "spec"};
  for (const char* k : {"ReplicationController", "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet", "Job"})
    if (kind.kind == k) return {"spec", "template", "spec"};
  return {};
}

// The patch that gives the named containers (or every one, for "*") their new image; null when nothing changes.
// Throws CliError for a container the pod spec does not have.
json image_patch(const json& object, const std::vector<std::string>& path,
                 const std::vector<std::pair<std::string, std::string>>& images) {
  const json* spec = &object;
  for (const auto& key : path) {
    if (!spec->contains(key)) return nullptr;
    spec = &(*spec)[key];
  }
  json changed = json::object();  // "containers" / "initContainers" -> [{name, image}]
  for (const auto& [name, image] : images) {
    bool found = false;
    for (const char* list : {"initContainers", "containers"})
      for (const auto& c : spec->value(list, json::array())) {
        if (name != "*" && c.value("name", "") != name) continue;
        found = true;
        if (c.value("image", "") != image) changed[list].push_back({{"image", image}, {"name", c.value("name", "")}});
      }
    if (!found && name != "*") throw CliError("unable to find container named \"" + name + "\"");
  }
  if (changed.empty()) return nullptr;
  json patch = changed;
  for (auto it = path.rbegin(); it != path.rend(); ++it) patch = json{{*it, patch}};
  return patch;
}

int run_set_image(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  std::string selector;
  bool all = false, local = false;
  files.add_flags(inv.flags(), "identifying the resource to get from a server");
  w.add_flags(inv.flags(), "kubectl-set", false);
  inv.flags().add_string("selector", 'l', &selector, "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l key1=value1,key2=value2). Matching objects must satisfy all of the specified label constraints.");
  inv.flags().add_bool("all", 0, &all, "Select all resources, in the namespace of the specified resource types");
  inv.flags().add_bool("local", 0, &local, "If true, set image will NOT contact api-server but run locally.");
  if (!inv.parse()) return 0;
  std::vector<std::string> resources;
  std::vector<std::pair<std::string, std::string>> images;
  for (const auto& a : inv.args()) {
    auto eq = a.find('=');
    if (eq == std::string::npos) resources.push_back(a);
    else images.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  if (images.empty()) throw CliError("at least one image update is required");
  if (local) throw CliError("kctl set image --local is not supported; use a server");
  struct Target {
    const api::KindInfo* kind;
    std::string name;
  };
  std::vector<Target> targets;
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) targets.push_back({m.kind, m.name});
  } else {
    ResourceArgs ra = parse_resource_args(resources);
    if (ra.refs.empty()) throw CliError("You must provide one or more resources by argument or filename.");
    for (const auto& r : ra.refs) {
      if (!r.name.empty()) {
        targets.push_back({r.kind, r.name});
        continue;
      }
      if (selector.empty() && !all) throw CliError("resource(s) were provided, but no name was specified");
      std::string ns = r.kind->namespaced ? inv.session().ns() : "";
      json list = inv.session().rest().call(
          "GET", api::collection_path(*r.kind, ns) + Query().add("labelSelector", selector).str());
      for (const auto& item : list.value("items", json::array()))
        targets.push_back({r.kind, item.value("/metadata/name"_json_pointer, std::string())});
    }
  }
  OperationPrinter printer(w);
  ErrorList errors;
  for (const auto& t : targets) {
    try {
      auto path = pod_spec_path(*t.kind);
      if (path.empty())
        throw CliError(t.kind->qualified_plural() + " \"" + t.name + "\" has no pod template whose image could be set");
      std::string ns = t.kind->namespaced ? inv.session().ns() : "";
      json object = inv.session().rest().call("GET", api::object_path(*t.kind, ns, t.name));
      json patch = image_patch(object, path, images);
      if (patch.is_null()) continue;  // the images are set already: nothing to send, nothing to say (as kubectl)
      if (w.dry_run_mode() != DryRun::Client)
        object = inv.session().rest().call("PATCH", api::object_path(*t.kind, ns, t.name) + w.query(false),
                                           patch.dump(), api::patch_content_type(api::PatchType::Strategic));
      printer.print(inv.out(), object, "image updated");
    } catch (const std::exception&) {
      errors.add_current();
    }
  }
  printer.finish(inv.out());
  return errors.report(inv.err());
}

std::vector<CommandInfo> set_subcommands() {
  return {
      {"image", "", "Update the image of a pod template",
       "Update existing container image(s) of resources.\n\n Possible resources include (case insensitive):\n\n"
       "        pod (po), replicationcontroller (rc), deployment (deploy), daemonset (ds), statefulset (sts), cronjob "
       "(cj), replicaset (rs)",
       "set image (-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N "
       "[options]",
       "  # Set a deployment's nginx container image to 'nginx:1.9.1', and its busybox container image to 'busybox'\n"
       "  kctl set image deployment/nginx busybox=busybox nginx=nginx:1.9.1\n\n"
       "  # Update all deployments' and rc's nginx container's image to 'nginx:1.9.1'\n"
       "  kctl set image deployments,rc nginx=nginx:1.9.1 --all\n\n"
       "  # Update image of all containers of daemonset abc to 'nginx:1.9.1'\n"
       "  kctl set image daemonset abc *=nginx:1.9.1",
       run_set_image},
  };
}

}  // namespace

CommandInfo set_command() {
  CommandInfo c{"set", "Basic Commands (Beginner)", "Set specific features on objects",
                "Configure application resources.\n\n These commands help you make changes to existing application "
                "resources.",
                "set SUBCOMMAND [options]", "", nullptr};
  c.subcommands = set_subcommands;
  return c;
}

}  // namespace kctl::cli
