// Executes a parsed Go template over decoded JSON with text/template's rules: truth, field lookup with
// missingkey=default ("<no value>"), variable scopes, range over lists and sorted maps, and the builtin functions.
#include <cmath>
#include <optional>
#include <stdexcept>

#include "api/go_json.h"
#include "cli/go_template_internal.h"
#include "cli/jsonpath.h"

namespace kctl::cli {

using nlohmann::json;
using Node = GoTemplate::Node;
// A template value: nullopt is Go's invalid reflect.Value (a missing map key), which prints as "<no value>".
using Value = std::optional<json>;

namespace {

struct LoopControl {
  bool is_break;
};

[[noreturn]] void exec_fail(const Node& n, const std::string& msg) {
  throw std::runtime_error("template: output:" + std::to_string(n.line) + ": executing \"output\": " + msg);
}

bool truth(const Value& v) {
  if (!v) return false;
  switch (v->type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return v->get<bool>();
    case json::value_t::string: return !v->get_ref<const std::string&>().empty();
    case json::value_t::number_float:
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return v->get<double>() != 0;
    default: return !v->empty();
  }
}

// Every number in the data as float64: kubectl hands templates the result of json.Unmarshal into interface{}.
json floats(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = floats(*it);
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& e : v) out.push_back(floats(e));
    return out;
  }
  return v;
}

std::string printable(const Value& v) {
  if (!v) return "<no value>";
  return go_sprint(*v, false);
}

}  // namespace

// Defined in go_template_funcs.cc.
Value call_template_function(const std::string& name, std::vector<Value>& args, const Node& at);
bool is_template_function(const std::string& name);

namespace {

class Executor {
 public:
  Executor(const GoTemplateDefines& defines, bool allow_missing, std::string& out)
      : defines_(defines), allow_missing_(allow_missing), out_(out) {}

  void run(const Node& list, const json& dot) {
    vars_.push_back({"$", dot});
    walk(list, dot);
  }

 private:
  void walk(const Node& n, const json& dot) {
    switch (n.type) {
      case Node::Type::List:
        for (const auto& c : n.children) walk(*c, dot);
        return;
      case Node::Type::Text: out_ += n.text; return;
      case Node::Type::Action: {
        Value v = pipeline(*n.pipe, dot);
        if (n.pipe->decl.empty()) out_ += printable(v);
        return;
      }
      case Node::Type::If:
      case Node::Type::With: {
        size_t mark = vars_.size();
        Value v = pipeline(*n.pipe, dot);
        if (truth(v)) walk(*n.list, n.type == Node::Type::With ? *v : dot);
        else if (n.else_list) walk(*n.else_list, dot);
        vars_.resize(mark);
        return;
      }
      case Node::Type::Range: return range(n, dot);
      case Node::Type::Break: throw LoopControl{true};
      case Node::Type::Continue: throw LoopControl{false};
      case Node::Type::Template: {
        auto it = defines_.find(n.text);
        if (it == defines_.end()) exec_fail(n, "no such template \"" + n.text + "\"");
        if (++calls_ > kMaxTemplateCallDepth) exec_fail(n, "exceeded maximum template depth");
        Value v = n.pipe ? pipeline(*n.pipe, dot) : Value(nullptr);
        Executor inner(defines_, allow_missing_, out_);
        inner.calls_ = calls_;
        inner.run(*it->second, v ? *v : json(nullptr));
        --calls_;
        return;
      }
      default: exec_fail(n, "unexpected node");
    }
  }

  void range(const Node& n, const json& dot) {
    size_t mark = vars_.size();
    Value v = pipeline(*n.pipe, dot, true);
    vars_.resize(mark);
    auto body = [&](const json& key, const json& elem) {
      size_t inner = vars_.size();
      if (n.pipe->decl.size() == 1) vars_.push_back({n.pipe->decl[0], elem});
      if (n.pipe->decl.size() == 2) {
        vars_.push_back({n.pipe->decl[0], key});
        vars_.push_back({n.pipe->decl[1], elem});
      }
      try {
        walk(*n.list, elem);
      } catch (const LoopControl& c) {
        vars_.resize(inner);
        return !c.is_break;
      }
      vars_.resize(inner);
      return true;
    };
    bool any = false;
    if (v && v->is_array()) {
      for (size_t i = 0; i < v->size(); ++i) {
        any = true;
        if (!body(json(int64_t(i)), (*v)[i])) break;
      }
    } else if (v && v->is_object()) {
      for (auto it = v->begin(); it != v->end(); ++it) {
        any = true;
        if (!body(json(it.key()), *it)) break;
      }
    } else if (v && v->is_number_integer()) {
      for (int64_t i = 0; i < v->get<int64_t>(); ++i) {
        any = true;
        if (!body(json(i), json(i))) break;
      }
    } else if (v && !v->is_null()) {
      exec_fail(n, "range can't iterate over " + printable(v));
    }
    if (!any && n.else_list) walk(*n.else_list, dot);
  }

