// The JSONPath parser and evaluator, following client-go's parser.go and jsonpath.go: the same node kinds, the same
// slice arithmetic and bounds errors, ranges over results, filters comparing one value at a time.
#include "cli/jsonpath.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <regex>
#include <stdexcept>

#include "api/codec.h"

namespace kctl::cli {

using nlohmann::json;

struct JsonPath::Node {
  enum class Type { Text, List, Field, Array, Wildcard, Recursive, Filter, Union, Int, Float, Bool };
  Type type = Type::Text;
  std::string text;  // Text: the text; Field: the name; Filter: the operator
  int64_t params[3] = {0, 0, 0};
  bool known[3] = {false, false, false};
  bool derived_end = false;
  double number = 0;
  bool boolean = false;
  bool range = false, end = false;  // List: the action is {range ...} or {end}
  std::vector<std::unique_ptr<Node>> children;
};

namespace {

using Node = JsonPath::Node;
using NodePtr = std::unique_ptr<Node>;
using Values = std::vector<const json*>;

NodePtr make(Node::Type t, std::string text = "") {
  auto n = std::make_unique<Node>();
  n->type = t;
  n->text = std::move(text);
  return n;
}

bool is_terminator(char c) {
  return c == 0 || std::isspace(static_cast<unsigned char>(c)) || c == '.' || c == ',' || c == '[' || c == ']' ||
         c == '$' || c == '@' || c == '{' || c == '}';
}

// Parses the inside of one action (between { and }) into the children of `list`.
class ActionParser {
 public:
  ActionParser(std::string_view s, int depth) : s_(s), depth_(depth) {
    if (depth > kMaxJsonPathDepth) throw std::runtime_error("jsonpath nested too deeply");
  }
  NodePtr parse_list() {
    auto list = make(Node::Type::List);
    while (pos_ < s_.size()) parse_one(*list);
    return list;
  }

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : 0; }

  void parse_one(Node& list) {
    char c = s_[pos_];
    if (c == ' ' || c == '@' || c == '$') {
      ++pos_;
    } else if (s_.substr(pos_, 3) == "[?(") {
      parse_filter(list);
    } else if (c == '[') {
      parse_array(list);
    } else if (c == '"' || c == '\'') {
      parse_quote(list, c);
    } else if (c == '.') {
      parse_field(list);
    } else if (c == '+' || c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      parse_number(list);
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      parse_identifier(list);
    } else {
      throw std::runtime_error(std::string("unrecognized character in action: U+00") + "XX '" + c + "'");
    }
  }

  void parse_field(Node& list) {
    ++pos_;  // the dot
    if (peek() == '.') {
      list.children.push_back(make(Node::Type::Recursive));
      return;  // the next '.'-less name is read by the following parse_field
    }
    std::string name;
    while (pos_ < s_.size() && !is_terminator(s_[pos_])) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      name.push_back(s_[pos_++]);
    }
    list.children.push_back(name == "*" ? make(Node::Type::Wildcard) : make(Node::Type::Field, name));
  }

