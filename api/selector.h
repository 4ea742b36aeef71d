// Label and field selectors with the syntax, matching rules and error messages of
// k8s.io/apimachinery/pkg/labels and k8s.io/apimachinery/pkg/fields.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::api {

// A selector arrives in a URL query; the HTTP layer bounds URLs too, but the parsers must not
// depend on that. 64 KiB is far beyond any selector a person or controller writes.
inline constexpr std::size_t kMaxSelectorLength = 64 * 1024;

enum class LabelOperator { In, NotIn, Equals, DoubleEquals, NotEquals, Exists, DoesNotExist, GreaterThan, LessThan };

// One term of a label selector: `key op values`.
struct LabelRequirement {
  std::string key;
  LabelOperator op = LabelOperator::Exists;
  std::vector<std::string> values;  // as given; to_string() prints them sorted

  bool matches(const std::map<std::string, std::string>& labels) const;
  std::string to_string() const;  // "a=b", "a in (x,y)", "!a", "a>3"
  bool operator==(const LabelRequirement&) const = default;
};

// What a null (absent) metav1.LabelSelector means. Kubernetes' LabelSelectorAsSelector makes it
// select nothing; a few callers treat an absent selector as "everything".
enum class NullLabelSelector { MatchesNothing, MatchesEverything };

// A parsed label selector: the AND of its requirements, kept sorted by key like Kubernetes does.
class LabelSelector {
 public:
  // Parses the string syntax of `kubectl -l` / `?labelSelector=`. Throws StatusError 400 with the
  // Kubernetes message (e.g. "unable to parse requirement: ...") on bad input.
  static LabelSelector parse(std::string_view selector);
  // A metav1.LabelSelector object ({matchLabels, matchExpressions}). An empty object matches
  // everything; null means what `null_means` says. Throws StatusError 400 when invalid.
  static LabelSelector from_json(const nlohmann::json& label_selector,
                                 NullLabelSelector null_means = NullLabelSelector::MatchesNothing);
  // Exact match of every pair, as a Service or ReplicationController selector; empty matches all.
  static LabelSelector from_set(const std::map<std::string, std::string>& set);
  static LabelSelector everything() { return LabelSelector(); }
  static LabelSelector nothing();

  bool matches(const std::map<std::string, std::string>& labels) const;
  // `labels` is an object of strings (metadata.labels); null or absent means no labels.
  bool matches(const nlohmann::json& labels) const;

  // True when the selector does not restrict anything (matches every object).
  bool empty() const { return !nothing_ && requirements_.empty(); }
  bool matches_nothing() const { return nothing_; }
  // Canonical form, requirements sorted by key: "app=web,tier in (a,b)". Empty for
  // everything() and nothing(), as in Kubernetes.
  std::string to_string() const;
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  // The single value `key` must have (from =, == or a one-value in), used to index lookups.
  std::optional<std::string> exact_value(std::string_view key) const;

 private:
  std::vector<LabelRequirement> requirements_;
  bool nothing_ = false;
};

enum class FieldOperator { Equals, DoubleEquals, NotEquals };

struct FieldRequirement {
  std::string field;
  FieldOperator op = FieldOperator::Equals;
  std::string value;  // unescaped
  bool operator==(const FieldRequirement&) const = default;
};

// A parsed field selector (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`).
class FieldSelector {
 public:
  // Looks up a field of the object being matched. Returns "" for a supported field that is unset
  // (Kubernetes compares missing fields as empty strings) and nullopt for a field this kind does
  // not support: such a requirement is ignored rather than failing the match, because kubectl's
  // describe sends fields (involvedObject.*) that a server must not reject (kubectl-wire.md §5).
  using FieldGetter = std::function<std::optional<std::string>(std::string_view field)>;

  // Parses comma-separated `f=v`, `f==v`, `f!=v` with fields/selector.go's backslash escapes
  // (\\, \, and \= in values). Throws StatusError 400 with the Kubernetes message.
  static FieldSelector parse(std::string_view selector);
  static FieldSelector everything() { return FieldSelector(); }

  bool matches(const FieldGetter& get) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }
  // The value `field` must equal (first `=`/`==` term for it), e.g. to index spec.nodeName.
  std::optional<std::string> exact_value(std::string_view field) const;
  // "f=v,g!=w" with values escaped again.
  std::string to_string() const;

  // fields.EscapeValue / UnescapeValue.
  static std::string escape_value(std::string_view value);
  static std::string unescape_value(std::string_view value);  // throws StatusError 400

 private:
  std::vector<FieldRequirement> requirements_;
};

}  // namespace kctl::api
