// YAML/JSON manifest decoding (kubectl's document splitting, go-yaml v2 scalar resolution and
// sigs.k8s.io/yaml key conversion) and a YAML printer that follows go-yaml v2's emitter.
#include "api/codec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "api/status.h"

namespace kctl::api {

namespace {

using nlohmann::json;

// ---- go-yaml v2 scalar resolution (resolve.go) ----

enum class ScalarKind { String, Null, Bool, Int, Uint, Float, Timestamp };

struct Resolved {
  ScalarKind kind = ScalarKind::String;
  bool b = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double f = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// strconv.ParseUint(s, 0, 64): 0b/0o/0x prefixes and a leading 0 for octal.
std::optional<std::uint64_t> go_parse_uint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  unsigned base = 10;
  if (s[0] == '0') {
    char p = s.size() >= 3 ? static_cast<char>(s[1] | 0x20) : 0;
    base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 8;
    s.remove_prefix(p == 'b' || p == 'o' || p == 'x' ? 2 : 1);
  }
  std::uint64_t n = 0;
  for (char c : s) {
    char l = static_cast<char>(c | 0x20);
    unsigned d = is_digit(c) ? static_cast<unsigned>(c - '0') : (l >= 'a' && l <= 'z') ? static_cast<unsigned>(l - 'a' + 10) : 99;
    if (d >= base) return std::nullopt;
    if (n > (UINT64_MAX - d) / base) return std::nullopt;
    n = n * base + d;
  }
  return n;
}

// strconv.ParseInt(s, 0, 64).
std::optional<std::int64_t> go_parse_int(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  auto un = go_parse_uint(s);
  constexpr std::uint64_t kCutoff = std::uint64_t{1} << 63;
  if (!un || (!neg && *un >= kCutoff) || (neg && *un > kCutoff)) return std::nullopt;
  if (neg) return *un == kCutoff ? INT64_MIN : -static_cast<std::int64_t>(*un);
  return static_cast<std::int64_t>(*un);
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$  (go-yaml's yamlStyleFloat)
bool is_yaml_style_float(std::string_view s) {
  std::size_t i = 0, n = s.size();
  auto digits = [&] {
    std::size_t start = i;
    while (i < n && is_digit(s[i])) ++i;
    return i - start;
  };
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < n && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < n && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == n;
}

// strconv.ParseFloat for text that is_yaml_style_float accepted: overflow fails, underflow is 0.
std::optional<double> parse_float(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) {
    v = std::strtod(std::string(s).c_str(), nullptr);
    return std::isinf(v) ? std::nullopt : std::optional<double>(v);
  }
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// 1 or 2 digits starting at s[i]; advances i.
std::optional<int> small_number(std::string_view s, std::size_t& i) {
  if (i >= s.size() || !is_digit(s[i])) return std::nullopt;
  int v = s[i++] - '0';
  if (i < s.size() && is_digit(s[i])) v = v * 10 + (s[i++] - '0');
  return v;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// go-yaml's parseTimestamp: "2006-1-2", "2006-1-2T15:4:5.999999999Z07:00" (or 't'), and
// "2006-1-2 15:4:5.999999999", with Go's time.Parse range checks.
bool is_timestamp(std::string_view s) {
  if (s.size() < 5 || !std::all_of(s.begin(), s.begin() + 4, is_digit) || s[4] != '-') return false;
  int year = std::atoi(std::string(s.substr(0, 4)).c_str());
  std::size_t i = 5;
  auto month = small_number(s, i);
  if (!month || i >= s.size() || s[i++] != '-') return false;
  auto day = small_number(s, i);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > days_in_month(year, *month)) return false;
  if (i == s.size()) return true;
  char sep = s[i++];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  auto hour = small_number(s, i);
  if (!hour || *hour > 23 || i >= s.size() || s[i++] != ':') return false;
  auto minute = small_number(s, i);
  if (!minute || *minute > 59 || i >= s.size() || s[i++] != ':') return false;
  auto second = small_number(s, i);
  if (!second || *second > 59) return false;
  if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (sep == ' ') return i == s.size();
  if (i < s.size() && s[i] == 'Z') return i + 1 == s.size();
  // ±hh:mm; Go accepts offsets up to 24:60.
  if (s.size() - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':') return false;
  if (!is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 4]) || !is_digit(s[i + 5])) return false;
  int oh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0'), om = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
  return oh <= 24 && om <= 60;
}

// The YAML 1.1 words go-yaml v2 maps to booleans, null and special floats.
std::optional<Resolved> resolve_word(std::string_view s) {
  static const std::string_view kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::string_view kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  static const std::string_view kNull[] = {"", "~", "null", "Null", "NULL"};
  static const std::pair<std::string_view, double> kFloats[] = {
      {".nan", NAN}, {".NaN", NAN}, {".NAN", NAN}, {".inf", INFINITY}, {".Inf", INFINITY}, {".INF", INFINITY},
      {"+.inf", INFINITY}, {"+.Inf", INFINITY}, {"+.INF", INFINITY}, {"-.inf", -INFINITY}, {"-.Inf", -INFINITY},
      {"-.INF", -INFINITY}};
  for (auto w : kTrue) {
    if (w == s) return Resolved{ScalarKind::Bool, true};
  }
  for (auto w : kFalse) {
    if (w == s) return Resolved{ScalarKind::Bool, false};
  }
  for (auto w : kNull) {
    if (w == s) return Resolved{ScalarKind::Null};
  }
  for (auto [w, f] : kFloats) {
    if (w == s) return Resolved{ScalarKind::Float, false, 0, 0, f};
  }
  return std::nullopt;
}

Resolved resolve_number(std::string_view s) {
  if (is_timestamp(s)) return Resolved{ScalarKind::Timestamp};
  std::string plain;
  for (char c : s) {
    if (c != '_') plain += c;
  }
  if (auto i = go_parse_int(plain)) return Resolved{ScalarKind::Int, false, *i};
  if (auto u = go_parse_uint(plain)) return Resolved{ScalarKind::Uint, false, 0, *u};
  if (is_yaml_style_float(plain)) {
    if (auto f = parse_float(plain)) return Resolved{ScalarKind::Float, false, 0, 0, *f};
  }
  return Resolved{};
}

// How an unquoted, untagged scalar reads.
Resolved resolve_plain(std::string_view s) {
  if (s.empty()) return Resolved{ScalarKind::Null};
  char c = s[0];
  bool sign_or_digit = c == '+' || c == '-' || is_digit(c);
  bool word = std::string_view("yYnNtTfFoO~").find(c) != std::string_view::npos;
  if (!sign_or_digit && !word && c != '.') return Resolved{};
  if (auto r = resolve_word(s)) return *r;
  if (c == '.') {
    auto f = is_yaml_style_float(s) ? parse_float(s) : std::nullopt;
    return f ? Resolved{ScalarKind::Float, false, 0, 0, *f} : Resolved{};
  }
  return sign_or_digit ? resolve_number(s) : Resolved{};
}

// YAML 1.1 sexagesimal numbers ("12:30"), which go-yaml quotes on output.
bool is_base60_float(std::string_view s) {
  if (s.empty() || !(s[0] == '+' || s[0] == '-' || is_digit(s[0])) || s.find(':') == std::string_view::npos) {
    return false;
  }
  std::size_t i = 0, n = s.size();
  if (s[i] == '+' || s[i] == '-') ++i;
  if (i >= n || !is_digit(s[i])) return false;
  while (i < n && (is_digit(s[i]) || s[i] == '_')) ++i;
  int groups = 0;
  while (i < n && s[i] == ':') {
    std::size_t start = ++i;
    while (i < n && is_digit(s[i])) ++i;
    std::size_t len = i - start;
    if (len == 0 || len > 2 || (len == 2 && s[start] > '5')) return false;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && (is_digit(s[i]) || s[i] == '_')) ++i;
  }
  return i == n;
}

// ---- decoding ----

std::string_view strip_bom(std::string_view text) {
  return text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : text;
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// Where a failure is: the 1-based line in the whole text and the 1-based document.
[[noreturn]] void fail_at(const std::string& prefix, std::size_t line, std::size_t doc, const std::string& msg) {
  throw_bad_request(prefix + "line " + std::to_string(line) + ": " + msg + " (document " + std::to_string(doc) + ")");
}

constexpr const char* kYamlError = "error converting YAML to JSON: yaml: ";

struct Chunk {
  std::string_view text;
  std::size_t first_line;  // 0-based line of the chunk's first line in the whole text
};

// kubectl's YAMLReader: a line starting with "---" ends a document; only a comment may follow
// the marker. Sections with no bytes at all are dropped.
std::vector<Chunk> split_yaml_documents(std::string_view text) {
  std::vector<Chunk> chunks;
  std::size_t pos = 0, line = 0, start = 0, start_line = 0;
  auto flush = [&](std::size_t end) {
    if (end > start) chunks.push_back({text.substr(start, end - start), start_line});
  };
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    std::size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view l = text.substr(pos, next - pos);
    if (l.starts_with("---")) {
      std::string_view rest = trim(l.substr(3));
      if (!rest.empty() && rest.front() != '#') {
        throw_bad_request("invalid Yaml document separator: " + std::string(rest));
      }
      flush(pos);
      start = next;
      start_line = line + 1;
    }
    pos = next;
    ++line;
  }
  flush(text.size());
  return chunks;
}

// Turns one yaml-cpp document into JSON as sigs.k8s.io/yaml's YAMLToJSON would.
class YamlToJson {
 public:
  YamlToJson(std::size_t budget, std::size_t first_line, std::size_t doc)
      : budget_(budget), first_line_(first_line), doc_(doc) {}

