// The functions a kubectl Go template can call: text/template's builtins with their comparison and indexing
// rules, a printf with Go's verbs, and kubectl's exists and base64decode.
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "api/codec.h"
#include "api/go_json.h"
#include "cli/go_template_internal.h"
#include "cli/jsonpath.h"

namespace kctl::cli {

using nlohmann::json;
using Node = GoTemplate::Node;
using Value = std::optional<json>;

namespace {

const char* const kFunctions[] = {"and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt",
                                  "le", "gt", "ge", "html", "js", "urlquery", "slice", "exists", "base64decode"};

[[noreturn]] void call_fail(const Node& at, const std::string& fn, const std::string& msg) {
  throw std::runtime_error("template: output:" + std::to_string(at.line) + ": executing \"output\": error calling " +
                           fn + ": " + msg);
}

bool truth(const Value& v) {
  if (!v || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string()) return !v->get_ref<const std::string&>().empty();
  if (v->is_number()) return v->get<double>() != 0;
  return !v->empty();
}

std::string type_name(const Value& v) {
  if (!v) return "<nil>";
  if (v->is_string()) return "string";
  if (v->is_number_integer()) return "int";
  if (v->is_number()) return "float64";
  if (v->is_boolean()) return "bool";
  if (v->is_array()) return "[]interface {}";
  if (v->is_object()) return "map[string]interface {}";
  return "<nil>";
}

// text/template's basic-kind comparison: numbers with numbers, strings with strings, bools with bools.
int compare(const Value& a, const Value& b, bool ordered, const Node& at, const std::string& fn) {
  if (a && b && a->is_number() && b->is_number()) {
    double x = a->get<double>(), y = b->get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a && b && a->is_string() && b->is_string()) return a->get<std::string>().compare(b->get<std::string>());
  if (a && b && a->is_boolean() && b->is_boolean() && !ordered) return a->get<bool>() == b->get<bool>() ? 0 : 1;
  if (!ordered && (!a || a->is_null()) && (!b || b->is_null())) return 0;
  if (!ordered && (!a || a->is_null() || !b || b->is_null())) return 1;
  call_fail(at, fn, ordered ? "invalid type for comparison" : "incompatible types for comparison");
}

std::string sprint(const std::vector<Value>& args, bool spaces_always) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    bool is_str = args[i] && args[i]->is_string();
    bool prev_str = i > 0 && args[i - 1] && args[i - 1]->is_string();
    if (i > 0 && (spaces_always || (!is_str && !prev_str))) out += ' ';
    out += args[i] ? go_sprint(*args[i]) : "<nil>";
  }
  return out;
}

std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else out += char(c);
  }
  return out + "\"";
}

// One printf verb with its flags, width and precision ("%-10s", "%.2f", "%d").
std::string format_verb(char verb, const std::string& flags, int width, int prec, const Value& v) {
  auto bad = [&] { return std::string("%!") + verb + "(" + type_name(v) + "=" + (v ? go_sprint(*v) : "<nil>") + ")"; };
  std::string body;
  bool is_int = v && (v->is_number_integer() || v->is_number_unsigned());
  switch (verb) {
    case 'v': body = v ? go_sprint(*v) : "<nil>"; break;
    case 's':
      if (v && v->is_string()) body = v->get<std::string>();
      else if (v && (v->is_array() || v->is_object())) body = go_sprint(*v);
      else return bad();
      break;
    case 'q':
      if (!(v && v->is_string())) return bad();
      body = go_quote(v->get<std::string>());
      break;
    case 't':
      if (!(v && v->is_boolean())) return bad();
      body = v->get<bool>() ? "true" : "false";
      break;
    case 'd': case 'x': case 'X': case 'o': case 'c':
      if (!is_int) {
        if (verb != 'x' && verb != 'X') return bad();
        if (!(v && v->is_string())) return bad();
        for (unsigned char ch : v->get<std::string>()) {
          char buf[4];
          std::snprintf(buf, sizeof buf, verb == 'x' ? "%02x" : "%02X", ch);
          body += buf;
        }
        break;
      } else {
        char buf[64];
        long long n = v->get<long long>();
        const char* f = verb == 'd' ? "%lld" : verb == 'x' ? "%llx" : verb == 'X' ? "%llX" : verb == 'o' ? "%llo" : "%c";
        std::snprintf(buf, sizeof buf, f, n);
        body = buf;
        if (flags.find('+') != std::string::npos && n >= 0 && verb == 'd') body = "+" + body;
      }
      break;
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
      if (!(v && v->is_number()) || is_int) return bad();
      double d = v->get<double>();
      if ((verb == 'g' || verb == 'G') && prec < 0) {
        body = api::go_format_float(d, 64);
        break;
      }
      char fmt[16], buf[512];
      std::snprintf(fmt, sizeof fmt, "%%.%d%c", prec < 0 ? 6 : prec, verb == 'F' ? 'f' : verb);
      std::snprintf(buf, sizeof buf, fmt, d);
      body = buf;
      if (flags.find('+') != std::string::npos && d >= 0) body = "+" + body;
      break;
    }
    default: return std::string("%!") + verb + "(" + type_name(v) + "=" + (v ? go_sprint(*v) : "<nil>") + ")";
  }
  if (prec >= 0 && (verb == 's' || verb == 'v') && int(body.size()) > prec) body.resize(size_t(prec));
  if (width > int(body.size())) {
    size_t pad = size_t(width) - body.size();
    if (flags.find('-') != std::string::npos) body += std::string(pad, ' ');
    else if (flags.find('0') != std::string::npos && verb != 's') body = std::string(pad, '0') + body;
    else body = std::string(pad, ' ') + body;
  }
  return body;
}

