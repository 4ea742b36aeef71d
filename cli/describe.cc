// kctl describe: the verb (names, name prefixes, -l, -A, -f), and kubectl's shared describe helpers: label,
// annotation, taint and toleration blocks, events and the generic describer for kinds without their own.
#include "cli/describe.h"

#include <algorithm>
#include <ctime>
#include <set>

#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/get_support.h"
#include "cli/jsonpath.h"
#include "cli/resource_args.h"

namespace kctl::cli {

using nlohmann::json;

std::string str(const json& obj, const char* pointer, const std::string& fallback) {
  const json::json_pointer p(pointer);
  if (!obj.contains(p)) return fallback;
  const json& v = obj[p];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return fallback;
  return go_sprint(v);
}

std::string format_labels(const json& labels) {
  if (!labels.is_object() || labels.empty()) return "<none>";
  std::string out;
  for (auto it = labels.begin(); it != labels.end(); ++it) out += (out.empty() ? "" : ",") + it.key() + "=" + go_sprint(*it);
  return out;
}

void print_labels_multiline(DescribeWriter& w, const std::string& title, const json& labels,
                            const std::string& initial_indent) {
  w.write(0, initial_indent + title + ":\t");
  if (!labels.is_object() || labels.empty()) return w.line("<none>");
  bool first = true;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (!first) w.write(0, initial_indent + "\t");
    first = false;
    w.write(0, it.key() + "=" + go_sprint(*it) + "\n");
  }
}

void print_annotations_multiline(DescribeWriter& w, const std::string& title, const json& annotations) {
  w.write(0, title + ":\t");
  std::vector<std::string> keys;
  if (annotations.is_object())
    for (auto it = annotations.begin(); it != annotations.end(); ++it)
      if (it.key() != "kubectl.kubernetes.io/last-applied-configuration") keys.push_back(it.key());
  if (keys.empty()) return w.line("<none>");
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) w.write(0, "\t");
    std::string value = go_sprint(annotations[keys[i]]);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (value.size() + keys[i].size() + 2 > kMaxAnnotationLength || value.find('\n') != std::string::npos) {
      w.write(0, keys[i] + ":\n");
      size_t start = 0;
      for (;;) {
        size_t nl = value.find('\n', start);
        std::string s = value.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if (s.size() > kMaxAnnotationLength - 2) s = s.substr(0, kMaxAnnotationLength - 2) + "...";
        w.write(0, "\t  " + s + "\n");
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    } else {
      w.write(0, keys[i] + ": " + value + "\n");
    }
  }
}

void print_tolerations_multiline(DescribeWriter& w, const std::string& title, json tolerations) {
  w.write(0, title + ":\t");
  if (!tolerations.is_array() || tolerations.empty()) return w.line("<none>");
  std::stable_sort(tolerations.begin(), tolerations.end(),
                   [](const json& a, const json& b) { return a.value("key", "") < b.value("key", ""); });
  for (size_t i = 0; i < tolerations.size(); ++i) {
    const json& t = tolerations[i];
    if (i) w.write(0, "\t");
    std::string s = t.value("key", ""), value = t.value("value", ""), effect = t.value("effect", "");
    if (!value.empty()) s += "=" + value;
    if (!effect.empty()) s += ":" + effect;
    if (t.value("operator", "") == "Exists" && value.empty())
      s += !t.value("key", "").empty() || !effect.empty() ? " op=Exists" : "op=Exists";
    if (t.contains("tolerationSeconds") && t["tolerationSeconds"].is_number())
      s += " for " + std::to_string(t["tolerationSeconds"].get<int64_t>()) + "s";
    w.write(0, s + "\n");
  }
}