  json convert(const YAML::Node& n, std::size_t depth) {
    if (++nodes_ > budget_) fail(n, "document contains excessive aliasing");
    if (depth > kMaxNestingDepth) fail(n, "exceeded max depth of " + std::to_string(kMaxNestingDepth));
    switch (n.Type()) {
      case YAML::NodeType::Scalar: return scalar(n);
      case YAML::NodeType::Sequence: {
        json arr = json::array();
        for (const auto& child : n) arr.push_back(convert(child, depth + 1));
        return arr;
      }
      case YAML::NodeType::Map: return mapping(n, depth);
      default: return n.Tag() == "tag:yaml.org,2002:str" ? json("") : json(nullptr);
    }
  }

 private:
  [[noreturn]] void fail(const YAML::Node& n, const std::string& msg) const {
    int line = n.Mark().line;
    fail_at(kYamlError, first_line_ + (line < 0 ? 0 : static_cast<std::size_t>(line)) + 1, doc_, msg);
  }

  // The scalar's value under its tag: plain scalars resolve, quoted ones and unknown tags are
  // strings, and a standard tag must agree with what the text resolves to.
  Resolved resolve(const YAML::Node& n) const {
    const std::string& tag = n.Tag();
    const std::string& text = n.Scalar();
    if (tag == "?") return resolve_plain(text);
    constexpr std::string_view kStd = "tag:yaml.org,2002:";
    if (!tag.starts_with(kStd)) return Resolved{};
    std::string_view want = std::string_view(tag).substr(kStd.size());
    if (want != "int" && want != "float" && want != "bool" && want != "null") return Resolved{};
    Resolved r = resolve_plain(text);
    bool integer = r.kind == ScalarKind::Int || r.kind == ScalarKind::Uint;
    if (want == "float" && integer) {
      return Resolved{ScalarKind::Float, false, 0, 0,
                      r.kind == ScalarKind::Int ? static_cast<double>(r.i) : static_cast<double>(r.u)};
    }
    bool ok = (want == "int" && integer) || (want == "float" && r.kind == ScalarKind::Float) ||
              (want == "bool" && r.kind == ScalarKind::Bool) || (want == "null" && r.kind == ScalarKind::Null);
    if (!ok) {
      static const char* kNames[] = {"!!str", "!!null", "!!bool", "!!int", "!!int", "!!float", "!!timestamp"};
      fail(n, std::string("cannot decode ") + kNames[static_cast<int>(r.kind)] + " `" + text + "` as a !!" +
                  std::string(want));
    }
    return r;
  }

