// Go text/template as kubectl's `-o go-template=...` and `-o template --template=...` run it: actions, pipelines,
// variables, if/else/range/with/define/template, break/continue, the builtin functions (and, or, not, len, index,
// print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, slice) plus kubectl's exists and base64decode.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kctl::cli {

// Limits on what a template can make kctl do: nesting when parsing, template calls when running.
inline constexpr int kMaxTemplateDepth = 100;
inline constexpr int kMaxTemplateCallDepth = 1000;

class GoTemplate {
 public:
  struct Node;
  // Throws std::runtime_error with Go's message ("template: output:1: unexpected EOF").
  static GoTemplate parse(std::string_view text);
  GoTemplate(GoTemplate&&) noexcept;
  GoTemplate& operator=(GoTemplate&&) noexcept;
  ~GoTemplate();

  // missingkey=default (kubectl's --allow-missing-template-keys=true) prints "<no value>" for a missing key;
  // false makes it an error ("map has no entry for key").
  void allow_missing_keys(bool allow) { allow_missing_ = allow; }
  // Runs over `data` as kubectl passes it (numbers are float64, as after json.Unmarshal into interface{}),
  // appending to `out`. Throws std::runtime_error ("template: output:1:2: executing ... ").
  void execute(const nlohmann::json& data, std::string& out) const;

 private:
  GoTemplate();
  std::unique_ptr<Node> root_;
  std::shared_ptr<void> defines_;  // named templates ({{define}}), shared by copies of the parse
  bool allow_missing_ = true;
};

}  // namespace kctl::cli
