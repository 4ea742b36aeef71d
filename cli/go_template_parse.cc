// Lexer and parser for Go templates, after text/template/parse: {{- and -}} trim markers, comments, string, raw
// string, char and number literals, field chains, variables, pipelines and the control structures.
#include <stdexcept>

#include "cli/go_template_internal.h"

namespace kctl::cli {

namespace {

using Node = GoTemplate::Node;

struct Token {
  enum class Kind { Text, Left, Right, Ident, Keyword, Field, Variable, Dot, String, Number, Bool, Nil, Pipe,
                    LParen, RParen, Declare, Assign, Comma, Eof };
  Kind kind;
  std::string val;
  int line;
  bool spaced = false;  // whitespace came before it (".a .b" are two operands, ".a.b" one)
};

[[noreturn]] void fail(int line, const std::string& msg) {
  throw std::runtime_error("template: output:" + std::to_string(line) + ": " + msg);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) {
      size_t open = s_.find("{{", pos_);
      std::string text(s_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_));
      bool trim_left = open != std::string_view::npos && open + 3 < s_.size() && s_[open + 2] == '-' &&
                       is_space(s_[open + 3]);
      if (trim_left)
        while (!text.empty() && is_space(text.back())) text.pop_back();
      if (!text.empty()) push(Token::Kind::Text, text);
      count_lines(pos_, open == std::string_view::npos ? s_.size() : open);
      if (open == std::string_view::npos) break;
      pos_ = open + 2 + (trim_left ? 2 : 0);
      action();
    }
    push(Token::Kind::Eof, "");
    return std::move(tokens_);
  }

 private:
  void push(Token::Kind k, std::string v, bool spaced = false) { tokens_.push_back({k, std::move(v), line_, spaced}); }
  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < s_.size(); ++i)
      if (s_[i] == '\n') ++line_;
  }
  // At a right delimiter ("}}" or " -}}")? Consumes it and applies the trim.
  bool right_delim() {
    size_t p = pos_;
    bool trim = false;
    if (s_.substr(p, 3) == "-}}" && p > 0 && is_space(s_[p - 1])) trim = true;
    if (!trim && s_.substr(p, 2) != "}}") return false;
    pos_ = p + (trim ? 3 : 2);
    push(Token::Kind::Right, "");
    if (trim) {
      size_t start = pos_;
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      count_lines(start, pos_);
    }
    return true;
  }

  void action() {
    size_t p = pos_;
    while (p < s_.size() && is_space(s_[p])) ++p;
    if (s_.substr(p, 2) == "/*") {  // a comment is the whole action
      size_t end = s_.find("*/", p + 2);
      if (end == std::string_view::npos) fail(line_, "unclosed comment");
      count_lines(pos_, end);
      pos_ = end + 2;
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      if (!right_delim()) fail(line_, "comment ends before closing delimiter");
      tokens_.pop_back();
      return;
    }
    push(Token::Kind::Left, "");
    for (;;) {
      bool spaced = false;
      while (pos_ < s_.size() && is_space(s_[pos_])) {
        if (s_[pos_] == '\n') ++line_;
        ++pos_;
        spaced = true;
      }
      if (pos_ >= s_.size()) fail(line_, "unclosed action");
      if (right_delim()) return;
      token(spaced);
    }
  }

  void token(bool spaced) {
    char c = s_[pos_];
    auto simple = [&](Token::Kind k, size_t len) {
      push(k, std::string(s_.substr(pos_, len)), spaced);
      pos_ += len;
    };
    if (c == '|') return simple(Token::Kind::Pipe, 1);
    if (c == '(') return simple(Token::Kind::LParen, 1);
    if (c == ')') return simple(Token::Kind::RParen, 1);
    if (c == ',') return simple(Token::Kind::Comma, 1);
    if (c == ':' && s_.substr(pos_, 2) == ":=") return simple(Token::Kind::Declare, 2);
    if (c == '=') return simple(Token::Kind::Assign, 1);
    if (c == '"') return quoted(spaced);
    if (c == '`') {
      size_t end = s_.find('`', pos_ + 1);
      if (end == std::string_view::npos) fail(line_, "unterminated raw quoted string");
      push(Token::Kind::String, std::string(s_.substr(pos_ + 1, end - pos_ - 1)), spaced);
      count_lines(pos_, end);
      pos_ = end + 1;
      return;
    }
    if (c == '\'') {
      size_t end = s_.find('\'', pos_ + 1);
      if (end == std::string_view::npos || end == pos_ + 1) fail(line_, "unterminated character constant");
      std::string ch(s_.substr(pos_ + 1, end - pos_ - 1));
      push(Token::Kind::Number, std::to_string(static_cast<unsigned char>(ch[0] == '\\' && ch.size() > 1 ? (ch[1] == 'n' ? '\n' : ch[1] == 't' ? '\t' : ch[1]) : ch[0])), spaced);
      pos_ = end + 1;
      return;
    }
    if (c == '$' || c == '.') {
      size_t p = pos_ + 1;
      while (p < s_.size() && is_alnum(s_[p])) ++p;
      std::string v(s_.substr(pos_, p - pos_));
      pos_ = p;
      if (c == '$') return push(Token::Kind::Variable, v, spaced);
      if (v == ".") return push(Token::Kind::Dot, v, spaced);
      if (std::isdigit(static_cast<unsigned char>(v[1]))) return push(Token::Kind::Number, "0" + v, spaced);
      return push(Token::Kind::Field, v.substr(1), spaced);
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || ((c == '-' || c == '+') && pos_ + 1 < s_.size() &&
                                                        std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))) {
      size_t p = pos_ + 1;
      while (p < s_.size() && (is_alnum(s_[p]) || s_[p] == '.' ||
                               ((s_[p] == '-' || s_[p] == '+') && (s_[p - 1] == 'e' || s_[p - 1] == 'E'))))
        ++p;
      std::string v(s_.substr(pos_, p - pos_));
      pos_ = p;
      return push(Token::Kind::Number, v, spaced);
    }
    if (is_alnum(c)) {
      size_t p = pos_;
      while (p < s_.size() && is_alnum(s_[p])) ++p;
      std::string v(s_.substr(pos_, p - pos_));
      pos_ = p;
      static const char* kKeywords[] = {"if", "else", "end", "range", "with", "define", "template", "block",
                                        "break", "continue"};
      for (const char* k : kKeywords)
        if (v == k) return push(Token::Kind::Keyword, v, spaced);
      if (v == "true" || v == "false") return push(Token::Kind::Bool, v, spaced);
      if (v == "nil") return push(Token::Kind::Nil, v, spaced);
      return push(Token::Kind::Ident, v, spaced);
    }
    fail(line_, std::string("unexpected \"") + c + "\" in command");
  }

  void quoted(bool spaced) {
    std::string out;
    size_t p = pos_ + 1;
    for (;; ++p) {
      if (p >= s_.size() || s_[p] == '\n') fail(line_, "unterminated quoted string");
      char c = s_[p];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = p + 1 < s_.size() ? s_[++p] : 0;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case 'x': out += char(std::stoi(std::string(s_.substr(p + 1, 2)), nullptr, 16)); p += 2; break;
        case 'u': append_utf8(out, uint32_t(std::stoul(std::string(s_.substr(p + 1, 4)), nullptr, 16))); p += 4; break;
        case 'U': append_utf8(out, uint32_t(std::stoul(std::string(s_.substr(p + 1, 8)), nullptr, 16))); p += 8; break;
        default: out += e;
      }
    }
    pos_ = p + 1;
    push(Token::Kind::String, out, spaced);
  }

  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, GoTemplateDefines& defines) : t_(std::move(tokens)), defines_(defines) {}

  GoTemplateNodePtr parse_root() {
    std::string stop;
    auto list = parse_list(stop, 0);
    if (!stop.empty()) fail(peek().line, "unexpected {{" + stop + "}}");
    return list;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(i_++, t_.size() - 1)]; }
  void expect(Token::Kind k, const char* what) {
    if (peek().kind != k) fail(peek().line, std::string("unexpected \"") + peek().val + "\" in " + what);
    ++i_;
  }
  static GoTemplateNodePtr node(Node::Type t, int line) {
    auto n = std::make_unique<Node>();
    n->type = t;
    n->line = line;
    return n;
  }

  // Statements until EOF or a {{end}} / {{else}} (returned in `stop`, with the keyword consumed).
  GoTemplateNodePtr parse_list(std::string& stop, int depth) {
    if (depth > kMaxTemplateDepth) fail(peek().line, "template nested too deeply");
    auto list = node(Node::Type::List, peek().line);
    for (;;) {
      const Token& tok = peek();
      if (tok.kind == Token::Kind::Eof) return list;
      if (tok.kind == Token::Kind::Text) {
        auto n = node(Node::Type::Text, tok.line);
        n->text = next().val;
        list->children.push_back(std::move(n));
        continue;
      }
      expect(Token::Kind::Left, "template");
      const Token& kw = peek();
      if (kw.kind == Token::Kind::Keyword && (kw.val == "end" || kw.val == "else")) {
        stop = next().val;
        if (stop == "end") expect(Token::Kind::Right, "end");
        return list;
      }
      if (auto n = statement(depth)) list->children.push_back(std::move(n));
    }
  }

  GoTemplateNodePtr statement(int depth) {
    const Token& kw = peek();
    int line = kw.line;
    if (kw.kind == Token::Kind::Keyword) {
      std::string k = next().val;
      if (k == "if") return control(Node::Type::If, line, depth);
      if (k == "range") return control(Node::Type::Range, line, depth);
      if (k == "with") return control(Node::Type::With, line, depth);
      if (k == "break" || k == "continue") {
        expect(Token::Kind::Right, k.c_str());
        return node(k == "break" ? Node::Type::Break : Node::Type::Continue, line);
      }
      if (k == "define" || k == "block") return define(k == "block", line, depth);
      if (k == "template") {
        auto n = node(Node::Type::Template, line);
        if (peek().kind != Token::Kind::String) fail(line, "unexpected \"" + peek().val + "\" in template clause");
        n->text = next().val;
        if (peek().kind != Token::Kind::Right) n->pipe = pipeline("template clause");
        expect(Token::Kind::Right, "template clause");
        return n;
      }
      fail(line, "unexpected {{" + k + "}}");
    }
    auto n = node(Node::Type::Action, line);
    n->pipe = pipeline("command");
    expect(Token::Kind::Right, "command");
    return n;
  }

  GoTemplateNodePtr define(bool block, int line, int depth) {
    if (peek().kind != Token::Kind::String) fail(line, "name of template must be a string");
    std::string name = next().val;
    GoTemplateNodePtr pipe;
    if (block) pipe = pipeline("block clause");
    expect(Token::Kind::Right, "define clause");
    std::string stop;
    auto body = parse_list(stop, depth + 1);
    if (stop != "end") fail(line, "unexpected EOF");
    defines_[name] = std::move(body);
    if (!block) return nullptr;
    auto n = node(Node::Type::Template, line);
    n->text = name;
    n->pipe = std::move(pipe);
    return n;
  }

  GoTemplateNodePtr control(Node::Type type, int line, int depth) {
    auto n = node(type, line);
    n->pipe = pipeline(type == Node::Type::Range ? "range" : type == Node::Type::If ? "if" : "with");
    expect(Token::Kind::Right, "control");
    std::string stop;
    n->list = parse_list(stop, depth + 1);
    if (stop == "else") {
      // {{else if ...}} / {{else with ...}}: a nested control whose {{end}} ends this one too.
      if (peek().kind == Token::Kind::Keyword && (peek().val == "if" || peek().val == "with") && type != Node::Type::Range) {
        Node::Type nested = next().val == "if" ? Node::Type::If : Node::Type::With;
        n->else_list = node(Node::Type::List, line);
        n->else_list->children.push_back(control(nested, line, depth + 1));
        return n;
      }
      expect(Token::Kind::Right, "else");
      n->else_list = parse_list(stop, depth + 1);
    }
    if (stop != "end") fail(line, "unexpected EOF");
    return n;
  }

  GoTemplateNodePtr pipeline(const char* context) {
    auto p = node(Node::Type::Pipeline, peek().line);
    // $x := / $x = / $i, $e :=
    if (peek().kind == Token::Kind::Variable) {
      if (peek(1).kind == Token::Kind::Declare || peek(1).kind == Token::Kind::Assign) {
        p->decl.push_back(next().val);
        p->assign = next().kind == Token::Kind::Assign;
      } else if (peek(1).kind == Token::Kind::Comma && peek(2).kind == Token::Kind::Variable &&
                 (peek(3).kind == Token::Kind::Declare || peek(3).kind == Token::Kind::Assign)) {
        p->decl.push_back(next().val);
        next();
        p->decl.push_back(next().val);
        p->assign = next().kind == Token::Kind::Assign;
      }
    }
    for (;;) {
      p->children.push_back(command(context));
      if (peek().kind != Token::Kind::Pipe) break;
      next();
    }
    return p;
  }

  GoTemplateNodePtr command(const char* context) {
    auto c = node(Node::Type::Command, peek().line);
    for (;;) {
      Token::Kind k = peek().kind;
      if (k == Token::Kind::Pipe || k == Token::Kind::Right || k == Token::Kind::RParen) break;
      if (k == Token::Kind::Eof) fail(peek().line, "unclosed action");
      c->children.push_back(operand());
    }
    if (c->children.empty()) fail(peek().line, std::string("missing value for ") + context);
    return c;
  }

  GoTemplateNodePtr operand() {
    const Token& tok = next();
    GoTemplateNodePtr n;
    switch (tok.kind) {
      case Token::Kind::Field:
        n = node(Node::Type::Field, tok.line);
        n->fields.push_back(tok.val);
        break;
      case Token::Kind::Variable:
        n = node(Node::Type::Variable, tok.line);
        n->text = tok.val;
        break;
      case Token::Kind::Dot: n = node(Node::Type::Dot, tok.line); break;
      case Token::Kind::Nil: n = node(Node::Type::Nil, tok.line); break;
      case Token::Kind::Bool:
        n = node(Node::Type::Bool, tok.line);
        n->boolean = tok.val == "true";
        break;
      case Token::Kind::String:
        n = node(Node::Type::String, tok.line);
        n->text = tok.val;
        break;
      case Token::Kind::Ident:
        n = node(Node::Type::Identifier, tok.line);
        n->text = tok.val;
        break;
      case Token::Kind::Number: n = number(tok); break;
      case Token::Kind::LParen: {
        n = node(Node::Type::Chain, tok.line);
        n->children.push_back(pipeline("parenthesized pipeline"));
        expect(Token::Kind::RParen, "parenthesized pipeline");
        break;
      }
      default: fail(tok.line, "unexpected \"" + tok.val + "\" in operand");
    }
    // .a.b, $x.a, (...).a: the fields written right after the operand
    while (peek().kind == Token::Kind::Field && !peek().spaced) {
      if (n->type != Node::Type::Field && n->type != Node::Type::Variable && n->type != Node::Type::Chain)
        fail(peek().line, "unexpected . after term");
      n->fields.push_back(next().val);
    }
    return n;
  }

  static GoTemplateNodePtr number(const Token& tok) {
    auto n = node(Node::Type::Number, tok.line);
    const std::string& v = tok.val;
    try {
      bool hex = v.size() > 2 && (v[0] == '0' || v[1] == '0') && v.find_first_of("xX") != std::string::npos;
      if (hex || v.find_first_of(".eE") == std::string::npos) {
        n->number = double(std::stoll(v, nullptr, 0));
        n->is_int = true;
      } else {
        n->number = std::stod(v);
      }
    } catch (const std::exception&) {
      fail(tok.line, "bad number syntax: \"" + v + "\"");
    }
    return n;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  GoTemplateDefines& defines_;
};

}  // namespace

GoTemplateNodePtr parse_go_template(std::string_view text, GoTemplateDefines& defines) {
  return Parser(Lexer(text).run(), defines).parse_root();
}

}  // namespace kctl::cli
