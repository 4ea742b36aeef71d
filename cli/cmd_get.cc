// kctl get: server-side Tables for human output (one request per kind, no discovery), the generic -o printers
// over a List, --sort-by, -w/--watch-only with the server's Table watch, and kubectl's "No resources found".
#include <sstream>

#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/get_support.h"
#include "cli/printers.h"
#include "cli/resource_args.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

struct GetOptions {
  OutputFlags output;
  FilenameOptions files;
  std::string selector, field_selector, sort_by, raw;
  std::vector<std::string> label_columns;
  bool all_namespaces = false, watch = false, watch_only = false, output_watch_events = false;
  bool show_labels = false, show_kind = false, no_headers = false, ignore_not_found = false;
  int64_t chunk_size = 500;

  void add_flags(FlagSet& f) {
    output.add_flags(f, "json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, "
                        "jsonpath-as-json, jsonpath-file, custom-columns, custom-columns-file, wide");
    files.add_flags(f, "identifying the resource to get from a server.");
    f.add_bool("all-namespaces", 'A', &all_namespaces,
               "If present, list the requested object(s) across all namespaces. Namespace in current context is "
               "ignored even if specified with --namespace.");
    f.add_string("selector", 'l', &selector,
                 "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l "
                 "key1=value1,key2=value2,key3 in (value3)). Matching objects must satisfy all of the specified "
                 "label constraints.");
    f.add_string("field-selector", 0, &field_selector,
                 "Selector (field query) to filter on, supports '=', '==', and '!='.(e.g. --field-selector "
                 "key1=value1,key2=value2). The server only supports a limited number of field queries per type.");
    f.add_bool("watch", 'w', &watch, "After listing/getting the requested object, watch for changes.");
    f.add_bool("watch-only", 0, &watch_only, "Watch for changes to the requested object(s), without listing/getting first.");
    f.add_bool("output-watch-events", 0, &output_watch_events,
               "Output watch event objects when --watch or --watch-only is used. Existing objects are output as "
               "initial ADDED events.");
    f.add_bool("show-labels", 0, &show_labels,
               "When printing, show all labels as the last column (default hide labels column)");
    f.add_strings("label-columns", 'L', &label_columns,
                  "Accepts a comma separated list of labels that are going to be presented as columns. Names are "
                  "case-sensitive. You can also use multiple flag options like -L label1 -L label2...");
    f.add_string("sort-by", 0, &sort_by,
                 "If non-empty, sort list types using this field specification.  The field specification is "
                 "expressed as a JSONPath expression (e.g. '{.metadata.name}').");
    f.add_bool("show-kind", 0, &show_kind, "If present, list the resource type for the requested object(s).");
    f.add_bool("no-headers", 0, &no_headers,
               "When using the default or custom-column output format, don't print headers (default print headers).");
    f.add_bool("ignore-not-found", 0, &ignore_not_found,
               "If set to true, suppresses NotFound error for specific objects that do not exist. Using this flag "
               "with commands that query for objects like pods will not print an error.");
    f.add_string("raw", 0, &raw, "Raw URI to request from the server.  Uses the transport specified by the kubeconfig file.");
    f.add_int("chunk-size", 0, &chunk_size,
              "Return large lists in chunks rather than all at once. Pass 0 to disable. (kctl's server answers in "
              "one piece; accepted for kubectl compatibility)");
  }
};

const char* kGetLong =
    "Display one or many resources.\n\n"
    " Prints a table of the most important information about the specified resources. You can filter the list "
    "using a label selector and the --selector flag. If the desired resource type is namespaced you will only see "
    "results in the current namespace unless you pass --all-namespaces.\n\n"
    " By specifying the output as 'template' and providing a Go template as the value of the --template flag, you "
    "can filter the attributes of the fetched resources.\n\n"
    "Use \"kctl api-resources\" for a complete list of supported resources.";