  json scalar(const YAML::Node& n) const {
    Resolved r = resolve(n);
    switch (r.kind) {
      case ScalarKind::Null: return nullptr;
      case ScalarKind::Bool: return r.b;
      case ScalarKind::Int: return r.i;
      case ScalarKind::Uint: return r.u;
      case ScalarKind::Float:
        // JSON cannot carry these; sigs.k8s.io/yaml fails in json.Marshal.
        if (!std::isfinite(r.f)) fail(n, "json: unsupported value: " + go_format_float(r.f));
        return r.f;
      default: return n.Scalar();
    }
  }

  // sigs.k8s.io/yaml turns non-string keys into strings.
  std::string key_string(const YAML::Node& k) const {
    if (k.IsMap() || k.IsSequence()) fail(k, "invalid map key: keys must be scalars");
    if (!k.IsScalar()) fail(k, "unsupported map key of type: <nil>");
    Resolved r = resolve(k);
    switch (r.kind) {
      case ScalarKind::Null: fail(k, "unsupported map key of type: <nil>");
      case ScalarKind::Uint: fail(k, "unsupported map key of type: uint64, key: " + k.Scalar());
      case ScalarKind::Bool: return r.b ? "true" : "false";
      case ScalarKind::Int: return std::to_string(r.i);
      case ScalarKind::Float: {
        std::string s = go_format_float(r.f, 32);
        return s == "+Inf" ? ".inf" : s == "-Inf" ? "-.inf" : s == "NaN" ? ".nan" : s;
      }
      default: return k.Scalar();
    }
  }

  static bool is_merge_key(const YAML::Node& k) {
    return k.IsScalar() && k.Scalar() == "<<" && (k.Tag() == "?" || k.Tag() == "tag:yaml.org,2002:merge");
  }

