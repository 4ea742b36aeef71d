// kctl rollout status|history|undo|restart|pause|resume for Deployments: status follows the Deployment's status
// fields on the watch; history and undo read the ReplicaSets the Deployment controls and their
// deployment.kubernetes.io/revision annotations, as kubectl's DeploymentHistoryViewer and rollbacker do.
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "api/patch.h"
#include "api/resource_path.h"
#include "api/selector.h"
#include "cli/command.h"
#include "cli/describe.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/waiting.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
const char* kChangeCauseAnnotation = "kubernetes.io/change-cause";

struct Target {
  const api::KindInfo* kind;
  std::string ns, name;
};

std::vector<Target> deployments(Invocation& inv, const FilenameOptions& files) {
  std::vector<Target> out;
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) out.push_back({m.kind, m.ns, m.name});
  } else {
    ResourceArgs ra = parse_resource_args(inv.args());
    for (const auto& r : ra.refs) {
      if (r.name.empty()) throw CliError("resource(s) were provided, but no name was specified");
      out.push_back({r.kind, r.kind->namespaced ? inv.session().ns() : "", r.name});
    }
  }
  if (out.empty()) throw CliError("required resource not specified");
  for (const auto& t : out)
    if (t.kind->kind != "Deployment") throw CliError("no rollout support for " + t.kind->qualified_plural() + " in kctl (only Deployments)");
  return out;
}

// DeploymentStatusViewer.Status: the message and whether the rollout is complete; throws when it failed.
std::pair<std::string, bool> rollout_status(const json& d, int64_t revision) {
  std::string name = d.value("/metadata/name"_json_pointer, std::string());
  if (revision > 0) {
    int64_t current = std::stoll(d.value("/metadata/annotations"_json_pointer, json::object()).value(kRevisionAnnotation, "0"));
    if (current != revision)
      throw CliError("desired revision (" + std::to_string(revision) + ") is different from the running revision (" + std::to_string(current) + ")");
  }
  int64_t generation = d.value("/metadata/generation"_json_pointer, int64_t(0));
  int64_t observed = d.value("/status/observedGeneration"_json_pointer, int64_t(0));
  if (generation > observed) return {"Waiting for deployment spec update to be observed...\n", false};
  for (const auto& c : d.value("/status/conditions"_json_pointer, json::array()))
    if (c.value("type", "") == "Progressing" && c.value("reason", "") == "ProgressDeadlineExceeded")
      throw CliError("deployment \"" + name + "\" exceeded its progress deadline");
  int64_t spec = d.value("/spec/replicas"_json_pointer, int64_t(1));
  int64_t updated = d.value("/status/updatedReplicas"_json_pointer, int64_t(0));
  int64_t replicas = d.value("/status/replicas"_json_pointer, int64_t(0));
  int64_t available = d.value("/status/availableReplicas"_json_pointer, int64_t(0));
  std::string prefix = "Waiting for deployment \"" + name + "\" rollout to finish: ";
  if (updated < spec)
    return {prefix + std::to_string(updated) + " out of " + std::to_string(spec) + " new replicas have been updated...\n", false};
  if (replicas > updated) return {prefix + std::to_string(replicas - updated) + " old replicas are pending termination...\n", false};
  if (available < updated)
    return {prefix + std::to_string(available) + " of " + std::to_string(updated) + " updated replicas are available...\n", false};
  return {"deployment \"" + name + "\" successfully rolled out\n", true};
}

int run_status(Invocation& inv) {
  FilenameOptions files;
  bool watch = true;
  int64_t revision = 0;
  std::string timeout = "0s";
  files.add_flags(inv.flags(), "identifying the resource to get from a server.");
  inv.flags().add_bool("watch", 'w', &watch, "Watch the status of the rollout until it's done.");
  inv.flags().add_int("revision", 0, &revision, "Pin to a specific revision for showing its status. Defaults to 0 (last revision).");
  inv.flags().add_string("timeout", 0, &timeout, "The length of time to wait before ending watch, zero means never.");
  if (!inv.parse()) return 0;
  double limit = parse_duration(timeout, "--timeout");
  for (const auto& t : deployments(inv, files)) {
    std::string last;
    bool seen = false;
    bool done = wait_until(inv, *t.kind, t.ns, t.name, [&](const json& d) {
      if (d.is_null()) {
        if (!seen) throw api::StatusError(api::Status::not_found(t.kind->qualified_plural(), t.name));
        throw CliError("object has been deleted");
      }
      seen = true;
      auto [msg, complete] = rollout_status(d, revision);
      inv.out() << msg;
      inv.out().flush();
      return complete || !watch;
    }, limit > 0 ? limit : kWaitForever);
    if (!done) throw CliError("timed out waiting for the condition");
  }
  return 0;
}

