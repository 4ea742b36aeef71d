// Label selector lexer/parser and matching ported from k8s.io/apimachinery/pkg/labels/selector.go,
// and the field selector of k8s.io/apimachinery/pkg/fields/selector.go.
#include "api/selector.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "api/status.h"
#include "api/validation.h"

namespace kctl::api {

namespace {

using nlohmann::json;

// ---- requirements ----

const char* operator_text(LabelOperator op) {
  switch (op) {
    case LabelOperator::Equals: return "=";
    case LabelOperator::DoubleEquals: return "==";
    case LabelOperator::NotEquals: return "!=";
    case LabelOperator::In: return " in ";
    case LabelOperator::NotIn: return " notin ";
    case LabelOperator::GreaterThan: return ">";
    case LabelOperator::LessThan: return "<";
    default: return "";
  }
}

// strconv.ParseInt(s, 10, 64).
std::optional<std::int64_t> parse_int64(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+') return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Go's %#v of a []string, as field.Invalid prints a value list.
std::string go_string_slice(const std::vector<std::string>& values) {
  std::string out = "[]string{";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + go_quote(values[i]);
  return out + "}";
}

// field.Error.Error(): "<path>: Invalid value: <value>: <detail>".
std::string invalid(const std::string& path, const std::string& rendered_value, const std::string& detail) {
  return path + ": Invalid value: " + rendered_value + ": " + detail;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// utilerrors.Aggregate.Error(): one message bare, several in brackets, duplicates dropped.
std::string aggregate(const std::vector<std::string>& errs) {
  std::vector<std::string> unique;
  for (const auto& e : errs) {
    if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(e);
  }
  if (unique.size() == 1) return unique[0];
  return "[" + join(unique, ", ") + "]";
}

// validateLabelKey: `path` is "<nil>" from the parser and "key" from NewRequirement.
std::optional<std::string> label_key_error(const std::string& key, const std::string& path) {
  auto errs = is_qualified_name(key);
  if (errs.empty()) return std::nullopt;
  return invalid(path, go_quote(key), join(errs, "; "));
}

// labels.NewRequirement's checks; returns the aggregated error or nullopt.
std::optional<std::string> requirement_error(const LabelRequirement& r) {
  std::vector<std::string> errs;
  if (auto e = label_key_error(r.key, "key")) errs.push_back(*e);
  const auto& vals = r.values;
  switch (r.op) {
    case LabelOperator::In:
    case LabelOperator::NotIn:
      if (vals.empty()) errs.push_back(invalid("values", go_string_slice(vals), "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case LabelOperator::Equals:
    case LabelOperator::DoubleEquals:
    case LabelOperator::NotEquals:
      if (vals.size() != 1) errs.push_back(invalid("values", go_string_slice(vals), "exact-match compatibility requires one single value"));
      break;
    case LabelOperator::Exists:
    case LabelOperator::DoesNotExist:
      if (!vals.empty()) errs.push_back(invalid("values", go_string_slice(vals), "values set must be empty for exists and does not exist"));
      break;
    case LabelOperator::GreaterThan:
    case LabelOperator::LessThan:
      if (vals.size() != 1) errs.push_back(invalid("values", go_string_slice(vals), "for 'Gt', 'Lt' operators, exactly one value is required"));
      for (std::size_t i = 0; i < vals.size(); ++i) {
        if (!parse_int64(vals[i])) {
          errs.push_back(invalid("values[" + std::to_string(i) + "]", go_quote(vals[i]),
                                 "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      }
      break;
  }
  for (std::size_t i = 0; i < vals.size(); ++i) {
    auto msgs = is_valid_label_value(vals[i]);
    if (!msgs.empty()) {
      errs.push_back(invalid("values[" + std::to_string(i) + "][" + r.key + "]", go_quote(vals[i]), join(msgs, "; ")));
    }
  }
  if (errs.empty()) return std::nullopt;
  return aggregate(errs);
}

template <typename Lookup>
bool requirement_matches(const LabelRequirement& r, const Lookup& lookup) {
  std::optional<std::string_view> val = lookup(r.key);
  auto has_value = [&](std::string_view v) { return std::find(r.values.begin(), r.values.end(), v) != r.values.end(); };
  switch (r.op) {
    case LabelOperator::In:
    case LabelOperator::Equals:
    case LabelOperator::DoubleEquals: return val && has_value(*val);
    case LabelOperator::NotIn:
    case LabelOperator::NotEquals: return !val || !has_value(*val);
    case LabelOperator::Exists: return val.has_value();
    case LabelOperator::DoesNotExist: return !val.has_value();
    case LabelOperator::GreaterThan:
    case LabelOperator::LessThan: {
      if (!val || r.values.size() != 1) return false;
      auto have = parse_int64(*val);
      auto want = parse_int64(r.values[0]);
      if (!have || !want) return false;
      return r.op == LabelOperator::GreaterThan ? *have > *want : *have < *want;
    }
  }
  return false;
}

void sort_by_key(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
}

void check_length(std::string_view selector) {
  if (selector.size() > kMaxSelectorLength) {
    throw_bad_request("selector is longer than " + std::to_string(kMaxSelectorLength) + " bytes");
  }
}

}  // namespace

bool LabelRequirement::matches(const std::map<std::string, std::string>& labels) const {
  return requirement_matches(*this, [&](const std::string& k) -> std::optional<std::string_view> {
    auto it = labels.find(k);
    if (it == labels.end()) return std::nullopt;
    return it->second;
  });
}

std::string LabelRequirement::to_string() const {
  std::string out = op == LabelOperator::DoesNotExist ? "!" : "";
  out += key;
  if (op == LabelOperator::Exists || op == LabelOperator::DoesNotExist) return out;
  out += operator_text(op);
  bool set = op == LabelOperator::In || op == LabelOperator::NotIn;
  if (set) out += "(";
  std::vector<std::string> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  out += join(sorted, ",");
  if (set) out += ")";
  return out;
}

// ---- the label selector lexer and parser (selector.go) ----

namespace {

enum class Token {
  Error, EndOfString, ClosedPar, Comma, DoesNotExist, DoubleEquals, Equals, GreaterThan,
  Identifier, In, LessThan, NotEquals, NotIn, OpenPar,
};

std::optional<Token> literal_token(std::string_view s) {
  static const std::pair<std::string_view, Token> kTokens[] = {
      {")", Token::ClosedPar}, {",", Token::Comma},     {"!", Token::DoesNotExist}, {"==", Token::DoubleEquals},
      {"=", Token::Equals},    {">", Token::GreaterThan}, {"in", Token::In},       {"<", Token::LessThan},
      {"!=", Token::NotEquals}, {"notin", Token::NotIn}, {"(", Token::OpenPar},
  };
  for (const auto& [text, tok] : kTokens) {
    if (text == s) return tok;
  }
  return std::nullopt;
}

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special_symbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

struct ScannedItem {
  Token tok;
  std::string literal;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  ScannedItem lex() {
    char ch = read();
    while (is_whitespace(ch)) ch = read();
    if (ch == 0) return {Token::EndOfString, ""};
    unread();
    return is_special_symbol(ch) ? scan_special_symbol() : scan_id_or_keyword();
  }

 private:
  // Like the Go lexer, a NUL byte ends the input.
  char read() { return pos_ < s_.size() ? s_[pos_++] : 0; }
  void unread() { --pos_; }

  ScannedItem scan_id_or_keyword() {
    std::string buffer;
    for (;;) {
      char ch = read();
      if (ch == 0) break;
      if (is_special_symbol(ch) || is_whitespace(ch)) {
        unread();
        break;
      }
      buffer += ch;
    }
    if (auto tok = literal_token(buffer)) return {*tok, buffer};
    return {Token::Identifier, buffer};
  }

  // The longest run of special symbols that is still a token: "!=" and "==" over "!" and "=".
  ScannedItem scan_special_symbol() {
    std::optional<ScannedItem> last;
    std::string buffer;
    for (;;) {
      char ch = read();
      if (ch == 0) break;
      if (!is_special_symbol(ch)) {
        unread();
        break;
      }
      buffer += ch;
      if (auto tok = literal_token(buffer)) {
        last = ScannedItem{*tok, buffer};
      } else if (last) {
        unread();
        break;
      }
    }
    if (!last) return {Token::Error, "error expected: keyword found '" + buffer + "'"};
    return *last;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// A parse failure; the message is what Kubernetes returns.
struct ParseError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string_view s) {
    Lexer lexer(s);
    for (;;) {
      items_.push_back(lexer.lex());
      if (items_.back().tok == Token::EndOfString) break;
    }
  }

  std::vector<LabelRequirement> parse() {
    std::vector<LabelRequirement> reqs;
    for (;;) {
      auto [tok, lit] = lookahead(Context::Values);
      if (tok == Token::EndOfString) return reqs;
      if (tok != Token::Identifier && tok != Token::DoesNotExist) {
        throw ParseError{"found '" + lit + "', expected: !, identifier, or 'end of string'"};
      }
      try {
        reqs.push_back(parse_requirement());
      } catch (const ParseError& e) {
        throw ParseError{"unable to parse requirement: " + e.message};
      }
      auto [t, l] = consume(Context::Values);
      if (t == Token::EndOfString) return reqs;
      if (t != Token::Comma) throw ParseError{"found '" + l + "', expected: ',' or 'end of string'"};
      auto [t2, l2] = lookahead(Context::Values);
      if (t2 != Token::Identifier && t2 != Token::DoesNotExist) {
        throw ParseError{"found '" + l2 + "', expected: identifier after ','"};
      }
    }
  }

 private:
  // In a value position the keywords "in" and "notin" are plain identifiers.
  enum class Context { KeyAndOperator, Values };

  ScannedItem item(std::size_t i, Context ctx) const {
    ScannedItem it = i < items_.size() ? items_[i] : ScannedItem{Token::EndOfString, ""};
    if (ctx == Context::Values && (it.tok == Token::In || it.tok == Token::NotIn)) it.tok = Token::Identifier;
    return it;
  }
  ScannedItem lookahead(Context ctx) const { return item(pos_, ctx); }
  ScannedItem consume(Context ctx) { return item(pos_++, ctx); }

  LabelRequirement parse_requirement() {
    LabelRequirement r;
    ScannedItem key = consume(Context::Values);
    bool not_exists = key.tok == Token::DoesNotExist;
    if (not_exists) key = consume(Context::Values);
    if (key.tok != Token::Identifier) throw ParseError{"found '" + key.literal + "', expected: identifier"};
    if (auto e = label_key_error(key.literal, "<nil>")) throw ParseError{*e};
    r.key = key.literal;
    auto next = lookahead(Context::Values).tok;
    if (not_exists || next == Token::EndOfString || next == Token::Comma) {
      r.op = not_exists ? LabelOperator::DoesNotExist : LabelOperator::Exists;
    } else {
      r.op = parse_operator();
      std::set<std::string> values = (r.op == LabelOperator::In || r.op == LabelOperator::NotIn) ? parse_values()
                                                                                                   : parse_exact_value();
      r.values.assign(values.begin(), values.end());
    }
    if (auto e = requirement_error(r)) throw ParseError{*e};
    return r;
  }

  LabelOperator parse_operator() {
    auto [tok, lit] = consume(Context::KeyAndOperator);
    switch (tok) {
      case Token::In: return LabelOperator::In;
      case Token::Equals: return LabelOperator::Equals;
      case Token::DoubleEquals: return LabelOperator::DoubleEquals;
      case Token::GreaterThan: return LabelOperator::GreaterThan;
      case Token::LessThan: return LabelOperator::LessThan;
      case Token::NotIn: return LabelOperator::NotIn;
      case Token::NotEquals: return LabelOperator::NotEquals;
      default: throw ParseError{"found '" + lit + "', expected: in, notin, =, ==, !=, gt, lt"};
    }
  }

  // "(a,b)"; "()" and empty list elements stand for the empty value.
  std::set<std::string> parse_values() {
    ScannedItem open = consume(Context::Values);
    if (open.tok != Token::OpenPar) throw ParseError{"found '" + open.literal + "' expected: '('"};
    auto [tok, lit] = lookahead(Context::Values);
    if (tok == Token::ClosedPar) {
      consume(Context::Values);
      return {""};
    }
    if (tok != Token::Identifier && tok != Token::Comma) {
      throw ParseError{"found '" + lit + "', expected: ',', ')' or identifier"};
    }
    auto values = parse_identifiers_list();
    if (consume(Context::Values).tok != Token::ClosedPar) throw ParseError{"found '" + lit + "', expected: ')'"};
    return values;
  }

  std::set<std::string> parse_identifiers_list() {
    std::set<std::string> s;
    for (;;) {
      auto [tok, lit] = consume(Context::Values);
      if (tok == Token::Identifier) {
        s.insert(lit);
        auto [tok2, lit2] = lookahead(Context::Values);
        if (tok2 == Token::Comma) continue;
        if (tok2 == Token::ClosedPar) return s;
        throw ParseError{"found '" + lit2 + "', expected: ',' or ')'"};
      }
      if (tok != Token::Comma) throw ParseError{"found '" + lit + "', expected: ',', or identifier"};
      if (s.empty()) s.insert("");  // "(,"
      auto tok2 = lookahead(Context::Values).tok;
      if (tok2 == Token::ClosedPar) {
        s.insert("");  // ",)"
        return s;
      }
      if (tok2 == Token::Comma) s.insert("");  // ",,"
    }
  }

  std::set<std::string> parse_exact_value() {
    auto tok = lookahead(Context::Values).tok;
    if (tok == Token::EndOfString || tok == Token::Comma) return {""};
    auto [t, lit] = consume(Context::Values);
    if (t == Token::Identifier) return {lit};
    throw ParseError{"found '" + lit + "', expected: identifier"};
  }

  std::vector<ScannedItem> items_;
  std::size_t pos_ = 0;
};

}  // namespace

LabelSelector LabelSelector::parse(std::string_view selector) {
  check_length(selector);
  LabelSelector s;
  try {
    s.requirements_ = Parser(selector).parse();
  } catch (const ParseError& e) {
    throw_bad_request(e.message);
  }
  sort_by_key(s.requirements_);
  return s;
}

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

LabelSelector LabelSelector::from_set(const std::map<std::string, std::string>& set) {
  LabelSelector s;
  for (const auto& [k, v] : set) s.requirements_.push_back({k, LabelOperator::Equals, {v}});
  return s;
}

namespace {

std::vector<std::string> string_list(const json& values) {
  std::vector<std::string> out;
  if (values.is_null()) return out;
  if (!values.is_array()) throw_bad_request("labelSelector: values must be a list of strings");
  for (const auto& v : values) {
    if (!v.is_string()) throw_bad_request("labelSelector: values must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

LabelOperator selector_operator(const json& op) {
  std::string s = op.is_string() ? op.get<std::string>() : op.dump();
  if (s == "In") return LabelOperator::In;
  if (s == "NotIn") return LabelOperator::NotIn;
  if (s == "Exists") return LabelOperator::Exists;
  if (s == "DoesNotExist") return LabelOperator::DoesNotExist;
  throw_bad_request(go_quote(s) + " is not a valid label selector operator");
}

}  // namespace

LabelSelector LabelSelector::from_json(const json& sel, NullLabelSelector null_means) {
  if (sel.is_null()) return null_means == NullLabelSelector::MatchesNothing ? nothing() : everything();
  if (!sel.is_object()) throw_bad_request("labelSelector must be an object");
  LabelSelector s;
  auto add = [&](LabelRequirement r) {
    if (auto e = requirement_error(r)) throw_bad_request(*e);
    s.requirements_.push_back(std::move(r));
  };
  if (auto it = sel.find("matchLabels"); it != sel.end() && !it->is_null()) {
    if (!it->is_object()) throw_bad_request("labelSelector: matchLabels must be a map of strings");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) throw_bad_request("labelSelector: matchLabels must be a map of strings");
      add({k, LabelOperator::Equals, {v.get<std::string>()}});
    }
  }
  if (auto it = sel.find("matchExpressions"); it != sel.end() && !it->is_null()) {
    if (!it->is_array()) throw_bad_request("labelSelector: matchExpressions must be a list");
    for (const auto& e : *it) {
      if (!e.is_object()) throw_bad_request("labelSelector: matchExpressions must be a list of objects");
      std::string key = e.contains("key") && e["key"].is_string() ? e["key"].get<std::string>() : "";
      LabelOperator op = selector_operator(e.value("operator", json("")));
      add({key, op, string_list(e.value("values", json()))});
    }
  }
  sort_by_key(s.requirements_);
  return s;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  if (nothing_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(), [&](const auto& r) { return r.matches(labels); });
}

bool LabelSelector::matches(const json& labels) const {
  if (nothing_) return false;
  auto lookup = [&](const std::string& k) -> std::optional<std::string_view> {
    if (!labels.is_object()) return std::nullopt;
    auto it = labels.find(k);
    if (it == labels.end() || !it->is_string()) return std::nullopt;
    return std::string_view(it->get_ref<const std::string&>());
  };
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const auto& r) { return requirement_matches(r, lookup); });
}

std::string LabelSelector::to_string() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.to_string());
  return join(parts, ",");
}

std::optional<std::string> LabelSelector::exact_value(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key != key) continue;
    bool exact = r.op == LabelOperator::Equals || r.op == LabelOperator::DoubleEquals || r.op == LabelOperator::In;
    if (exact && r.values.size() == 1) return r.values[0];
    return std::nullopt;
  }
  return std::nullopt;
}

// ---- field selectors ----

namespace {

// Splits on commas that are not backslash-escaped; escapes stay in the terms.
std::vector<std::string> split_terms(std::string_view s) {
  std::vector<std::string> terms;
  if (s.empty()) return terms;
  std::size_t start = 0;
  bool in_slash = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (in_slash) {
      in_slash = false;
    } else if (s[i] == '\\') {
      in_slash = true;
    } else if (s[i] == ',') {
      terms.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.emplace_back(s.substr(start));
  return terms;
}

// The first operator in the term splits it; "!=" and "==" are tried before "=".
bool split_term(const std::string& term, FieldRequirement& out, std::string& rhs) {
  static const std::pair<std::string_view, FieldOperator> kOps[] = {
      {"!=", FieldOperator::NotEquals}, {"==", FieldOperator::DoubleEquals}, {"=", FieldOperator::Equals}};
  for (std::size_t i = 0; i < term.size(); ++i) {
    for (const auto& [text, op] : kOps) {
      if (std::string_view(term).substr(i).starts_with(text)) {
        out.field = term.substr(0, i);
        out.op = op;
        rhs = term.substr(i + text.size());
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string FieldSelector::escape_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

std::string FieldSelector::unescape_value(std::string_view s) {
  std::string out;
  bool in_slash = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_slash) {
      if (c != '\\' && c != ',' && c != '=') {
        // Go prints the escaped rune, which may be several bytes long.
        std::size_t len = 1;
        while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xc0) == 0x80) ++len;
        throw_bad_request("invalid field selector: invalid escape sequence: \\" + std::string(s.substr(i, len)));
      }
      out += c;
      in_slash = false;
    } else if (c == '\\') {
      in_slash = true;
    } else if (c == ',' || c == '=') {
      // Go formats the rune with %v, i.e. as its number.
      throw_bad_request("invalid field selector: unescaped character in value: " + std::to_string(static_cast<int>(c)));
    } else {
      out += c;
    }
  }
  if (in_slash) throw_bad_request("invalid field selector: invalid escape sequence: \\");
  return out;
}

FieldSelector FieldSelector::parse(std::string_view selector) {
  check_length(selector);
  auto parts = split_terms(selector);
  std::sort(parts.begin(), parts.end());
  FieldSelector s;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    FieldRequirement r;
    std::string rhs;
    if (!split_term(part, r, rhs)) {
      throw_bad_request("invalid selector: '" + std::string(selector) + "'; can't understand '" + part + "'");
    }
    r.value = unescape_value(rhs);
    s.requirements_.push_back(std::move(r));
  }
  return s;
}

bool FieldSelector::matches(const FieldGetter& get) const {
  for (const auto& r : requirements_) {
    std::optional<std::string> v = get(r.field);
    if (!v) continue;  // a field this kind does not have: ignored, see FieldGetter
    bool equal = *v == r.value;
    if (equal == (r.op == FieldOperator::NotEquals)) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::exact_value(std::string_view field) const {
  for (const auto& r : requirements_) {
    if (r.field == field && r.op != FieldOperator::NotEquals) return r.value;
  }
  return std::nullopt;
}

std::string FieldSelector::to_string() const {
  std::string out;
  for (const auto& r : requirements_) {
    if (!out.empty()) out += ",";
    out += r.field + (r.op == FieldOperator::NotEquals ? "!=" : "=") + escape_value(r.value);
  }
  return out;
}

}  // namespace kctl::api