  void parse_quote(Node& list, char quote) {
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      char c = s_[pos_++];
      if (c == '\\' && pos_ < s_.size()) {
        char e = s_[pos_++];
        switch (e) {
          case 'n': out.push_back('\n'); break;
          case 't': out.push_back('\t'); break;
          case 'r': out.push_back('\r'); break;
          case '0': out.push_back('\0'); break;
          default: out.push_back(e);
        }
      } else {
        out.push_back(c);
      }
    }
    if (pos_ >= s_.size()) throw std::runtime_error("unterminated quoted string");
    ++pos_;
    list.children.push_back(make(Node::Type::Text, out));
  }

  void parse_number(Node& list) {
    size_t start = pos_++;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                s_[pos_] == 'e' || s_[pos_] == 'E'))
      ++pos_;
    std::string text(s_.substr(start, pos_ - start));
    bool is_float = text.find_first_of(".eE") != std::string::npos;
    auto n = make(is_float ? Node::Type::Float : Node::Type::Int, text);
    try {
      n->number = std::stod(text);
    } catch (const std::exception&) {
      throw std::runtime_error("cannot parse number " + text);
    }
    list.children.push_back(std::move(n));
  }

  void parse_identifier(Node& list) {
    size_t start = pos_;
    while (pos_ < s_.size() && !is_terminator(s_[pos_])) ++pos_;
    std::string id(s_.substr(start, pos_ - start));
    if (id == "range") list.range = true;
    else if (id == "end") list.end = true;
    else if (id == "true" || id == "false") {
      auto n = make(Node::Type::Bool, id);
      n->boolean = id == "true";
      list.children.push_back(std::move(n));
    } else throw std::runtime_error("unrecognized identifier " + id);
  }

  void parse_filter(Node& list) {
    size_t close = s_.find(")]", pos_);
    if (close == std::string_view::npos) throw std::runtime_error("unclosed array expect ]");
    std::string inner(s_.substr(pos_ + 3, close - pos_ - 3));
    pos_ = close + 2;
    static const std::regex kOp(R"(^(.*?)\s*(==|!=|>=|<=|>|<)\s*(.*)$)");
    std::smatch m;
    auto f = make(Node::Type::Filter, "exists");
    if (std::regex_match(inner, m, kOp)) {
      f->text = m[2];
      f->children.push_back(ActionParser(m[1].str(), depth_ + 1).parse_list());
      f->children.push_back(ActionParser(m[3].str(), depth_ + 1).parse_list());
    } else {
      f->children.push_back(ActionParser(inner, depth_ + 1).parse_list());
      f->children.push_back(make(Node::Type::List));
    }
    list.children.push_back(std::move(f));
  }

  void parse_array(Node& list) {
    size_t close = s_.find(']', pos_);
    if (close == std::string_view::npos) throw std::runtime_error("unterminated array");
    std::string text(s_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    if (text == "*") text = ":";
    if (text.find(',') != std::string::npos) {
      auto u = make(Node::Type::Union);
      size_t start = 0;
      while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        part.erase(0, part.find_first_not_of(' '));
        part.erase(part.find_last_not_of(' ') + 1);
        u->children.push_back(ActionParser("[" + part + "]", depth_ + 1).parse_list());
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      list.children.push_back(std::move(u));
      return;
    }
    if (text.size() >= 2 && (text[0] == '\'' || text[0] == '"') && text.back() == text[0]) {
      list.children.push_back(make(Node::Type::Field, text.substr(1, text.size() - 2)));
      return;
    }
    static const std::regex kSlice(R"(^(-?\d*)(:-?\d*)?(:-?\d*)?$)");
    std::smatch m;
    if (!std::regex_match(text, m, kSlice)) throw std::runtime_error("invalid array index " + text);
    auto a = make(Node::Type::Array);
    for (int i = 0; i < 3; ++i) {
      std::string v = m[i + 1];
      if (!v.empty()) {
        if (i > 0) v.erase(0, 1);
        if (i > 0 && v.empty()) continue;
        a->known[i] = true;
        a->params[i] = std::stoll(v);
      } else if (i == 1) {
        a->known[1] = true;
        a->params[1] = a->params[0] + 1;
        a->derived_end = true;
      }
    }
    list.children.push_back(std::move(a));
  }

  std::string_view s_;
  int depth_;
  size_t pos_ = 0;
};

}  // namespace

JsonPath::JsonPath(JsonPath&&) noexcept = default;
JsonPath& JsonPath::operator=(JsonPath&&) noexcept = default;
JsonPath::~JsonPath() = default;

JsonPath JsonPath::parse(std::string_view text) {
  JsonPath jp;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find('{', pos);
    if (open != pos) {
      jp.nodes_.push_back(make(Node::Type::Text, std::string(text.substr(pos, open - pos))));
      if (open == std::string_view::npos) break;
    }
    // The action ends at the first '}' outside quotes.
    size_t i = open + 1;
    char quote = 0;
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (quote) {
        if (c == '\\') ++i;
        else if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '}') {
        break;
      }
    }
    if (i >= text.size()) throw std::runtime_error("unclosed action");
    jp.nodes_.push_back(ActionParser(text.substr(open + 1, i - open - 1), 0).parse_list());
    pos = i + 1;
  }
  return jp;
}

std::string relaxed_jsonpath(const std::string& expr) {
  if (expr.empty()) return expr;
  static const std::regex kRelaxed(R"(^\{\.?([^{}]+)\}$|^\.?([^{}]+)$)");
  std::smatch m;
  if (!std::regex_match(expr, m, kRelaxed))
    throw std::runtime_error("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or "
                             "'{.name1.name2}'");
  return "{." + (m[1].length() ? m[1].str() : m[2].str()) + "}";
}

namespace {

// Evaluates the nodes of one action over a set of current values (client-go's walk).
class Evaluator {
 public:
  explicit Evaluator(bool allow_missing) : allow_missing_(allow_missing) {}

  Values eval_list(const Node& list, Values in) {
    for (const auto& n : list.children) in = eval(*n, in);
    return in;
  }
  const json* keep(json v) {
    arena_.push_back(std::move(v));
    return &arena_.back();
  }