const char* kGetExamples =
    "  # List all pods in ps output format\n"
    "  kctl get pods\n\n"
    "  # List all pods in ps output format with more information (such as node name)\n"
    "  kctl get pods -o wide\n\n"
    "  # List a single replication controller with specified NAME in ps output format\n"
    "  kctl get replicationcontroller web\n\n"
    "  # List deployments in JSON output format, in the \"v1\" version of the \"apps\" API group\n"
    "  kctl get deployments.v1.apps -o json\n\n"
    "  # List a single pod in JSON output format\n"
    "  kctl get -o json pod web-pod-13je7\n\n"
    "  # List resources from a type and name specified in \"pod.yaml\" in JSON output format\n"
    "  kctl get -f pod.yaml -o json\n\n"
    "  # Return only the phase value of the specified pod\n"
    "  kctl get -o template pod/web-pod-13je7 --template={{.status.phase}}\n\n"
    "  # List resource information in custom columns\n"
    "  kctl get pod test-pod -o custom-columns=CONTAINER:.spec.containers[0].name,IMAGE:.spec.containers[0].image\n\n"
    "  # List all replication controllers and services together in ps output format\n"
    "  kctl get rc,services\n\n"
    "  # List one or more resources by their type and names\n"
    "  kctl get rc/web service/frontend pods/web-pod-13je7\n\n"
    "  # Watch pods for changes\n"
    "  kctl get pods -w";

// The refs from the arguments or from -f; -f objects are fetched by name.
ResourceArgs collect_refs(Invocation& inv, const GetOptions& o, std::vector<std::string>& namespaces) {
  ResourceArgs ra;
  if (!o.files.empty()) {
    auto manifests = read_manifests(o.files, inv.session(), inv.in(), false);
    for (const auto& m : manifests) {
      ra.refs.push_back({m.kind, m.name});
      namespaces.push_back(m.ns);
    }
    ra.singular = manifests.size() == 1;
    return ra;
  }
  ra = parse_resource_args(inv.args());
  if (ra.refs.empty())
    throw CliError("You must specify the type of resource to get. Use \"kctl api-resources\" for a complete list of "
                   "supported resources.\n\nerror: Required resource not specified.\nUse \"kctl explain <resource>\" for "
                   "a detailed description of that resource (e.g. kctl explain pods).\nSee 'kctl get -h' for help and "
                   "examples",
                   true);
  if (!o.selector.empty())
    for (const auto& r : ra.refs)
      if (!r.name.empty()) throw CliError("name cannot be provided when a selector is specified");
  std::string ns = inv.session().ns();
  for (const auto& r : ra.refs) namespaces.push_back(r.kind->namespaced ? (o.all_namespaces && r.name.empty() ? "" : ns) : "");
  return ra;
}

std::string list_query(const GetOptions& o, bool want_objects) {
  Query q;
  q.add("labelSelector", o.selector).add("fieldSelector", o.field_selector);
  if (want_objects) q.add("includeObject", "Object");
  return q.str();
}

int print_errors(Invocation& inv, const std::vector<std::string>& errors) {
  for (const auto& e : errors) inv.err() << e << "\n";
  return errors.empty() ? 0 : kErrorExitCode;
}

int get_human(Invocation& inv, const GetOptions& o, const ResourceArgs& ra, const std::vector<std::string>& nss) {
  RestClient& rest = inv.session().rest();
  bool with_kind = o.show_kind || several_kinds(ra.refs);
  std::vector<std::string> errors;
  // Every answer first, as kubectl collects its infos before printing.
  struct Answer {
    const api::KindInfo* kind;
    json table;
  };
  std::vector<Answer> answers;
  bool all_namespaced = !o.all_namespaces;
  for (size_t i = 0; i < ra.refs.size(); ++i) {
    const ResourceRef& r = ra.refs[i];
    all_namespaced = all_namespaced && r.kind->namespaced;
    try {
      std::string path = r.name.empty() ? api::collection_path(*r.kind, nss[i]) + list_query(o, !o.sort_by.empty())
                                        : api::object_path(*r.kind, nss[i], r.name) +
                                              (o.sort_by.empty() ? "" : "?includeObject=Object");
      answers.push_back({r.kind, rest.call("GET", path, "", "", kAcceptTable)});
    } catch (const api::StatusError& e) {
      if (!(o.ignore_not_found && e.status().code == 404)) errors.push_back(standard_error_message(e.status()));
    }
  }
  if (!o.sort_by.empty() && answers.size() > 1) {
    // kubectl's RuntimeSorter sees several answers as plain objects (Tables, not their rows): it orders them by
    // the field, and fails when none has it, which is what `get pods,cm --sort-by=.metadata.name` does (#104318).
    std::vector<json> tables;
    for (const auto& a : answers) tables.push_back(a.table);
    std::vector<Answer> sorted;
    for (size_t i : sorted_positions(tables, o.sort_by)) sorted.push_back(std::move(answers[i]));
    answers = std::move(sorted);
  }
  std::ostringstream block;
  std::unique_ptr<TabWriter> tw;
  std::unique_ptr<TablePrinter> printer;
  const api::KindInfo* last = nullptr;
  bool wrote = false, separator = false;
  auto emit = [&] {
    if (tw) tw->flush();
    if (block.str().empty()) return;
    if (separator) inv.out() << "\n";
    separator = false;
    inv.out() << block.str();
    block.str("");
    wrote = true;
  };
  for (auto& [kind, table] : answers) {
    if (table.value("kind", "") != "Table") table = table_from_object(table);
    if (!o.sort_by.empty()) sort_table(table, o.sort_by);
    if (kind != last) {
      emit();
      if (last && !o.no_headers && wrote) separator = true;
      TableOptions to;
      to.wide = o.output.output == "wide";
      to.no_headers = o.no_headers;
      to.show_labels = o.show_labels;
      to.label_columns = o.label_columns;
      to.with_namespace = o.all_namespaces && kind->namespaced;
      if (with_kind) to.kind_prefix = kind_group(kind->kind, kind->group);
      printer = std::make_unique<TablePrinter>(to);
      tw = std::make_unique<TabWriter>(block);
      last = kind;
    }
    printer->print(std::move(table), *tw);
  }
  emit();
  if (!wrote && errors.empty() && !o.ignore_not_found) {
    if (all_namespaced) inv.err() << "No resources found in " << inv.session().ns() << " namespace.\n";
    else inv.err() << "No resources found\n";
  }
  return print_errors(inv, errors);
}

