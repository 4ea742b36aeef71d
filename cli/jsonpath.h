// kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath): `-o jsonpath=...`, custom-columns and
// --sort-by. Text with {actions}: fields, [index], [start:end:step], [*], .., [?(@.x == "y")], unions, quoted
// strings, {range ...}{end}; results printed as kubectl prints them (values as text, maps and lists as JSON).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::cli {

// A template nests ranges and brackets; deeper than this is not something a person types.
inline constexpr int kMaxJsonPathDepth = 64;

class JsonPath {
 public:
  struct Node;
  // Throws std::runtime_error with client-go's parse messages ("unclosed action", ...).
  static JsonPath parse(std::string_view text);
  JsonPath(JsonPath&&) noexcept;
  JsonPath& operator=(JsonPath&&) noexcept;
  ~JsonPath();

  // kubectl's --allow-missing-template-keys (default true): a missing field gives nothing instead of an error.
  void allow_missing_keys(bool allow) { allow_missing_ = allow; }
  // -o jsonpath-as-json: every result as indented JSON.
  void output_json(bool on) { output_json_ = on; }

  // Runs the template over `data`, appending the text to `out`. Throws std::runtime_error on an evaluation error
  // ("x is not found", "array index out of bounds: ...").
  void execute(const nlohmann::json& data, std::string& out) const;
  // The values of each action, for custom-columns and --sort-by (which use one expression).
  std::vector<std::vector<nlohmann::json>> find_results(const nlohmann::json& data) const;

 private:
  JsonPath() = default;
  std::vector<std::unique_ptr<Node>> nodes_;
  bool allow_missing_ = true;
  bool output_json_ = false;
};

// kubectl's RelaxedJSONPathExpression: "metadata.name", ".metadata.name", "{metadata.name}" -> "{.metadata.name}".
// Throws std::runtime_error for anything else.
std::string relaxed_jsonpath(const std::string& expr);

// Go's fmt.Sprint of a value decoded from JSON: maps as map[k:v ...] with sorted keys, lists as [a b], null as
// <nil>. Integers print as integers unless `numbers_are_floats` (templates decode every number as float64).
std::string go_sprint(const nlohmann::json& v, bool numbers_are_floats = false);
// Go's json.Marshal (compact) and json.MarshalIndent(v, "", "    "): keys sorted, <, > and & escaped.
std::string go_json(const nlohmann::json& v, bool indent);

}  // namespace kctl::cli