 private:
  Values eval(const Node& n, const Values& in) {
    switch (n.type) {
      case Node::Type::Text: return {keep(n.text)};
      case Node::Type::Int: return {keep(int64_t(n.number))};
      case Node::Type::Float: return {keep(n.number)};
      case Node::Type::Bool: return {keep(n.boolean)};
      case Node::Type::List: return eval_list(n, in);
      case Node::Type::Field: return field(n, in);
      case Node::Type::Array: return array(n, in);
      case Node::Type::Wildcard: return wildcard(in);
      case Node::Type::Recursive: return recursive(in);
      case Node::Type::Filter: return filter(n, in);
      case Node::Type::Union: {
        Values out;
        for (const auto& l : n.children) {
          Values r = eval_list(*l, in);
          out.insert(out.end(), r.begin(), r.end());
        }
        return out;
      }
    }
    return {};
  }

  Values field(const Node& n, const Values& in) {
    if (n.text.empty()) return in;
    Values out;
    for (const json* v : in)
      if (v->is_object())
        if (auto it = v->find(n.text); it != v->end()) out.push_back(&*it);
    if (out.empty() && !allow_missing_) throw std::runtime_error(n.text + " is not found");
    return out;
  }

  Values array(const Node& n, const Values& in) {
    Values out;
    for (const json* v : in) {
      if (!v->is_array()) {
        if (allow_missing_) continue;
        throw std::runtime_error(v->dump() + " is not array or slice");
      }
      int64_t len = int64_t(v->size());
      int64_t start = n.known[0] ? n.params[0] : 0, end = n.known[1] ? n.params[1] : len;
      if (start < 0) start += len;
      if (end < 0 || (end == 0 && n.derived_end)) end += len;
      if (end == start) continue;
      if (start >= len || start < 0)
        throw std::runtime_error("array index out of bounds: index " + std::to_string(start) + ", length " + std::to_string(len));
      if (end > len || end < 0)
        throw std::runtime_error("array index out of bounds: index " + std::to_string(end - 1) + ", length " + std::to_string(len));
      if (start > end)
        throw std::runtime_error("starting index " + std::to_string(start) + " is greater than ending index " + std::to_string(end));
      int64_t step = n.known[2] ? n.params[2] : 1;
      if (step <= 0) throw std::runtime_error("step must be > 0");
      for (int64_t i = start; i < end; i += step) out.push_back(&(*v)[size_t(i)]);
    }
    return out;
  }

  static Values wildcard(const Values& in) {
    Values out;
    for (const json* v : in)
      if (v->is_object() || v->is_array())
        for (const auto& e : *v) out.push_back(&e);
    return out;
  }

  Values recursive(const Values& in) {
    Values out;
    for (const json* v : in) {
      if (!(v->is_object() || v->is_array()) || v->empty()) continue;
      out.push_back(v);
      Values children;
      for (const auto& e : *v) children.push_back(&e);
      Values deeper = recursive(children);
      out.insert(out.end(), deeper.begin(), deeper.end());
    }
    return out;
  }

  static bool compare(const json& l, const json& r, const std::string& op) {
    int c;
    if (l.is_number() && r.is_number()) {
      double a = l.get<double>(), b = r.get<double>();
      c = a < b ? -1 : a > b ? 1 : 0;
    } else if (l.is_string() && r.is_string()) {
      c = l.get<std::string>().compare(r.get<std::string>());
    } else if (op == "==" || op == "!=") {
      c = l == r ? 0 : 1;
    } else {
      throw std::runtime_error("incompatible types for comparison");
    }
    if (op == "==") return c == 0;
    if (op == "!=") return c != 0;
    if (op == "<") return c < 0;
    if (op == ">") return c > 0;
    if (op == "<=") return c <= 0;
    return c >= 0;
  }

  Values filter(const Node& n, const Values& in) {
    Values out;
    for (const json* v : in) {
      if (!v->is_array()) throw std::runtime_error(v->dump() + " is not array or slice and cannot be filtered");
      for (const auto& e : *v) {
        Values left = Evaluator(true).eval_list(*n.children[0], {&e});
        if (left.empty()) continue;
        if (left.size() > 1) throw std::runtime_error("can only compare one element at a time");
        if (n.text == "exists") {
          out.push_back(&e);
          continue;
        }
        Evaluator right_eval(true);
        Values right = right_eval.eval_list(*n.children[1], {&e});
        if (right.empty()) continue;
        if (compare(*left[0], *right[0], n.text)) out.push_back(&e);
      }
    }
    return out;
  }

