// kctl get -w: the initial Table (or objects), then the server's Table watch events printed as kubectl prints
// them, with column widths remembered across events and an EVENT column for --output-watch-events.
#include <ctime>

#include "api/registry.h"
#include "api/resource_path.h"
#include "cli/errors.h"
#include "cli/get_support.h"

namespace kctl::cli {

using nlohmann::json;

std::string human_duration(int64_t s) {
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return std::to_string(s) + "s";
  int64_t m = s / 60;
  if (m < 10) return s % 60 == 0 ? std::to_string(m) + "m" : std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  if (m < 180) return std::to_string(m) + "m";
  int64_t h = s / 3600;
  if (h < 8) return m % 60 == 0 ? std::to_string(h) + "h" : std::to_string(h) + "h" + std::to_string(m % 60) + "m";
  if (h < 48) return std::to_string(h) + "h";
  if (h < 24 * 8) return h % 24 == 0 ? std::to_string(h / 24) + "d" : std::to_string(h / 24) + "d" + std::to_string(h % 24) + "h";
  if (h < 24 * 365 * 2) return std::to_string(h / 24) + "d";
  if (h < 24 * 365 * 8) {
    int64_t dy = (h / 24) % 365;
    return dy == 0 ? std::to_string(h / 24 / 365) + "y" : std::to_string(h / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(h / 24 / 365) + "y";
}

std::string age_since(const std::string& ts) {
  int64_t t = api::kinds::parse_time(ts);
  if (t == 0) return "<unknown>";
  return human_duration(int64_t(std::time(nullptr)) - t);
}

json table_from_object(const json& obj) {
  json table = {{"kind", "Table"},
                {"apiVersion", "meta.k8s.io/v1"},
                {"columnDefinitions",
                 {{{"name", "Name"}, {"type", "string"}, {"format", "name"}, {"priority", 0}},
                  {{"name", "Age"}, {"type", "string"}, {"format", ""}, {"priority", 0}}}},
                {"rows", json::array()}};
  auto add = [&](const json& o) {
    table["rows"].push_back({{"cells", {o.value("/metadata/name"_json_pointer, std::string()),
                                        age_since(o.value("/metadata/creationTimestamp"_json_pointer, std::string()))}},
                             {"object", o}});
  };
  if (obj.contains("items") && obj["items"].is_array()) {
    for (const auto& item : obj["items"]) add(item);
  } else {
    add(obj);
  }
  return table;
}

namespace {

std::string watch_query(const WatchOptions& o, const std::string& name, const std::string& rv) {
  std::string fs = o.field_selector;
  if (!name.empty()) fs = "metadata.name=" + name + (fs.empty() ? "" : "," + fs);
  Query q;
  q.add("labelSelector", o.selector).add("fieldSelector", fs).add("resourceVersion", rv).add("watch", "true");
  return q.str();
}

[[noreturn]] void throw_watch_error(const json& status) {
  api::Status s;
  s.code = status.value("code", 500);
  s.reason = status.value("reason", "");
  s.message = status.value("message", "");
  throw api::StatusError(s);
}

int watch_human(Invocation& inv, const OutputFlags& output, const ResourceRef& r, const std::string& ns,
                const WatchOptions& o) {
  RestClient& rest = inv.session().rest();
  TableOptions to;
  to.wide = output.output == "wide";
  to.no_headers = o.no_headers;
  to.show_labels = o.show_labels;
  to.label_columns = o.label_columns;
  to.with_namespace = o.all_namespaces && r.kind->namespaced;
  TablePrinter printer(to);
  TabWriter tw(inv.out());
  std::string list_path = r.name.empty() ? api::collection_path(*r.kind, ns) +
                                               Query().add("labelSelector", o.selector).add("fieldSelector", o.field_selector).str()
                                         : api::object_path(*r.kind, ns, r.name);
  json initial = rest.call("GET", list_path, "", "", kAcceptTable);
  // A list's resourceVersion starts the watch after it; a single object's watch starts at "0" and its synthetic
  // ADDED event repeats what was just printed.
  std::string rv = r.name.empty() ? initial.value("/metadata/resourceVersion"_json_pointer, std::string()) : "0";
  bool skip_first = !r.name.empty();  // kubectl drops it even with --watch-only
  // kubectl's skipPrinter: what is not shown still teaches the printer its columns (rows removed), since the
  // server may send column definitions only once.
  auto without_rows = [](json t) {
    t["rows"] = json::array();
    return t;
  };
  if (o.output_watch_events) printer.set_event_type("ADDED");
  printer.print(o.watch_only ? without_rows(initial) : initial, tw);
  tw.flush();
  rest.stream_lines(api::collection_path(*r.kind, ns) + watch_query(o, r.name, rv), kAcceptTable,
                    [&](std::string_view line) {
                      json ev = json::parse(line, nullptr, false);
                      if (ev.is_discarded()) return true;
                      std::string type = ev.value("type", "");
                      if (type == "ERROR") throw_watch_error(ev["object"]);
                      if (type == "BOOKMARK") return true;
                      json obj = ev["object"];
                      if (obj.value("kind", "") != "Table") obj = table_from_object(obj);
                      if (skip_first) {
                        skip_first = false;
                        printer.print(without_rows(std::move(obj)), tw);
                        return true;
                      }
                      printer.set_event_type(o.output_watch_events ? type : "");
                      printer.print(std::move(obj), tw);
                      tw.flush();
                      return true;
                    });
  return 0;
}

int watch_generic(Invocation& inv, const OutputFlags& output, const ResourceRef& r, const std::string& ns,
                  const WatchOptions& o) {
  RestClient& rest = inv.session().rest();
  ObjectPrinterPtr printer = make_object_printer(output);
  auto print = [&](const json& obj, const std::string& type) {
    if (o.output_watch_events) printer->print(json{{"type", type}, {"object", obj}}, inv.out());
    else printer->print(obj, inv.out());
    printer->finish(inv.out());
    inv.out().flush();
  };
  std::string rv = "0";
  bool skip_first = !r.name.empty();  // kubectl drops it even with --watch-only
  json initial = rest.call("GET", r.name.empty() ? api::collection_path(*r.kind, ns) +
                                                       Query().add("labelSelector", o.selector).add("fieldSelector", o.field_selector).str()
                                                 : api::object_path(*r.kind, ns, r.name));
  if (r.name.empty()) rv = initial.value("/metadata/resourceVersion"_json_pointer, std::string());
  if (!o.watch_only) {
    if (r.name.empty()) {
      for (auto item : initial.value("items", json::array())) {
        if (!item.contains("kind")) item["kind"] = r.kind->kind;
        if (!item.contains("apiVersion")) item["apiVersion"] = r.kind->api_version();
        print(item, "ADDED");
      }
    } else {
      print(initial, "ADDED");
    }
  }
  rest.stream_lines(api::collection_path(*r.kind, ns) + watch_query(o, r.name, rv), kAcceptJson,
                    [&](std::string_view line) {
                      json ev = json::parse(line, nullptr, false);
                      if (ev.is_discarded()) return true;
                      std::string type = ev.value("type", "");
                      if (type == "ERROR") throw_watch_error(ev["object"]);
                      if (type == "BOOKMARK") return true;
                      if (skip_first) {
                        skip_first = false;
                        return true;
                      }
                      print(ev["object"], type);
                      return true;
                    });
  return 0;
}

}  // namespace

int get_watch(Invocation& inv, const OutputFlags& output, const ResourceArgs& ra, const std::vector<std::string>& nss,
              const WatchOptions& o) {
  if (ra.refs.size() != 1 && (several_kinds(ra.refs) || ra.refs.size() > 1))
    throw CliError("watch is only supported on individual resources and resource collections, but " +
                   std::to_string(ra.refs.size()) + " resources were found");
  if (output.is_human() && output.template_text.empty()) return watch_human(inv, output, ra.refs[0], nss[0], o);
  return watch_generic(inv, output, ra.refs[0], nss[0], o);
}

}  // namespace kctl::cli
