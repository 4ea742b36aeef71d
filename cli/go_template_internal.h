// The parse tree of a Go template, shared by the parser (go_template_parse.cc) and the executor
// (go_template.cc). Node kinds follow text/template/parse.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/go_template.h"

namespace kctl::cli {

struct GoTemplate::Node {
  enum class Type {
    List, Text, Action, If, Range, With, Template, Break, Continue,  // statements
    Pipeline, Command,                                                // expressions
    Field, Variable, Dot, Chain, String, Number, Bool, Nil, Identifier  // operands
  };
  Type type = Type::List;
  int line = 1;
  std::string text;                 // Text, String, Identifier and Template (the name), Variable ("$x")
  std::vector<std::string> fields;  // Field (.a.b -> a, b), Variable ($x.a -> a), Chain ((...).a -> a)
  double number = 0;
  bool is_int = false;
  bool boolean = false;
  std::vector<std::unique_ptr<Node>> children;  // List: statements; Pipeline: commands; Command: operands;
                                                // Chain: the operand the fields apply to
  std::vector<std::string> decl;  // Pipeline: the variables it declares ($x := ...) or assigns ($x = ...)
  bool assign = false;
  std::unique_ptr<Node> pipe, list, else_list;  // Action/If/Range/With/Template
};

using GoTemplateNodePtr = std::unique_ptr<GoTemplate::Node>;
// {{define "name"}} bodies by name.
using GoTemplateDefines = std::map<std::string, GoTemplateNodePtr>;

// Parses `text` into the root list and the named templates it defines. Throws std::runtime_error.
GoTemplateNodePtr parse_go_template(std::string_view text, GoTemplateDefines& defines);

}  // namespace kctl::cli