  bool allow_missing_;
  std::deque<json> arena_;
};

size_t matching_end(const std::vector<std::unique_ptr<Node>>& nodes, size_t i) {
  int depth = 1;
  for (; i < nodes.size(); ++i) {
    if (nodes[i]->range) ++depth;
    if (nodes[i]->end && --depth == 0) return i + 1;
  }
  return i;
}

// Runs nodes[i..] over `data` until the {end} that closes the current range; returns the index after it.
size_t run(const std::vector<std::unique_ptr<Node>>& nodes, size_t i, const json& data, Evaluator& ev,
           std::vector<Values>& results) {
  while (i < nodes.size()) {
    const Node& n = *nodes[i];
    if (n.type == Node::Type::Text) {
      results.push_back({ev.keep(n.text)});
      ++i;
    } else if (n.end) {
      return i + 1;
    } else if (n.range) {
      Values items = ev.eval_list(n, {&data});
      for (const json* item : items) run(nodes, i + 1, *item, ev, results);
      i = matching_end(nodes, i + 1);
    } else {
      results.push_back(ev.eval_list(n, {&data}));
      ++i;
    }
  }
  return i;
}

std::string go_float(double v) {
  return api::go_format_float(v, 64);
}

void append_go_json(std::string& out, const json& v, bool indent, int level) {
  auto newline = [&](int l) {
    if (indent) out += "\n" + std::string(size_t(l) * 4, ' ');
  };
  switch (v.type()) {
    case json::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ',';
        first = false;
        newline(level + 1);
        out += json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace);
        out += indent ? ": " : ":";
        append_go_json(out, *it, indent, level + 1);
      }
      newline(level);
      out += '}';
      return;
    }
    case json::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        append_go_json(out, v[i], indent, level + 1);
      }
      newline(level);
      out += ']';
      return;
    }
    case json::value_t::number_float: {
      double d = v.get<double>(), a = std::abs(d);
      char buf[64];
      bool exp = a != 0 && (a < 1e-6 || a >= 1e21);
      auto r = std::to_chars(buf, buf + sizeof buf, d, exp ? std::chars_format::scientific : std::chars_format::fixed);
      std::string s(buf, r.ptr);
      if (exp && s.size() >= 4 && s[s.size() - 4] == 'e' && s[s.size() - 3] == '-' && s[s.size() - 2] == '0')
        s.erase(s.size() - 2, 1);
      out += s;
      return;
    }
    default:
      out += v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

}  // namespace

std::vector<std::vector<json>> JsonPath::find_results(const json& data) const {
  Evaluator ev(allow_missing_);
  std::vector<Values> results;
  run(nodes_, 0, data, ev, results);
  std::vector<std::vector<json>> out;
  for (const auto& r : results) {
    out.emplace_back();
    for (const json* v : r) out.back().push_back(*v);
  }
  return out;
}

void JsonPath::execute(const json& data, std::string& out) const {
  Evaluator ev(allow_missing_);
  std::vector<Values> results;
  run(nodes_, 0, data, ev, results);
  for (const auto& group : results) {
    if (output_json_) {  // jsonpath-as-json: each action's results as one indented JSON array
      json arr = json::array();
      for (const json* v : group) arr.push_back(*v);
      out += go_json(arr, true) + "\n";
      continue;
    }
    for (size_t i = 0; i < group.size(); ++i) {
      const json& v = *group[i];
      if (v.is_object() || v.is_array()) out += go_json(v, false);
      else if (v.is_null()) out += "null";
      else out += go_sprint(v);
      if (i + 1 != group.size()) out += ' ';
    }
  }
}

std::string go_json(const json& v, bool indent) {
  std::string raw;
  append_go_json(raw, v, indent, 0);
  // Go escapes these for safe embedding in HTML; they can only occur inside strings here.
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (c == '\xE2' && i + 2 < raw.size() && raw[i + 1] == '\x80' && (raw[i + 2] == '\xA8' || raw[i + 2] == '\xA9')) {
      out += raw[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else out += c;
  }
  return out;
}

std::string go_sprint(const json& v, bool numbers_are_floats) {
  switch (v.type()) {
    case json::value_t::string: return v.get<std::string>();
    case json::value_t::null: return "<nil>";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_float: return go_float(v.get<double>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return numbers_are_floats ? go_float(v.get<double>()) : v.dump();
    case json::value_t::object: {
      std::string out = "map[";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ' ';
        first = false;
        out += it.key() + ":" + go_sprint(*it, numbers_are_floats);
      }
      return out + "]";
    }
    case json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + go_sprint(v[i], numbers_are_floats);
      return out + "]";
    }
    default: return v.dump();
  }
}

}  // namespace kctl::cli
