// kubectl's tableprinter.go (decorateTable, printTable), sorter.go (TableSorter) and the -o printers
// (yaml, json, name, jsonpath, go-template, custom-columns) over the JSON the server sends.
#include "cli/printers.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "api/codec.h"
#include "api/quantity.h"
#include "cli/errors.h"
#include "cli/go_template.h"
#include "cli/jsonpath.h"

namespace kctl::cli {

using nlohmann::json;

std::string kind_group(const std::string& kind, const std::string& group) {
  std::string k = kind;
  std::transform(k.begin(), k.end(), k.begin(), ::tolower);
  return group.empty() ? k : k + "." + group;
}

std::string kind_group_of(const json& obj) {
  std::string av = obj.value("apiVersion", ""), kind = obj.value("kind", "");
  auto slash = av.find('/');
  return kind_group(kind, slash == std::string::npos ? "" : av.substr(0, slash));
}

namespace {

constexpr size_t kEventTypeWidth = 8;

std::string format_labels_sorted(const json& labels) {
  if (!labels.is_object() || labels.empty()) return "<none>";
  std::string out;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (!out.empty()) out += ',';
    out += it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
  }
  return out;
}

// A cell as kubectl's printTable writes it: strings cut at the first line break ("..." marks the cut).
std::string cell_text(const json& cell) {
  if (cell.is_null()) return "";
  if (!cell.is_string()) return go_sprint(cell);
  std::string s = cell.get<std::string>();
  auto brk = s.find_first_of("\f\n\r");
  if (brk != std::string::npos) s = s.substr(0, brk) + "...";
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

// decorateTable: NAMESPACE first, kind/name, -L columns and LABELS last.
void decorate(json& table, const TableOptions& o) {
  json& cols = table["columnDefinitions"];
  int name_col = -1;
  if (!o.kind_prefix.empty())
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i].value("format", "") == "name" && cols[i].value("type", "") == "string") {
        name_col = int(i);
        break;
      }
  json out_cols = json::array();
  if (o.with_namespace) out_cols.push_back({{"name", "Namespace"}, {"type", "string"}, {"priority", 0}});
  for (const auto& c : cols) out_cols.push_back(c);
  for (const auto& l : o.label_columns) {
    std::string key = l.substr(l.rfind('/') == std::string::npos ? 0 : l.rfind('/') + 1);
    out_cols.push_back({{"name", upper(key)}, {"type", "string"}, {"priority", 0}});
  }
  if (o.show_labels) out_cols.push_back({{"name", "Labels"}, {"type", "string"}, {"priority", 0}});
  size_t width = out_cols.size();
  bool labels = !o.label_columns.empty() || o.show_labels;
  for (auto& row : table["rows"]) {
    json& cells = row["cells"];
    if (name_col >= 0 && size_t(name_col) < cells.size())
      cells[size_t(name_col)] = o.kind_prefix + "/" + cell_text(cells[size_t(name_col)]);
    const json* meta = nullptr;
    if (row.contains("object") && row["object"].is_object() && row["object"].contains("metadata"))
      meta = &row["object"]["metadata"];
    if (!meta) {
      if (o.with_namespace) cells.insert(cells.begin(), json(nullptr));
      while (cells.size() < width) cells.push_back(nullptr);
      continue;
    }
    if (o.with_namespace) cells.insert(cells.begin(), json(meta->value("namespace", "")));
    if (!labels) continue;
    json lab = meta->contains("labels") ? (*meta)["labels"] : json::object();
    while (cells.size() < cols.size() + (o.with_namespace ? 1 : 0)) cells.push_back(nullptr);
    for (const auto& l : o.label_columns)
      cells.push_back(lab.is_object() && lab.contains(l) && lab[l].is_string() ? lab[l].get<std::string>() : "");
    if (o.show_labels) cells.push_back(format_labels_sorted(lab));
  }
  cols = out_cols;
}

}  // namespace