  // go-yaml v2 merges in place: merged keys overwrite earlier ones, later keys overwrite them;
  // in a list of maps the earlier maps win.
  void merge(json& obj, const YAML::Node& v, std::size_t depth) {
    auto merge_map = [&](const YAML::Node& m) {
      if (!m.IsMap()) fail(v, "map merge requires map or sequence of maps as the value");
      json part = convert(m, depth + 1);
      for (auto& [key, val] : part.items()) obj[key] = std::move(val);
    };
    if (v.IsMap()) return merge_map(v);
    if (!v.IsSequence()) fail(v, "map merge requires map or sequence of maps as the value");
    std::vector<YAML::Node> maps(v.begin(), v.end());
    for (auto it = maps.rbegin(); it != maps.rend(); ++it) merge_map(*it);
  }

  json mapping(const YAML::Node& n, std::size_t depth) {
    json obj = json::object();
    for (const auto& kv : n) {
      if (is_merge_key(kv.first)) {
        merge(obj, kv.second, depth);
        continue;
      }
      std::string key = key_string(kv.first);
      obj[key] = convert(kv.second, depth + 1);
    }
    return obj;
  }

  std::size_t budget_;
  std::size_t nodes_ = 0;
  std::size_t first_line_;
  std::size_t doc_;
};

// Parses one chunk into its documents (a chunk may hold several, separated by "...").
std::vector<json> load_chunk(const Chunk& chunk, std::size_t doc) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(chunk.text));
  } catch (const YAML::Exception& e) {
    int line = e.mark.line;
    fail_at(kYamlError, chunk.first_line + (line < 0 ? 0 : static_cast<std::size_t>(line)) + 1, doc, e.msg);
  }
  YamlToJson converter(chunk.text.size() + kMinNodeBudget, chunk.first_line, doc);
  std::vector<json> out;
  for (const auto& n : nodes) out.push_back(converter.convert(n, 0));
  return out;
}

[[noreturn]] void fail_not_object(const json& j, std::size_t doc) {
  const char* type = j.is_string() ? "string" : j.is_array() ? "array" : j.is_boolean() ? "bool" : "number";
  throw_bad_request(std::string("error unmarshaling JSON: json: cannot unmarshal ") + type +
                    " into Go value of type map[string]interface {} (document " + std::to_string(doc) + ")");
}

void check_document_count(std::size_t doc) {
  if (doc > kMaxDocuments) throw_bad_request("too many documents: more than " + std::to_string(kMaxDocuments));
}

std::vector<json> decode_yaml_stream(std::string_view text) {
  std::vector<json> out;
  std::size_t doc = 0;
  for (const auto& chunk : split_yaml_documents(text)) {
    check_document_count(++doc);
    for (auto& j : load_chunk(chunk, doc)) {
      if (j.is_null()) continue;
      if (!j.is_object()) fail_not_object(j, doc);
      out.push_back(std::move(j));
    }
  }
  return out;
}

// The end of the JSON value starting at text[pos] (brackets matched outside strings).
std::size_t json_value_end(std::string_view text, std::size_t pos) {
  char c = text[pos];
  if (c != '{' && c != '[' && c != '"') {
    while (pos < text.size() && !is_ascii_space(text[pos]) && text[pos] != '{' && text[pos] != '[') ++pos;
    return pos;
  }
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = pos; i < text.size(); ++i) {
    char ch = text[i];
    if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
      if (!in_string && depth == 0) return i + 1;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '{' || ch == '[') ++depth;
    else if ((ch == '}' || ch == ']') && --depth == 0) return i + 1;
  }
  return text.size();
}

struct DepthExceeded {};

json parse_json_document(std::string_view part, std::size_t first_line, std::size_t doc) {
  auto depth_guard = [](int depth, json::parse_event_t, json&) {
    if (depth > static_cast<int>(kMaxNestingDepth)) throw DepthExceeded{};
    return true;
  };
  try {
    return json::parse(part.begin(), part.end(), depth_guard);
  } catch (const json::parse_error& e) {
    std::size_t upto = std::min<std::size_t>(e.byte, part.size());
    std::size_t line = first_line + static_cast<std::size_t>(std::count(part.begin(), part.begin() + upto, '\n'));
    std::string msg = e.what();
    if (auto p = msg.find("column "); p != std::string::npos && msg.find(": ", p) != std::string::npos) {
      msg = msg.substr(msg.find(": ", p) + 2);
    }
    fail_at("error parsing JSON: ", line + 1, doc, msg);
  } catch (const DepthExceeded&) {
    fail_at("error parsing JSON: ", first_line + 1, doc, "exceeded max depth of " + std::to_string(kMaxNestingDepth));
  }
}