std::string printf_(const std::string& format, const std::vector<Value>& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    size_t j = i + 1;
    std::string flags;
    while (j < format.size() && std::string("+-# 0").find(format[j]) != std::string::npos) flags += format[j++];
    int width = 0, prec = -1;
    while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) width = width * 10 + (format[j++] - '0');
    if (j < format.size() && format[j] == '.') {
      prec = 0;
      ++j;
      while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) prec = prec * 10 + (format[j++] - '0');
    }
    if (j >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = format[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    out += format_verb(verb, flags, width, prec, args[next++]);
  }
  if (next < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = next; k < args.size(); ++k)
      out += (k > next ? ", " : "") + type_name(args[k]) + "=" + (args[k] ? go_sprint(*args[k]) : "<nil>");
    out += ")";
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      case '\0': out += "\xEF\xBF\xBD"; break;
      default: out += c;
    }
  }
  return out;
}

std::string js_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '"': out += "\\\""; break;
      case '<': out += "\\u003C"; break;
      case '>': out += "\\u003E"; break;
      case '&': out += "\\u0026"; break;
      case '=': out += "\\u003D"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out;
}

std::string query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += char(c);
    else if (c == ' ') out += '+';
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Value index_into(Value v, const Value& key, const Node& at, const std::string& fn) {
  if (!v || v->is_null()) call_fail(at, fn, "index of untyped nil");
  if (v->is_object()) {
    if (!key || !key->is_string()) call_fail(at, fn, "value has type " + type_name(key) + "; should be string");
    auto it = v->find(key->get<std::string>());
    return it == v->end() ? Value(json(nullptr)) : Value(*it);
  }
  if (v->is_array() || v->is_string()) {
    if (!key || !key->is_number()) call_fail(at, fn, "cannot index slice/array with type " + type_name(key));
    int64_t i = key->get<int64_t>();
    int64_t len = v->is_array() ? int64_t(v->size()) : int64_t(v->get_ref<const std::string&>().size());
    if (i < 0 || i >= len) call_fail(at, fn, "index out of range: " + std::to_string(i));
    if (v->is_array()) return (*v)[size_t(i)];
    return json(int64_t(static_cast<unsigned char>(v->get_ref<const std::string&>()[size_t(i)])));
  }
  call_fail(at, fn, "can't index item of type " + type_name(v));
}

}  // namespace

bool is_template_function(const std::string& name) {
  for (const char* f : kFunctions)
    if (name == f) return true;
  return false;
}