// The ReplicaSets the Deployment controls, by revision.
std::map<int64_t, json> history(RestClient& rest, const json& d) {
  std::map<int64_t, json> out;
  std::string ns = d.value("/metadata/namespace"_json_pointer, std::string());
  std::string selector = api::LabelSelector::from_json(d.value("/spec/selector"_json_pointer, json::object())).to_string();
  json rss = rest.call("GET", api::collection_path(resolve_kind("replicasets"), ns) + Query().add("labelSelector", selector).str())
                 .value("items", json::array());
  for (const auto& rs : rss) {
    bool owned = false;
    for (const auto& ref : rs.value("/metadata/ownerReferences"_json_pointer, json::array()))
      if (ref.value("controller", false) && ref.value("uid", "") == d.value("/metadata/uid"_json_pointer, std::string())) owned = true;
    std::string rev = rs.value("/metadata/annotations"_json_pointer, json::object()).value(kRevisionAnnotation, "");
    if (!owned || rev.empty()) continue;
    try {
      out[std::stoll(rev)] = rs;
    } catch (const std::exception&) {
    }
  }
  return out;
}

int run_history(Invocation& inv) {
  FilenameOptions files;
  int64_t revision = 0;
  files.add_flags(inv.flags(), "identifying the resource to get from a server.");
  inv.flags().add_int("revision", 0, &revision, "See the details, including podTemplate of the revision specified");
  if (!inv.parse()) return 0;
  RestClient& rest = inv.session().rest();
  for (const auto& t : deployments(inv, files)) {
    json d = rest.call("GET", api::object_path(*t.kind, t.ns, t.name));
    auto revs = history(rest, d);
    // kubectl prints the heading only once the history (or the revision) was found.
    if (revision > 0 && !revs.empty() && !revs.count(revision)) throw CliError("unable to find the specified revision");
    inv.out() << "deployment.apps/" << t.name << " " << (revision > 0 ? "with revision #" + std::to_string(revision) : "") << "\n";
    if (revs.empty()) {
      inv.out() << "No rollout history found.\n";
      continue;
    }
    if (revision > 0) {
      json tmpl = revs[revision].value("/spec/template"_json_pointer, json::object());
      std::string cause = revs[revision].value("/metadata/annotations"_json_pointer, json::object()).value(kChangeCauseAnnotation, "");
      if (!cause.empty()) tmpl["metadata"]["annotations"][kChangeCauseAnnotation] = cause;
      std::string text;
      {
        DescribeWriter w(text);
        describe_pod_template(w, tmpl);
      }
      inv.out() << text << "\n";
      continue;
    }
    std::string table;
    {
      std::ostringstream s;
      TabWriter tw(s, 0, 2, false);
      tw << "REVISION\tCHANGE-CAUSE\n";
      for (const auto& [r, rs] : revs) {
        std::string cause = rs.value("/metadata/annotations"_json_pointer, json::object()).value(kChangeCauseAnnotation, "");
        tw << std::to_string(r) + "\t" + (cause.empty() ? "<none>" : cause) + "\n";
      }
      tw.flush();
      table = s.str();
    }
    inv.out() << table << "\n";
  }
  return 0;
}

json without_hash_label(json tmpl) {
  if (tmpl.contains("metadata") && tmpl["metadata"].contains("labels")) tmpl["metadata"]["labels"].erase("pod-template-hash");
  return tmpl;
}