std::vector<json> decode_json_stream(std::string_view text) {
  std::vector<json> out;
  std::size_t pos = 0, doc = 0;
  for (;;) {
    while (pos < text.size() && is_ascii_space(text[pos])) ++pos;
    if (pos >= text.size()) break;
    check_document_count(++doc);
    std::size_t end = json_value_end(text, pos);
    auto line = static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
    json j = parse_json_document(text.substr(pos, end - pos), line, doc);
    if (!j.is_null()) {
      if (!j.is_object()) fail_not_object(j, doc);
      out.push_back(std::move(j));
    }
    pos = end;
  }
  return out;
}

}  // namespace

std::vector<json> decode_documents(std::string_view text) {
  text = strip_bom(text);
  std::string_view body = trim(text);
  if (!body.empty() && body.front() == '{') return decode_json_stream(text);
  return decode_yaml_stream(text);
}

json decode_yaml(std::string_view text) {
  std::vector<json> docs;
  std::size_t doc = 0;
  for (const auto& chunk : split_yaml_documents(strip_bom(text))) {
    check_document_count(++doc);
    for (auto& j : load_chunk(chunk, doc)) {
      if (!j.is_null()) docs.push_back(std::move(j));
    }
  }
  if (docs.size() > 1) throw_bad_request("expected one YAML document, found " + std::to_string(docs.size()));
  return docs.empty() ? json(nullptr) : std::move(docs.front());
}

// ---- go_format_float ----

std::string go_format_float(double v, int bit_size) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = bit_size == 32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), std::chars_format::scientific)
                            : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out = "-";
    sci.remove_prefix(1);
  }
  // Shortest digits and decimal exponent: "1.2345e+02" -> "12345", 2.
  auto e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  if (digits == "0") exp = 0;
  int nd = static_cast<int>(digits.size()), dp = exp + 1;
  if (exp < -4 || exp >= 6) {  // %e, as 'g' does with the shortest precision
    out += digits[0];
    if (nd > 1) out += "." + digits.substr(1);
    int a = std::abs(exp);
    out += exp < 0 ? "e-" : "e+";
    if (a < 10) out += '0';
    return out + std::to_string(a);
  }
  if (digits == "0") return out + "0";
  if (dp <= 0) return out + "0." + std::string(static_cast<std::size_t>(-dp), '0') + digits;
  if (dp >= nd) return out + digits + std::string(static_cast<std::size_t>(dp - nd), '0');
  return out + digits.substr(0, static_cast<std::size_t>(dp)) + "." + digits.substr(static_cast<std::size_t>(dp));
}

// ---- encoding: go-yaml v2's emitter (emitterc.go) for block-style documents ----

namespace {

constexpr int kBestIndent = 2;
constexpr int kBestWidth = 80;            // lines are folded at spaces past this column
constexpr std::size_t kMaxSimpleKey = 128;  // longer keys are written as "? key"

enum class Style { Plain, SingleQuoted, DoubleQuoted, Literal };

std::size_t char_width(unsigned char c) {
  return (c & 0x80) == 0 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
}

unsigned char at(std::string_view s, std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0; }
bool is_space(std::string_view s, std::size_t i) { return at(s, i) == ' '; }
bool is_blank(std::string_view s, std::size_t i) { return at(s, i) == ' ' || at(s, i) == '\t'; }
bool is_break(std::string_view s, std::size_t i) {
  unsigned char c = at(s, i);
  return c == '\r' || c == '\n' || (c == 0xC2 && at(s, i + 1) == 0x85) ||
         (c == 0xE2 && at(s, i + 1) == 0x80 && (at(s, i + 2) == 0xA8 || at(s, i + 2) == 0xA9));
}
bool is_blankz(std::string_view s, std::size_t i) { return is_blank(s, i) || is_break(s, i) || i >= s.size(); }
bool is_bom(std::string_view s, std::size_t i) { return at(s, i) == 0xEF && at(s, i + 1) == 0xBB && at(s, i + 2) == 0xBF; }
// The characters YAML may hold unescaped (4-byte UTF-8 is escaped by go-yaml).
bool is_printable(std::string_view s, std::size_t i) {
  unsigned char c = at(s, i), c1 = at(s, i + 1), c2 = at(s, i + 2);
  return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && c1 >= 0xA0) || (c > 0xC2 && c < 0xED) ||
         (c == 0xED && c1 < 0xA0) || c == 0xEE ||
         (c == 0xEF && !(c1 == 0xBB && c2 == 0xBF) && !(c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF)));
}