Value call_template_function(const std::string& fn, std::vector<Value>& args, const Node& at) {
  auto need = [&](size_t n) {
    if (args.size() < n)
      throw std::runtime_error("template: output:" + std::to_string(at.line) + ": executing \"output\": wrong number of args for " +
                               fn + ": want at least " + std::to_string(n) + " got " + std::to_string(args.size()));
  };
  if (fn == "and" || fn == "or") {
    need(1);
    return args.back();  // the executor returned early on the deciding argument
  }
  if (fn == "not") return need(1), json(!truth(args[0]));
  if (fn == "len") {
    need(1);
    if (args[0] && (args[0]->is_array() || args[0]->is_object())) return json(int64_t(args[0]->size()));
    if (args[0] && args[0]->is_string()) return json(int64_t(args[0]->get_ref<const std::string&>().size()));
    call_fail(at, fn, "len of type " + type_name(args[0]));
  }
  if (fn == "index") {
    need(1);
    Value v = args[0];
    for (size_t i = 1; i < args.size(); ++i) v = index_into(v, args[i], at, fn);
    return v;
  }
  if (fn == "slice") {
    need(1);
    if (!args[0] || !(args[0]->is_string() || args[0]->is_array())) call_fail(at, fn, "can't slice item of type " + type_name(args[0]));
    int64_t len = args[0]->is_string() ? int64_t(args[0]->get_ref<const std::string&>().size()) : int64_t(args[0]->size());
    int64_t lo = args.size() > 1 && args[1] ? args[1]->get<int64_t>() : 0, hi = args.size() > 2 && args[2] ? args[2]->get<int64_t>() : len;
    if (lo < 0 || hi > len || lo > hi) call_fail(at, fn, "index out of range: " + std::to_string(hi));
    if (args[0]->is_string()) return json(args[0]->get<std::string>().substr(size_t(lo), size_t(hi - lo)));
    json out = json::array();
    for (int64_t i = lo; i < hi; ++i) out.push_back((*args[0])[size_t(i)]);
    return out;
  }
  if (fn == "print") return json(sprint(args, false));
  if (fn == "println") return json(sprint(args, true) + "\n");
  if (fn == "printf") {
    need(1);
    if (!args[0] || !args[0]->is_string()) call_fail(at, fn, "format must be a string");
    std::vector<Value> rest(args.begin() + 1, args.end());
    return json(printf_(args[0]->get<std::string>(), rest));
  }
  if (fn == "eq") {
    need(2);
    for (size_t i = 1; i < args.size(); ++i)
      if (compare(args[0], args[i], false, at, fn) == 0) return json(true);
    return json(false);
  }
  if (fn == "ne") return need(2), json(compare(args[0], args[1], false, at, fn) != 0);
  if (fn == "lt") return need(2), json(compare(args[0], args[1], true, at, fn) < 0);
  if (fn == "le") return need(2), json(compare(args[0], args[1], true, at, fn) <= 0);
  if (fn == "gt") return need(2), json(compare(args[0], args[1], true, at, fn) > 0);
  if (fn == "ge") return need(2), json(compare(args[0], args[1], true, at, fn) >= 0);
  if (fn == "html" || fn == "js" || fn == "urlquery") {
    std::string s = sprint(args, false);
    return json(fn == "html" ? html_escape(s) : fn == "js" ? js_escape(s) : query_escape(s));
  }
  if (fn == "exists") {
    need(1);
    Value v = args[0];
    for (size_t i = 1; i < args.size(); ++i) {
      if (!v) return json(false);
      if (v->is_object() && args[i] && args[i]->is_string()) {
        auto it = v->find(args[i]->get<std::string>());
        if (it == v->end()) return json(false);
        v = *it;
      } else if (v->is_array() && args[i] && args[i]->is_number()) {
        int64_t k = args[i]->get<int64_t>();
        if (k < 0 || k >= int64_t(v->size())) return json(false);
        v = (*v)[size_t(k)];
      } else {
        return json(false);
      }
    }
    return json(v.has_value());
  }
  if (fn == "base64decode") {
    need(1);
    if (!args[0] || !args[0]->is_string()) call_fail(at, fn, "base64decode needs a string");
    auto decoded = api::base64_decode(args[0]->get<std::string>());
    if (!decoded) call_fail(at, fn, "illegal base64 data at input byte 0");
    return json(*decoded);
  }
  throw std::runtime_error("template: output:" + std::to_string(at.line) + ": function \"" + fn + "\" not defined");
}

}  // namespace kctl::cli