int run_undo(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  int64_t to_revision = 0;
  files.add_flags(inv.flags(), "identifying the resource to get from a server.");
  w.add_flags(inv.flags(), "kubectl-rollout", false);
  inv.flags().add_int("to-revision", 0, &to_revision, "The revision to rollback to. Default to 0 (last revision).");
  if (!inv.parse()) return 0;
  RestClient& rest = inv.session().rest();
  OperationPrinter printer(w);
  for (const auto& t : deployments(inv, files)) {
    json d = rest.call("GET", api::object_path(*t.kind, t.ns, t.name));
    if (d.value("/spec/paused"_json_pointer, false)) throw CliError("you cannot rollback a paused deployment; resume it first with 'kctl rollout resume' and try again");
    auto revs = history(rest, d);
    if (revs.empty()) throw CliError("no rollout history found for deployment \"" + t.name + "\"");
    int64_t target = to_revision;
    if (target == 0) {
      if (revs.size() <= 1) throw CliError("no last revision to roll back to");
      target = std::prev(revs.end(), 2)->first;
    }
    if (!revs.count(target)) throw CliError("unable to find specified revision " + std::to_string(target) + " in history");
    json tmpl = without_hash_label(revs[target].value("/spec/template"_json_pointer, json::object()));
    if (tmpl == without_hash_label(d.value("/spec/template"_json_pointer, json::object()))) {
      printer.print(inv.out(), d, "skipped rollback (current template already matches revision " + std::to_string(target) + ")");
      continue;
    }
    // Annotations of the ReplicaSet replace the Deployment's, except those that belong to the Deployment.
    static const std::set<std::string> kSkip = {kLastAppliedAnnotation, kRevisionAnnotation, "deployment.kubernetes.io/revision-history",
                                                "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
                                                "deprecated.deployment.rollback.to"};
    json annotations = json::object();
    json current = d.value("/metadata/annotations"_json_pointer, json::object());
    for (const auto& k : kSkip)
      if (current.contains(k)) annotations[k] = current[k];
    json rs_ann = revs[target].value("/metadata/annotations"_json_pointer, json::object());
    for (auto it = rs_ann.begin(); it != rs_ann.end(); ++it)
      if (!kSkip.count(it.key())) annotations[it.key()] = *it;
    json patch = json::array({{{"op", "replace"}, {"path", "/spec/template"}, {"value", tmpl}},
                              {{"op", "replace"}, {"path", "/metadata/annotations"}, {"value", annotations}}});
    if (w.dry_run_mode() == DryRun::Client) {
      // kubectl's rollbacker shows the template it would restore (hash label included) in place of "rolled back".
      std::string text;
      {
        DescribeWriter dw(text);
        describe_pod_template(dw, revs[target].value("/spec/template"_json_pointer, json::object()));
      }
      printer.print(inv.out(), d, text);
      continue;
    }
    json result;
    try {
      result = rest.call("PATCH", api::object_path(*t.kind, t.ns, t.name) + w.query(false), patch.dump(),
                         api::patch_content_type(api::PatchType::Json));
    } catch (const api::StatusError& e) {
      throw CliError("failed restoring revision " + std::to_string(target) + ": " + e.status().message);
    }
    printer.print(inv.out(), result, "rolled back");
  }
  return 0;
}