int get_generic(Invocation& inv, const GetOptions& o, const ResourceArgs& ra, const std::vector<std::string>& nss) {
  ObjectPrinterPtr printer = make_object_printer(o.output);
  RestClient& rest = inv.session().rest();
  std::vector<json> items;
  std::vector<std::string> errors;
  for (size_t i = 0; i < ra.refs.size(); ++i) {
    const ResourceRef& r = ra.refs[i];
    try {
      if (!r.name.empty()) {
        items.push_back(rest.call("GET", api::object_path(*r.kind, nss[i], r.name)));
        continue;
      }
      json list = rest.call("GET", api::collection_path(*r.kind, nss[i]) + list_query(o, false));
      for (auto& item : list.value("items", json::array())) {
        if (!item.contains("kind")) item["kind"] = r.kind->kind;
        if (!item.contains("apiVersion")) item["apiVersion"] = r.kind->api_version();
        items.push_back(std::move(item));
      }
    } catch (const api::StatusError& e) {
      if (!(o.ignore_not_found && e.status().code == 404)) errors.push_back(standard_error_message(e.status()));
    }
  }
  if (items.empty() && o.ignore_not_found) return print_errors(inv, errors);
  if (ra.singular && !errors.empty()) return print_errors(inv, errors);  // kubectl prints no List then
  if (!o.sort_by.empty()) sort_items(items, o.sort_by);
  json obj;
  if (ra.singular && items.size() == 1 && errors.empty()) {
    obj = std::move(items[0]);
  } else {
    obj = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}, {"metadata", {{"resourceVersion", ""}}}};
    for (auto& item : items) obj["items"].push_back(std::move(item));
  }
  printer->print(obj, inv.out());
  printer->finish(inv.out());
  return print_errors(inv, errors);
}

int run_get(Invocation& inv) {
  GetOptions o;
  o.add_flags(inv.flags());
  if (!inv.parse()) return 0;
  o.output.no_headers = o.no_headers;
  o.output.allows_wide = true;
  if (!o.raw.empty()) {
    inv.out() << inv.session().rest().call_text("GET", o.raw, "application/json, */*");
    return 0;
  }
  std::vector<std::string> nss;
  ResourceArgs ra = collect_refs(inv, o, nss);
  if (o.watch || o.watch_only) return get_watch(inv, o.output, ra, nss, {o.selector, o.field_selector, o.all_namespaces,
                                                                          o.watch_only, o.output_watch_events,
                                                                          o.show_labels, o.no_headers, o.label_columns});
  if (o.output.is_human() && o.output.template_text.empty()) return get_human(inv, o, ra, nss);
  return get_generic(inv, o, ra, nss);
}

}  // namespace

CommandInfo get_command() {
  return {"get", "Basic Commands (Intermediate)", "Display one or many resources", kGetLong,
          "get [(-o|--output=)json|yaml|name|go-template|go-template-file|template|templatefile|jsonpath|jsonpath-as-"
          "json|jsonpath-file|custom-columns|custom-columns-file|wide] (TYPE[.VERSION][.GROUP] [NAME | -l label] | "
          "TYPE[.VERSION][.GROUP]/NAME ...) [flags] [options]",
          kGetExamples, run_get};
}

}  // namespace kctl::cli