// Replaces invalid UTF-8 with U+FFFD, as Go's JSON decoding does.
std::string valid_utf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {
      std::uint32_t v = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
      for (std::size_t k = 1; k < len; ++k) v = (v << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = v >= kMin[len] && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// yaml_emitter_analyze_scalar: which styles can carry the value unchanged.
struct ScalarAnalysis {
  bool multiline = false;
  bool block_plain_allowed = true;
  bool single_quoted_allowed = true;
  bool block_allowed = true;
};

ScalarAnalysis analyze(std::string_view value) {
  ScalarAnalysis a;
  if (value.empty()) {
    a.block_allowed = false;
    return a;
  }
  bool block_indicators = value.starts_with("---") || value.starts_with("...");
  bool line_breaks = false, special = false, leading_space = false, leading_break = false, trailing_space = false,
       trailing_break = false, break_space = false, space_break = false, previous_space = false, previous_break = false;
  bool preceded_by_whitespace = true;
  for (std::size_t i = 0, w = 0; i < value.size(); i += w) {
    w = char_width(at(value, i));
    bool followed_by_whitespace = i + w >= value.size() || is_blank(value, i + w);
    char c = value[i];
    if (i == 0) {
      if (std::string_view("#,[]{}&*!|>'\"%@`").find(c) != std::string_view::npos) block_indicators = true;
      if ((c == '?' || c == ':' || c == '-') && followed_by_whitespace) block_indicators = true;
    } else if ((c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace)) {
      block_indicators = true;
    }
    if (!is_printable(value, i)) special = true;
    bool last = i + w == value.size();
    if (is_space(value, i)) {
      leading_space = leading_space || i == 0;
      trailing_space = trailing_space || last;
      break_space = break_space || previous_break;
      previous_space = true;
      previous_break = false;
    } else if (is_break(value, i)) {
      line_breaks = true;
      leading_break = leading_break || i == 0;
      trailing_break = trailing_break || last;
      space_break = space_break || previous_space;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = previous_break = false;
    }
    preceded_by_whitespace = is_blankz(value, i);
  }
  a.multiline = line_breaks;
  if (leading_space || leading_break || trailing_space || trailing_break || line_breaks || block_indicators) {
    a.block_plain_allowed = false;
  }
  if (trailing_space) a.block_allowed = false;
  if (break_space) a.block_plain_allowed = a.single_quoted_allowed = false;
  if (space_break || special) a.block_plain_allowed = a.single_quoted_allowed = a.block_allowed = false;
  return a;
}

class YamlEmitter {
 public:
  std::string emit(const json& root) {
    emit_node(root, /*mapping=*/false, /*simple_key=*/false);
    write_indent();  // document end
    return std::move(out_);
  }

 private:
  // ---- output primitives ----
  void put(char c) {
    out_ += c;
    ++column_;
  }
  void put_break() {
    out_ += '\n';
    column_ = 0;
  }
  void write(std::string_view s, std::size_t& i) {
    std::size_t w = std::min(char_width(at(s, i)), s.size() - i);
    out_.append(s.substr(i, w));
    i += w;
    ++column_;
  }
  void write_break(std::string_view s, std::size_t& i) {
    if (s[i] == '\n') {
      put_break();
      ++i;
    } else {
      write(s, i);
      column_ = 0;
    }
  }
  void write_indent() {
    int indent = std::max(indent_, 0);
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) put_break();
    while (column_ < indent) put(' ');
    whitespace_ = indention_ = true;
  }
  void write_indicator(std::string_view ind, bool need_whitespace, bool is_whitespace, bool is_indention) {
    if (need_whitespace && !whitespace_) put(' ');
    for (char c : ind) put(c);
    whitespace_ = is_whitespace;
    indention_ = indention_ && is_indention;
  }
  void increase_indent(bool flow, bool indentless) {
    indents_.push_back(indent_);
    if (indent_ < 0) {
      indent_ = flow ? kBestIndent : 0;
    } else if (!indentless) {
      indent_ += kBestIndent;
    }
  }
  void pop_indent() {
    indent_ = indents_.back();
    indents_.pop_back();
  }

  // ---- structure ----
  void emit_node(const json& v, bool mapping, bool simple_key) {
    mapping_context_ = mapping;
    simple_key_context_ = simple_key;
    if (v.is_object() || v.is_array()) {
      if (v.empty()) return emit_empty_collection(v.is_object() ? "{" : "[", v.is_object() ? "}" : "]");
      return v.is_object() ? emit_block_mapping(v) : emit_block_sequence(v);
    }
    if (v.is_string()) return emit_string(valid_utf8(v.get_ref<const std::string&>()));
    if (v.is_null()) return emit_scalar("null", Style::Plain);
    if (v.is_boolean()) return emit_scalar(v.get<bool>() ? "true" : "false", Style::Plain);
    if (v.is_number_integer()) return emit_scalar(v.dump(), Style::Plain);
    std::string f = go_format_float(v.get<double>());
    emit_scalar(f == "+Inf" ? ".inf" : f == "-Inf" ? "-.inf" : f == "NaN" ? ".nan" : f, Style::Plain);
  }

  void emit_empty_collection(const char* open, const char* close) {
    write_indicator(open, true, true, false);
    write_indicator(close, false, false, false);
  }

  void emit_block_sequence(const json& arr) {
    increase_indent(false, mapping_context_ && !indention_);
    for (const auto& item : arr) {
      write_indent();
      write_indicator("-", true, false, true);
      emit_node(item, false, false);
    }
    pop_indent();
  }

  void emit_block_mapping(const json& obj) {
    increase_indent(false, false);
    for (const auto& [raw_key, value] : obj.items()) {
      std::string key = valid_utf8(raw_key);
      write_indent();
      if (key.size() <= kMaxSimpleKey && !analyze(key).multiline) {
        emit_node(key, true, true);
        write_indicator(":", false, false, false);
      } else {
        write_indicator("?", true, false, true);
        emit_node(key, true, false);
        write_indent();
        write_indicator(":", true, false, true);
      }
      emit_node(value, true, false);
    }
    pop_indent();
  }

  // go-yaml's stringv: strings that would read back as another type are quoted.
  void emit_string(const std::string& s) {
    Resolved r = resolve_plain(s);
    bool can_use_plain = r.kind == ScalarKind::String && !is_base60_float(s);
    Style style = s.find('\n') != std::string::npos ? Style::Literal : can_use_plain ? Style::Plain : Style::DoubleQuoted;
    emit_scalar(s, style);
  }

  Style select_style(std::string_view value, Style style, const ScalarAnalysis& a) const {
    if (simple_key_context_ && a.multiline) style = Style::DoubleQuoted;
    if (style == Style::Plain && (!a.block_plain_allowed || (value.empty() && simple_key_context_))) {
      style = Style::SingleQuoted;
    }
    if (style == Style::SingleQuoted && !a.single_quoted_allowed) style = Style::DoubleQuoted;
    if (style == Style::Literal && (!a.block_allowed || simple_key_context_)) style = Style::DoubleQuoted;
    return style;
  }

  void emit_scalar(std::string_view value, Style requested) {
    Style style = select_style(value, requested, analyze(value));
    increase_indent(true, false);
    bool allow_breaks = !simple_key_context_;
    switch (style) {
      case Style::Plain: write_plain(value, allow_breaks); break;
      case Style::SingleQuoted: write_single_quoted(value, allow_breaks); break;
      case Style::DoubleQuoted: write_double_quoted(value, allow_breaks); break;
      case Style::Literal: write_literal(value); break;
    }
    pop_indent();
  }

  // ---- scalar writers ----
  void write_plain(std::string_view value, bool allow_breaks) {
    if (!whitespace_) put(' ');
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < value.size();) {
      if (is_space(value, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && !is_space(value, i + 1)) {
          write_indent();
          ++i;
        } else {
          write(value, i);
        }
        spaces = true;
      } else if (is_break(value, i)) {
        if (!breaks && value[i] == '\n') put_break();
        write_break(value, i);
        indention_ = breaks = true;
      } else {
        if (breaks) write_indent();
        write(value, i);
        indention_ = spaces = breaks = false;
      }
    }
    whitespace_ = indention_ = false;
  }

  void write_single_quoted(std::string_view value, bool allow_breaks) {
    write_indicator("'", true, false, false);
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < value.size();) {
      if (is_space(value, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < value.size() - 1 &&
            !is_space(value, i + 1)) {
          write_indent();
          ++i;
        } else {
          write(value, i);
        }
        spaces = true;
      } else if (is_break(value, i)) {
        if (!breaks && value[i] == '\n') put_break();
        write_break(value, i);
        indention_ = breaks = true;
      } else {
        if (breaks) write_indent();
        if (value[i] == '\'') put('\'');
        write(value, i);
        indention_ = spaces = breaks = false;
      }
    }
    write_indicator("'", false, false, false);
    whitespace_ = indention_ = false;
  }

  void write_escape(std::string_view value, std::size_t& i) {
    std::size_t w = std::min(char_width(at(value, i)), value.size() - i);
    auto c = at(value, i);
    std::uint32_t v = w == 1 ? c : w == 2 ? (c & 0x1F) : w == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < w; ++k) v = (v << 6) | (at(value, i + k) & 0x3F);
    i += w;
    put('\\');
    switch (v) {
      case 0x00: return put('0');
      case 0x07: return put('a');
      case 0x08: return put('b');
      case 0x09: return put('t');
      case 0x0A: return put('n');
      case 0x0B: return put('v');
      case 0x0C: return put('f');
      case 0x0D: return put('r');
      case 0x1B: return put('e');
      case 0x22: return put('"');
      case 0x5C: return put('\\');
      case 0x85: return put('N');
      case 0xA0: return put('_');
      case 0x2028: return put('L');
      case 0x2029: return put('P');
      default: break;
    }
    int digits = v <= 0xFF ? 2 : v <= 0xFFFF ? 4 : 8;
    put(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U');
    for (int k = (digits - 1) * 4; k >= 0; k -= 4) put("0123456789ABCDEF"[(v >> k) & 0xF]);
  }

  void write_double_quoted(std::string_view value, bool allow_breaks) {
    write_indicator("\"", true, false, false);
    bool spaces = false;
    for (std::size_t i = 0; i < value.size();) {
      if (!is_printable(value, i) || is_bom(value, i) || is_break(value, i) || value[i] == '"' || value[i] == '\\') {
        write_escape(value, i);
        spaces = false;
      } else if (is_space(value, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i != 0 && i != value.size() - 1) {
          write_indent();
          if (is_space(value, i + 1)) put('\\');
          ++i;
        } else {
          write(value, i);
        }
        spaces = true;
      } else {
        write(value, i);
        spaces = false;
      }
    }
    write_indicator("\"", false, false, false);
    whitespace_ = indention_ = false;
  }

  // Start of the UTF-8 character before position i.
  static std::size_t previous_char(std::string_view s, std::size_t i) {
    do {
      --i;
    } while (i > 0 && (at(s, i) & 0xC0) == 0x80);
    return i;
  }

  void write_literal(std::string_view value) {
    write_indicator("|", true, false, false);
    if (is_space(value, 0) || is_break(value, 0)) write_indicator(std::to_string(kBestIndent), false, false, false);
    std::size_t last = previous_char(value, value.size());
    if (!is_break(value, last)) {
      write_indicator("-", false, false, false);
    } else if (last == 0 || is_break(value, previous_char(value, last))) {
      write_indicator("+", false, false, false);
    }
    put_break();
    indention_ = whitespace_ = true;
    bool breaks = true;
    for (std::size_t i = 0; i < value.size();) {
      if (is_break(value, i)) {
        write_break(value, i);
        indention_ = breaks = true;
      } else {
        if (breaks) write_indent();
        write(value, i);
        indention_ = breaks = false;
      }
    }
  }

  std::string out_;
  int column_ = 0;
  bool whitespace_ = true;  // the last character written was whitespace
  bool indention_ = true;   // only indentation has been written on this line
  int indent_ = -1;
  std::vector<int> indents_;
  bool mapping_context_ = false;
  bool simple_key_context_ = false;
};

