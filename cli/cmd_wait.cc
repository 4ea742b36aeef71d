// kctl wait --for=delete|create|condition=NAME[=VALUE]|jsonpath=EXPR[=VALUE]: each object watched until the
// condition holds or --timeout passes, with kubectl's "condition met" and "timed out" wording.
#include <algorithm>

#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/jsonpath.h"
#include "cli/printers.h"
#include "cli/resource_args.h"
#include "cli/waiting.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

bool iequal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// ConditionalWait.checkCondition: the named condition's status, skipping a stale observedGeneration.
bool condition_met(const json& obj, const std::string& name, const std::string& value) {
  for (const auto& c : obj.value("/status/conditions"_json_pointer, json::array())) {
    if (!c.is_object() || !iequal(c.value("type", ""), name) || !c.contains("status")) continue;
    if (obj.contains("/metadata/generation"_json_pointer)) {
      int64_t gen = obj["metadata"]["generation"].get<int64_t>();
      const json* observed = c.contains("observedGeneration") ? &c["observedGeneration"]
                             : obj.contains("/status/observedGeneration"_json_pointer) ? &obj["status"]["observedGeneration"] : nullptr;
      if (observed && observed->is_number() && observed->get<int64_t>() < gen) return false;
    }
    return iequal(c.value("status", ""), value);
  }
  return false;
}

struct Condition {
  enum class Kind { Delete, Create, Condition, JsonPath } kind = Kind::Condition;
  std::string name, value;
  bool has_value = false;
};

Condition parse_for(const std::string& f) {
  Condition c;
  if (f == "delete") c.kind = Condition::Kind::Delete;
  else if (f == "create") c.kind = Condition::Kind::Create;
  else if (f.rfind("condition=", 0) == 0) {
    std::string rest = f.substr(10);
    auto eq = rest.find('=');
    c.name = rest.substr(0, eq);
    c.value = eq == std::string::npos ? "true" : rest.substr(eq + 1);
  } else if (f.rfind("jsonpath=", 0) == 0) {
    c.kind = Condition::Kind::JsonPath;
    std::string rest = f.substr(9);
    size_t close = rest.rfind('}');
    auto eq = rest.find('=', close == std::string::npos ? 0 : close);
    c.name = rest.substr(0, eq);
    if (eq != std::string::npos) {
      c.value = rest.substr(eq + 1);
      c.has_value = true;
    }
  } else {
    throw CliError("unrecognized condition: \"" + f + "\"");
  }
  return c;
}

bool jsonpath_met(const json& obj, const Condition& c) {
  JsonPath jp = JsonPath::parse(relaxed_jsonpath(c.name));
  auto results = jp.find_results(obj);
  if (results.empty() || results[0].empty()) return false;
  if (!c.has_value) return true;
  const json& v = results[0][0];
  return (v.is_string() ? v.get<std::string>() : go_sprint(v)) == c.value;
}