  // Evaluates a pipeline; its declared variables stay in scope until the caller trims vars_.
  Value pipeline(const Node& p, const json& dot, bool in_range = false) {
    Value v;
    bool first = true;
    for (const auto& cmd : p.children) {
      v = command(*cmd, dot, first ? nullptr : &v);
      first = false;
    }
    if (in_range) return v;  // range binds its variables per element
    for (const auto& name : p.decl) {
      if (p.assign) {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
          if (it->first == name) {
            it->second = v ? *v : json(nullptr);
            return v;
          }
        exec_fail(p, "undefined variable: " + name);
      }
      vars_.push_back({name, v ? *v : json(nullptr)});
    }
    return v;
  }

  Value command(const Node& cmd, const json& dot, const Value* final) {
    const Node& head = *cmd.children[0];
    bool has_args = cmd.children.size() > 1 || final;
    if (head.type == Node::Type::Identifier) {
      if (!is_template_function(head.text)) exec_fail(head, "function \"" + head.text + "\" not defined");
      // and/or stop at the first value that decides (Go 1.18+), so later arguments are not evaluated
      std::vector<Value> args;
      for (size_t i = 1; i < cmd.children.size(); ++i) {
        args.push_back(arg(*cmd.children[i], dot));
        if ((head.text == "and" && !truth(args.back())) || (head.text == "or" && truth(args.back()))) return args.back();
      }
      if (final) args.push_back(*final);
      return call_template_function(head.text, args, head);
    }
    if (has_args) {
      if (head.type == Node::Type::Field || head.type == Node::Type::Chain || head.type == Node::Type::Variable)
        exec_fail(head, "can't give argument to non-function " + describe(head));
      exec_fail(head, "can't give argument to non-function " + describe(head));
    }
    return arg(head, dot);
  }

  Value arg(const Node& n, const json& dot) {
    switch (n.type) {
      case Node::Type::Dot: return dot;
      case Node::Type::Nil: return json(nullptr);
      case Node::Type::Bool: return json(n.boolean);
      case Node::Type::String: return json(n.text);
      case Node::Type::Number: return n.is_int ? json(int64_t(n.number)) : json(n.number);
      case Node::Type::Field: return fields(n, Value(dot), n.fields);
      case Node::Type::Variable: {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
          if (it->first == n.text) return fields(n, Value(it->second), n.fields);
        exec_fail(n, "undefined variable: " + n.text);
      }
      case Node::Type::Chain: {
        size_t mark = vars_.size();
        Value v = pipeline(*n.children[0], dot);
        vars_.resize(mark);
        return fields(n, v, n.fields);
      }
      case Node::Type::Identifier: {
        std::vector<Value> none;
        return call_template_function(n.text, none, n);
      }
      default: exec_fail(n, "can't evaluate " + describe(n));
    }
  }

  Value fields(const Node& at, Value v, const std::vector<std::string>& names) {
    for (const auto& name : names) {
      if (!v || v->is_null()) {
        if (!allow_missing_ && !v) exec_fail(at, "nil data; no entry for key \"" + name + "\"");
        if (v && v->is_null()) exec_fail(at, "nil pointer evaluating interface {}." + name);
        return std::nullopt;
      }
      if (!v->is_object()) exec_fail(at, "can't evaluate field " + name + " in type " + type_name(*v));
      auto it = v->find(name);
      if (it == v->end()) {
        if (!allow_missing_) exec_fail(at, "map has no entry for key \"" + name + "\"");
        v = std::nullopt;
        continue;
      }
      v = *it;
    }
    return v;
  }

  static std::string type_name(const json& v) {
    if (v.is_string()) return "string";
    if (v.is_number()) return "float64";
    if (v.is_boolean()) return "bool";
    if (v.is_array()) return "[]interface {}";
    return "interface {}";
  }
  static std::string describe(const Node& n) {
    std::string s = n.type == Node::Type::Variable ? n.text : "";
    for (const auto& f : n.fields) s += "." + f;
    return s;
  }

  const GoTemplateDefines& defines_;
  bool allow_missing_;
  std::string& out_;
  std::vector<std::pair<std::string, json>> vars_;
  int calls_ = 0;
};

}  // namespace

struct GoTemplateState {
  GoTemplateDefines defines;
};

GoTemplate::GoTemplate() = default;
GoTemplate::GoTemplate(GoTemplate&&) noexcept = default;
GoTemplate& GoTemplate::operator=(GoTemplate&&) noexcept = default;
GoTemplate::~GoTemplate() = default;

GoTemplate GoTemplate::parse(std::string_view text) {
  GoTemplate t;
  auto state = std::make_shared<GoTemplateState>();
  t.root_ = parse_go_template(text, state->defines);
  t.defines_ = state;
  return t;
}

void GoTemplate::execute(const json& data, std::string& out) const {
  auto* state = static_cast<GoTemplateState*>(defines_.get());
  Executor ex(state->defines, allow_missing_, out);
  try {
    ex.run(*root_, floats(data));
  } catch (const LoopControl&) {
    throw std::runtime_error("template: output: {{break}} or {{continue}} outside {{range}}");
  }
}

}  // namespace kctl::cli