// restart, pause and resume: one strategic merge patch each.
int run_patch_verb(Invocation& inv, const std::string& verb) {
  FilenameOptions files;
  WriteFlags w;
  files.add_flags(inv.flags(), "identifying the resource to get from a server.");
  w.add_flags(inv.flags(), "kubectl-rollout", false, false);
  if (!inv.parse()) return 0;
  RestClient& rest = inv.session().rest();
  OperationPrinter printer(w);
  ErrorList errors;
  for (const auto& t : deployments(inv, files)) {
    try {
      json d = rest.call("GET", api::object_path(*t.kind, t.ns, t.name));
      json patch;
      std::string done;
      if (verb == "restart") {
        if (d.value("/spec/paused"_json_pointer, false)) throw CliError("can't restart paused deployment (run rollout resume first)");
        char buf[64];
        std::time_t now = std::time(nullptr);
        std::tm tm{};
        localtime_r(&now, &tm);
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
        std::string ts = buf;
        ts = ts.substr(0, ts.size() - 2) + ":" + ts.substr(ts.size() - 2);  // Go's RFC 3339 offset
        if (ts.ends_with("+00:00")) ts = ts.substr(0, ts.size() - 6) + "Z";
        patch = {{"spec", {{"template", {{"metadata", {{"annotations", {{"kubectl.kubernetes.io/restartedAt", ts}}}}}}}}}};
        done = "restarted";
      } else {
        bool pause = verb == "pause";
        if (d.value("/spec/paused"_json_pointer, false) == pause)
          throw CliError("deployments.apps \"" + t.name + "\" is " + (pause ? "already paused" : "not paused"));
        // kubectl's patch is the difference of typed objects, where paused=false is omitted: resume removes it.
        patch = {{"spec", {{"paused", pause ? json(true) : json(nullptr)}}}};
        done = pause ? "paused" : "resumed";
      }
      json result = w.dry_run_mode() == DryRun::Client ? d
                    : rest.call("PATCH", api::object_path(*t.kind, t.ns, t.name) + w.query(false), patch.dump(),
                                api::patch_content_type(api::PatchType::Strategic));
      printer.print(inv.out(), result, done);
    } catch (const std::exception&) {
      errors.add_current();
    }
  }
  return errors.report(inv.err());
}

std::vector<CommandInfo> rollout_subcommands() {
  return {
      {"history", "", "View rollout history", "View previous rollout revisions and configurations.",
       "rollout history (TYPE NAME | TYPE/NAME) [flags] [options]",
       "  # View the rollout history of a deployment\n  kctl rollout history deployment/abc\n\n"
       "  # View the details of revision 3\n  kctl rollout history deployment/abc --revision=3",
       run_history},
      {"pause", "", "Mark the provided resource as paused", "Mark the provided resource as paused.",
       "rollout pause RESOURCE [options]", "  # Mark the nginx deployment as paused\n  kctl rollout pause deployment/nginx",
       [](Invocation& i) { return run_patch_verb(i, "pause"); }},
      {"restart", "", "Restart a resource", "Restart a resource.\n\n        Resource rollout will be restarted.",
       "rollout restart RESOURCE [options]", "  # Restart a deployment\n  kctl rollout restart deployment/nginx",
       [](Invocation& i) { return run_patch_verb(i, "restart"); }},
      {"resume", "", "Resume a paused resource", "Resume a paused resource.",
       "rollout resume RESOURCE [options]", "  # Resume an already paused deployment\n  kctl rollout resume deployment/nginx",
       [](Invocation& i) { return run_patch_verb(i, "resume"); }},
      {"status", "", "Show the status of the rollout",
       "Show the status of the rollout.\n\n By default 'rollout status' will watch the status of the latest rollout "
       "until it's done. If you don't want to wait for the rollout to finish then you can use --watch=false.",
       "rollout status (TYPE NAME | TYPE/NAME) [flags] [options]",
       "  # Watch the rollout status of a deployment\n  kctl rollout status deployment/nginx", run_status},
      {"undo", "", "Undo a previous rollout", "Roll back to a previous rollout.",
       "rollout undo (TYPE NAME | TYPE/NAME) [flags] [options]",
       "  # Roll back to the previous deployment\n  kctl rollout undo deployment/abc\n\n"
       "  # Roll back to revision 3\n  kctl rollout undo deployment/abc --to-revision=3",
       run_undo},
  };
}

}  // namespace

CommandInfo rollout_command() {
  CommandInfo c{"rollout", "Deploy Commands", "Manage the rollout of a resource",
                "Manage the rollout of one or many resources.\n\n Valid resource types include:\n\n  *  deployments",
                "rollout SUBCOMMAND [options]",
                "  # Rollback to the previous deployment\n  kctl rollout undo deployment/abc\n\n"
                "  # Check the rollout status of a deployment\n  kctl rollout status deployment/abc\n\n"
                "  # Restart a deployment\n  kctl rollout restart deployment/abc",
                nullptr};
  c.subcommands = rollout_subcommands;
  return c;
}

}  // namespace kctl::cli