void print_taints_multiline(DescribeWriter& w, const std::string& title, json taints) {
  w.write(0, title + ":\t");
  if (!taints.is_array() || taints.empty()) return w.line("<none>");
  auto key = [](const json& t) { return t.value("effect", "") + "," + t.value("key", ""); };
  std::stable_sort(taints.begin(), taints.end(), [&](const json& a, const json& b) { return key(a) < key(b); });
  for (size_t i = 0; i < taints.size(); ++i) {
    const json& t = taints[i];
    if (i) w.write(0, "\t");
    std::string s = t.value("key", "");
    if (!t.value("value", "").empty()) s += "=" + t.value("value", "");
    s += ":" + t.value("effect", "");
    w.write(0, s + "\n");
  }
}

std::string rfc1123z(const std::string& ts) {
  time_t tt = time_t(api::kinds::parse_time(ts));
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
}

json search_events(RestClient& rest, const json& obj, bool with_kind, const std::string& uid_override) {
  std::string ns = str(obj, "/metadata/namespace");
  std::string fs = "involvedObject.name=" + str(obj, "/metadata/name") + ",involvedObject.namespace=" + ns;
  if (with_kind) fs += ",involvedObject.kind=" + str(obj, "/kind");
  std::string uid = uid_override.empty() ? str(obj, "/metadata/uid") : uid_override;
  if (!uid.empty()) fs += ",involvedObject.uid=" + uid;
  const api::KindInfo& events = resolve_kind("events");
  try {
    json list = rest.call("GET", api::collection_path(events, ns) + Query().add("fieldSelector", fs).str());
    return list.value("items", json::array());
  } catch (const api::StatusError&) {
    return nullptr;  // kubectl leaves Events out when the search fails
  }
}

namespace {

std::string event_time(const json& e) {
  if (e.contains("series") && e["series"].is_object()) return str(e, "/series/lastObservedTime");
  std::string last = str(e, "/lastTimestamp");
  return last.empty() ? str(e, "/eventTime") : last;
}

std::string since(const std::string& ts) { return ts.empty() ? "<unknown>" : age_since(ts); }

}  // namespace

void describe_events(DescribeWriter& w, json events) {
  if (!events.is_array() || events.empty()) return w.write(0, "Events:\t<none>\n");
  w.flush();
  std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
    return api::kinds::parse_time(event_time(a)) < api::kinds::parse_time(event_time(b));
  });
  w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
  w.write(1, "----\t------\t----\t----\t-------\n");
  for (const auto& e : events) {
    std::string first = str(e, "/eventTime").empty() ? since(str(e, "/firstTimestamp")) : since(str(e, "/eventTime"));
    std::string interval = first;
    int64_t count = e.value("count", int64_t(0));
    if (e.contains("series") && e["series"].is_object())
      interval = since(str(e, "/series/lastObservedTime")) + " (x" + std::to_string(e["series"].value("count", 0)) + " over " + first + ")";
    else if (count > 1)
      interval = since(str(e, "/lastTimestamp")) + " (x" + std::to_string(count) + " over " + first + ")";
    std::string source = str(e, "/source/component");
    if (source.empty()) source = str(e, "/reportingComponent");
    std::string message = str(e, "/message");
    message.erase(0, message.find_first_not_of(" \t\n\r"));
    message.erase(message.find_last_not_of(" \t\n\r") + 1);
    w.write(1, str(e, "/type") + "\t" + str(e, "/reason") + "\t" + interval + "\t" + source + "\t" + message + "\n");
  }
}