int run_wait(Invocation& inv) {
  FilenameOptions files;
  std::string for_, timeout = "30s", selector, field_selector;
  bool all = false, all_namespaces = false;
  auto& f = inv.flags();
  files.add_flags(f, "identifying the resource.");
  f.add_string("for", 0, &for_, "The condition to wait on: [create|delete|condition=condition-name[=condition-value]|jsonpath='{JSONPath expression}'=[JSONPath value]]. The default condition-value is true. Condition values are compared after Unicode simple case folding, which is a more general form of case-insensitivity.");
  f.add_string("timeout", 0, &timeout, "The length of time to wait before giving up.  Zero means check once and don't wait, negative means wait for a week.");
  f.add_string("selector", 'l', &selector, "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.");
  f.add_string("field-selector", 0, &field_selector, "Selector (field query) to filter on, supports '=', '==', and '!='.");
  f.add_bool("all", 0, &all, "Select all resources in the namespace of the specified resource types");
  f.add_bool("all-namespaces", 'A', &all_namespaces, "If present, list the requested object(s) across all namespaces.");
  if (!inv.parse()) return 0;
  if (for_.empty()) throw CliError("--for must be specified");
  Condition cond = parse_for(for_);
  double limit = parse_duration(timeout, "--timeout");
  if (limit < 0) limit = kWaitForever;
  struct Target {
    const api::KindInfo* kind;
    std::string ns, name;
  };
  std::vector<Target> targets;
  RestClient& rest = inv.session().rest();
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) targets.push_back({m.kind, m.ns, m.name});
  } else {
    ResourceArgs ra = parse_resource_args(inv.args());
    if (ra.refs.empty()) throw CliError("resource(s) were provided, but no name was specified");
    for (const auto& r : ra.refs) {
      std::string ns = r.kind->namespaced ? inv.session().ns() : "";
      if (!r.name.empty()) {
        targets.push_back({r.kind, ns, r.name});
        continue;
      }
      json list = rest.call("GET", api::collection_path(*r.kind, all_namespaces ? "" : ns) +
                                       Query().add("labelSelector", selector).add("fieldSelector", field_selector).str());
      for (const auto& item : list.value("items", json::array()))
        targets.push_back({r.kind, item.value("/metadata/namespace"_json_pointer, ns), item.value("/metadata/name"_json_pointer, std::string())});
    }
    if (targets.empty()) throw CliError("no matching resources found");
  }
  for (const auto& t : targets) {
    std::string label = kind_group(t.kind->kind, t.kind->group) + "/" + t.name;
    bool met;
    if (cond.kind == Condition::Kind::Delete) {
      try {
        rest.call("GET", api::object_path(*t.kind, t.ns, t.name));
      } catch (const api::StatusError& e) {
        if (e.status().code == 404) continue;  // already gone: kubectl says nothing
        throw;
      }
      met = wait_until_deleted(inv, *t.kind, t.ns, t.name, "", limit > 0 ? limit : 0.001);
    } else {
      bool missing_ok = cond.kind == Condition::Kind::Create;
      met = wait_until(inv, *t.kind, t.ns, t.name, [&](const json& obj) {
        if (obj.is_null()) {
          if (!missing_ok) throw api::StatusError(api::Status::not_found(t.kind->qualified_plural(), t.name, t.kind->group));
          return false;
        }
        if (cond.kind == Condition::Kind::Create) return true;
        if (cond.kind == Condition::Kind::JsonPath) return jsonpath_met(obj, cond);
        return condition_met(obj, cond.name, cond.value);
      }, limit > 0 ? limit : 0.001);
    }
    if (!met) throw CliError("timed out waiting for the condition on " + t.kind->qualified_plural() + "/" + t.name);
    inv.out() << label << " condition met\n";
  }
  return 0;
}

}  // namespace

CommandInfo wait_command() {
  return {"wait", "Advanced Commands", "Experimental: Wait for a specific condition on one or many resources",
          "Experimental: Wait for a specific condition on one or many resources.\n\n"
          " The command takes multiple resources and waits until the specified condition is seen in the Status field "
          "of every given resource.\n\n Alternatively, the command can wait for the given set of resources to be "
          "created or deleted by providing the \"create\" or \"delete\" keyword as the value to the --for flag.\n\n"
          " A successful message will be printed to stdout indicating when the specified condition has been met. You "
          "can use -o option to change to output destination.",
          "wait ([-f FILENAME] | resource.group/resource.name | resource.group [(-l label | --all)]) [--for=create|--for=delete|--for condition=available|--for=jsonpath='{}'[=value]] [options]",
          "  # Wait for the pod \"busybox1\" to contain the status condition of type \"Ready\"\n"
          "  kctl wait --for=condition=Ready pod/busybox1\n\n"
          "  # Wait for the pod \"busybox1\" to contain the status phase to be \"Running\"\n"
          "  kctl wait --for=jsonpath='{.status.phase}'=Running pod/busybox1\n\n"
          "  # Wait for the pod \"busybox1\" to be deleted, with a timeout of 60s, after having issued the \"delete\" command\n"
          "  kctl delete pod/busybox1\n  kctl wait --for=delete pod/busybox1 --timeout=60s",
          run_wait};
}

}  // namespace kctl::cli
