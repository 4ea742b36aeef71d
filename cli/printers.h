// How kctl prints objects, as kubectl's printers do: server-side Tables decorated with NAMESPACE, kind prefixes,
// label columns and the EVENT column; and the object printers behind -o (yaml, json, name, jsonpath, go-template,
// custom-columns).
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "cli/tabwriter.h"

namespace kctl::cli {

// "pod", "deployment.apps": the kind part of the "kind/name" names kubectl prints.
std::string kind_group(const std::string& kind, const std::string& group);
// The same from an object's apiVersion and kind.
std::string kind_group_of(const nlohmann::json& obj);

// kubectl's PrintOptions for a human-readable table.
struct TableOptions {
  bool wide = false;
  bool no_headers = false;
  bool show_labels = false;
  bool with_namespace = false;
  std::vector<std::string> label_columns;
  std::string kind_prefix;  // non-empty: NAME cells become "kind/name"
  std::string event_type;   // --output-watch-events: an EVENT column first
};

// HumanReadablePrinter for Tables: headers once per column set, kubectl's decorations and cell formatting.
class TablePrinter {
 public:
  explicit TablePrinter(TableOptions options) : options_(std::move(options)) {}
  // Prints one Table (a list, one object, or one watch event). Column definitions may be left out after the first.
  void print(nlohmann::json table, TabWriter& out);
  void set_event_type(std::string type) { options_.event_type = std::move(type); }

 private:
  TableOptions options_;
  nlohmann::json last_columns_ = nlohmann::json::array();
  bool printed_headers_ = false;
};

// Sorts a Table's rows by a JSONPath over each row's object (requested with includeObject=Object), as kubectl's
// TableSorter does: strings bytewise, quantities by value, numbers by value; rows without the field first. Throws
// on a bad path.
void sort_table(nlohmann::json& table, const std::string& sort_by);
// The same for a List's items (-o yaml/json/name... with --sort-by). Throws, as SortObjects does, when no object
// has the field.
void sort_items(std::vector<nlohmann::json>& items, const std::string& sort_by);
// The positions of `objects` in sorted order, with the same rules as sort_items.
std::vector<size_t> sorted_positions(const std::vector<nlohmann::json>& objects, const std::string& sort_by);

// The -o flag and its companions, shared by every verb that prints objects.
struct OutputFlags {
  std::string output;
  std::string template_text;
  bool allow_missing_template_keys = true;
  bool show_managed_fields = false;
  bool no_headers = false;  // get's --no-headers (custom-columns)
  bool allows_wide = false;  // get: "wide" is among the formats named in errors

  // with_template: also --template (get, create, apply...: every verb with -o).
  void add_flags(FlagSet& flags, const std::string& formats_help);
  bool is_human() const { return output.empty() || output == "wide"; }
};

// A printer for -o formats other than the tables.
class ObjectPrinter {
 public:
  virtual ~ObjectPrinter() = default;
  // Prints one object (or a List); throws std::runtime_error when a template fails on it.
  virtual void print(const nlohmann::json& obj, std::ostream& out) = 0;
  // Flushes anything buffered (custom-columns aligns rows).
  virtual void finish(std::ostream& out) {}
};
using ObjectPrinterPtr = std::unique_ptr<ObjectPrinter>;

// Throws UsageError (kubectl's "unable to match a printer suitable for the output format ...") or CliError for a
// bad template.
ObjectPrinterPtr make_object_printer(const OutputFlags& flags);

// metadata.managedFields removed (kubectl hides them unless --show-managed-fields).
nlohmann::json without_managed_fields(nlohmann::json obj);

}  // namespace kctl::cli