namespace {

// fatih/camelcase.Split: runs of lower, upper, digits and others, with "HTTPServer" split as HTTP Server.
std::vector<std::string> camel_split(const std::string& s) {
  std::vector<std::string> runs;
  int last = -1;
  for (char c : s) {
    int cls = std::islower(static_cast<unsigned char>(c)) ? 1 : std::isupper(static_cast<unsigned char>(c)) ? 2
              : std::isdigit(static_cast<unsigned char>(c)) ? 3 : 4;
    if (cls == last) runs.back() += c;
    else runs.emplace_back(1, c);
    last = cls;
  }
  for (size_t i = 0; i + 1 < runs.size(); ++i) {
    bool upper = std::isupper(static_cast<unsigned char>(runs[i][0]));
    bool next_lower = std::islower(static_cast<unsigned char>(runs[i + 1][0]));
    if (upper && next_lower) {
      runs[i + 1] = runs[i].back() + runs[i + 1];
      runs[i].pop_back();
    }
  }
  runs.erase(std::remove(runs.begin(), runs.end(), std::string()), runs.end());
  return runs;
}

std::string smart_label(const std::string& field) {
  for (char c : field)
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-') return field;
  static const std::set<std::string> kAcronyms = {"API", "URL", "UID", "OSB", "GUID"};
  std::string out;
  for (auto part : camel_split(field)) {
    if (part == "_") continue;
    std::string up = part;
    std::transform(up.begin(), up.end(), up.begin(), ::toupper);
    if (kAcronyms.count(up)) part = up;
    else part[0] = char(std::toupper(static_cast<unsigned char>(part[0])));
    out += (out.empty() ? "" : " ") + part;
  }
  return out;
}

void print_unstructured(DescribeWriter& w, int level, const json& content, const std::string& prefix) {
  static const std::set<std::string> kSkip = {".metadata.managedFields", ".metadata.name", ".metadata.namespace",
                                              ".metadata.labels", ".metadata.annotations"};
  for (auto it = content.begin(); it != content.end(); ++it) {
    std::string path = prefix + "." + it.key();
    if (kSkip.count(path)) continue;
    const json& v = *it;
    if (v.is_object()) {
      w.write(level, smart_label(it.key()) + ":\n");
      print_unstructured(w, level + 1, v, path);
    } else if (v.is_array()) {
      w.write(level, smart_label(it.key()) + ":\n");
      for (const auto& child : v) {
        if (child.is_object()) print_unstructured(w, level + 1, child, path);
        else w.write(level + 1, go_sprint(child) + "\n");
      }
    } else {
      w.write(level, smart_label(it.key()) + ":\t" + go_sprint(v) + "\n");
    }
  }
}

}  // namespace

std::string describe_generic(const json& obj, const json* events) {
  std::string out;
  DescribeWriter w(out);
  w.write(0, "Name:\t" + str(obj, "/metadata/name") + "\n");
  w.write(0, "Namespace:\t" + str(obj, "/metadata/namespace") + "\n");
  print_labels_multiline(w, "Labels", obj.value("/metadata/labels"_json_pointer, json::object()));
  print_annotations_multiline(w, "Annotations", obj.value("/metadata/annotations"_json_pointer, json::object()));
  print_unstructured(w, 0, obj, "");
  if (events && !events->is_null()) describe_events(w, *events);
  w.finish();
  return out;
}