// Recursion guard for the emitter: the decoders bound depth, but objects can be built in code.
void check_depth(const json& v, std::size_t depth) {
  if (depth > kMaxNestingDepth) throw_bad_request("object nests deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  if (v.is_structured()) {
    for (const auto& child : v) check_depth(child, depth + 1);
  }
}

}  // namespace

std::string encode_yaml(const json& value) {
  check_depth(value, 0);
  return YamlEmitter().emit(value);
}

// ---- List flattening ----

namespace {

bool is_list(const json& o) {
  if (!o.is_object()) return false;
  auto kind = o.find("kind");
  auto items = o.find("items");
  return kind != o.end() && kind->is_string() && kind->get_ref<const std::string&>().ends_with("List") &&
         items != o.end() && (items->is_array() || items->is_null());
}

void flatten_into(json o, std::vector<json>& out, std::size_t depth) {
  if (!is_list(o)) {
    out.push_back(std::move(o));
    return;
  }
  if (depth > kMaxNestingDepth) throw_bad_request("lists nest deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  std::string kind = o["kind"].get<std::string>();
  std::string item_kind = kind.substr(0, kind.size() - 4);
  json api_version = o.value("apiVersion", json(""));
  json items = std::move(o["items"]);
  if (items.is_null()) return;
  for (std::size_t i = 0; i < items.size(); ++i) {
    json& item = items[i];
    if (!item.is_object()) throw_bad_request(kind + ": items[" + std::to_string(i) + "] is not an object");
    bool untyped = item.value("kind", json("")) == "" && item.value("apiVersion", json("")) == "";
    if (untyped && !item_kind.empty()) {
      item["kind"] = item_kind;
      item["apiVersion"] = api_version;
    }
    flatten_into(std::move(item), out, depth + 1);
  }
}

}  // namespace

std::vector<json> flatten_lists(std::vector<json> objects) {
  std::vector<json> out;
  for (auto& o : objects) flatten_into(std::move(o), out, 0);
  return out;
}

}  // namespace kctl::api