void TablePrinter::print(json table, TabWriter& out) {
  TableOptions local = options_;
  json& cols = table["columnDefinitions"];
  if (!cols.is_array()) cols = json::array();
  if (!table.contains("rows") || !table["rows"].is_array()) table["rows"] = json::array();
  if (printed_headers_ && (cols.empty() || cols == last_columns_)) local.no_headers = true;
  if (cols.empty()) {
    cols = last_columns_;
  } else if (cols != last_columns_) {
    last_columns_ = cols;
    printed_headers_ = false;
  }
  if (!table["rows"].empty()) printed_headers_ = true;
  decorate(table, local);
  if (!local.event_type.empty()) {
    // formatEventType: padded to the longest type ("MODIFIED") so the column does not jump
    std::string type = local.event_type;
    if (type.size() < kEventTypeWidth) type += std::string(kEventTypeWidth - type.size(), ' ');
    cols.insert(cols.begin(), json{{"name", "Event"}, {"type", "string"}, {"priority", 0}});
    for (auto& row : table["rows"]) row["cells"].insert(row["cells"].begin(), json(type));
  }
  std::string text;
  if (!local.no_headers) {
    if (table["rows"].empty()) return;
    bool first = true;
    for (const auto& c : cols) {
      if (!local.wide && c.value("priority", 0) != 0) continue;
      if (!first) text += '\t';
      first = false;
      text += upper(c.value("name", ""));
    }
    text += '\n';
  }
  for (const auto& row : table["rows"]) {
    const json& cells = row["cells"];
    bool first = true;
    for (size_t i = 0; i < cells.size() && i < cols.size(); ++i) {
      if (!local.wide && cols[i].value("priority", 0) != 0) continue;
      if (!first) text += '\t';
      first = false;
      text += cell_text(cells[i]);
    }
    text += '\n';
  }
  out.write(text);
}

namespace {

// sorter.go's isLess on the first value the path finds in each object.
bool value_less(const json& a, const json& b) {
  if (a.is_null() && b.is_null()) return false;
  if (a.is_null()) return true;
  if (b.is_null()) return false;
  if (a.is_number() && b.is_number()) return a.get<double>() < b.get<double>();
  if (a.is_string() && b.is_string()) {
    auto qa = api::Quantity::try_parse(a.get<std::string>()), qb = api::Quantity::try_parse(b.get<std::string>());
    if (qa && qb) return qa->compare(*qb) < 0;
    // kubectl 1.33 orders these bytewise ("c10" before "c2"), as observed against it
    return a.get<std::string>() < b.get<std::string>();
  }
  if (a.is_boolean() && b.is_boolean()) return !a.get<bool>() && b.get<bool>();
  return a.dump() < b.dump();
}

// The order of objs by the field (stable; objects without it first). require_found: fail as SortObjects does when
// no object has the field (TableSorter does not check).
template <typename Get>
std::vector<size_t> order_by_path(const std::vector<json>& objs, const std::string& sort_by, bool require_found,
                                  Get get_object) {
  JsonPath jp = JsonPath::parse(relaxed_jsonpath(sort_by));
  std::vector<std::optional<json>> keys;
  bool found_any = false;
  for (const auto& o : objs) {
    auto results = jp.find_results(get_object(o));
    std::optional<json> key;
    if (!results.empty() && !results[0].empty()) key = results[0][0];
    found_any = found_any || key.has_value();
    keys.push_back(std::move(key));
  }
  if (require_found && !found_any && !objs.empty())
    throw CliError("couldn't find any field with path \"" + relaxed_jsonpath(sort_by) + "\" in the list of objects");
  std::vector<size_t> order(objs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (!keys[x]) return bool(keys[y]);
    if (!keys[y]) return false;
    return value_less(*keys[x], *keys[y]);
  });
  return order;
}

template <typename Get>
void sort_by_path(std::vector<json>& objs, const std::string& sort_by, bool require_found, Get get_object) {
  std::vector<size_t> order = order_by_path(objs, sort_by, require_found, get_object);
  std::vector<json> sorted;
  sorted.reserve(objs.size());
  for (size_t i : order) sorted.push_back(std::move(objs[i]));
  objs = std::move(sorted);
}

}  // namespace

void sort_table(json& table, const std::string& sort_by) {
  if (!table.contains("rows") || !table["rows"].is_array()) return;
  std::vector<json> rows = table["rows"].get<std::vector<json>>();
  sort_by_path(rows, sort_by, false, [](const json& row) -> const json& {
    static const json empty = json::object();
    return row.contains("object") ? row["object"] : empty;
  });
  table["rows"] = rows;
}

void sort_items(std::vector<json>& items, const std::string& sort_by) {
  sort_by_path(items, sort_by, true, [](const json& o) -> const json& { return o; });
}

std::vector<size_t> sorted_positions(const std::vector<json>& objects, const std::string& sort_by) {
  return order_by_path(objects, sort_by, true, [](const json& o) -> const json& { return o; });
}

json without_managed_fields(json obj) {
  if (obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object()) obj["metadata"].erase("managedFields");
  if (obj.is_object() && obj.contains("items") && obj["items"].is_array())
    for (auto& item : obj["items"]) item = without_managed_fields(std::move(item));
  return obj;
}

}  // namespace kctl::cli