namespace {

int run_describe(Invocation& inv) {
  FilenameOptions files;
  std::string selector;
  bool all_namespaces = false, show_events = true;
  int64_t chunk_size = 500;
  files.add_flags(inv.flags(), "containing the resource to describe");
  inv.flags().add_string("selector", 'l', &selector, "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.");
  inv.flags().add_bool("all-namespaces", 'A', &all_namespaces, "If present, list the requested object(s) across all namespaces.");
  inv.flags().add_bool("show-events", 0, &show_events, "If true, display events related to the described object.");
  inv.flags().add_int("chunk-size", 0, &chunk_size, "Return large lists in chunks rather than all at once (accepted for kubectl compatibility).");
  if (!inv.parse()) return 0;
  RestClient& rest = inv.session().rest();
  std::vector<std::pair<const api::KindInfo*, json>> objects;
  std::vector<std::string> errors;
  bool by_prefix = false;
  auto list = [&](const api::KindInfo& k, const std::string& ns) {
    return rest.call("GET", api::collection_path(k, ns) + Query().add("labelSelector", selector).str()).value("items", json::array());
  };
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) {
      try {
        objects.push_back({m.kind, rest.call("GET", api::object_path(*m.kind, m.ns, m.name))});
      } catch (const api::StatusError& e) {
        errors.push_back(standard_error_message(e.status()));
      }
    }
  } else {
    ResourceArgs ra = parse_resource_args(inv.args());
    if (ra.refs.empty()) throw CliError("You must specify the type of resource to describe. Use \"kctl api-resources\" for a complete list of supported resources.");
    for (const auto& r : ra.refs) {
      std::string ns = r.kind->namespaced ? (all_namespaces ? "" : inv.session().ns()) : "";
      if (r.name.empty()) {
        for (auto& o : list(*r.kind, ns)) objects.push_back({r.kind, o});
        continue;
      }
      try {
        objects.push_back({r.kind, rest.call("GET", api::object_path(*r.kind, ns, r.name))});
      } catch (const api::StatusError& e) {
        // For `describe TYPE NAME` only, kubectl describes every object whose name starts with what was typed.
        if (e.status().code != 404 || inv.args().size() != 2) {
          errors.push_back(standard_error_message(e.status()));
          continue;
        }
        by_prefix = true;
        bool any = false;
        for (auto& o : list(*r.kind, ns))
          if (str(o, "/metadata/name").rfind(r.name, 0) == 0) {
            objects.push_back({r.kind, o});
            any = true;
          }
        if (!any) errors.push_back(standard_error_message(e.status()));
      }
    }
  }
  bool first = true;
  for (const auto& [kind, obj] : objects) {
    json o = obj;
    if (!o.contains("kind")) o["kind"] = kind->kind;
    if (!o.contains("apiVersion")) o["apiVersion"] = kind->api_version();
    std::string text = describe_object(rest, *kind, o, show_events);
    // DescribeMatchingResources ends each description with a newline; the normal path separates them by a blank
    // line.
    if (by_prefix) inv.out() << text << "\n";
    else inv.out() << (first ? "" : "\n\n") << text;
    first = false;
  }
  if (objects.empty() && errors.empty() && inv.args().size() <= 1 && files.empty()) {
    if (inv.session().ns().empty() || all_namespaces) inv.err() << "No resources found\n";
    else inv.err() << "No resources found in " << inv.session().ns() << " namespace.\n";
  }
  for (const auto& e : errors) inv.err() << e << "\n";
  return errors.empty() ? 0 : kErrorExitCode;
}

}  // namespace

CommandInfo describe_command() {
  return {"describe", "Troubleshooting and Debugging Commands", "Show details of a specific resource or group of resources",
          "Show details of a specific resource or group of resources.\n\n"
          " Print a detailed description of the selected resources, including related resources such as events or "
          "controllers. You may select a single object by name, all objects of that type, provide a name prefix, or "
          "label selector. For example:\n\n        $ kctl describe TYPE NAME_PREFIX\n\n"
          " will first check for an exact match on TYPE and NAME_PREFIX. If no such resource exists, it will output "
          "details for every resource that has a name prefixed with NAME_PREFIX.\n\n"
          "Use \"kctl api-resources\" for a complete list of supported resources.",
          "describe (-f FILENAME | TYPE [NAME_PREFIX | -l label] | TYPE/NAME) [options]",
          "  # Describe a node\n  kctl describe nodes kubernetes-node-emt8.c.myproject.internal\n\n"
          "  # Describe a pod\n  kctl describe pods/nginx\n\n"
          "  # Describe a pod identified by type and name in \"pod.json\"\n  kctl describe -f pod.json\n\n"
          "  # Describe all pods\n  kctl describe pods\n\n"
          "  # Describe pods by label name=myLabel\n  kctl describe pods -l name=myLabel\n\n"
          "  # Describe all pods managed by the 'frontend' replication controller\n"
          "  # (rc-created pods get the name of the rc as a prefix in the pod name)\n  kctl describe pods frontend",
          run_describe};
}

}  // namespace kctl::cli
