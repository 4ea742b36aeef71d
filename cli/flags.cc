// The pflag parsing rules and error messages kubectl users see ("unknown flag: --foo", "flag needs an argument"),
// kubectl's option listing for --help, and Go's duration syntax for --timeout.
#include "cli/flags.h"

#include "api/go_json.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "api/http.h"

namespace kctl::cli {

namespace {
FlagSet::Flag make_flag(const std::string& name, char shorthand, FlagSet::Type type, void* target,
                        const std::string& usage, std::string default_text) {
  FlagSet::Flag f;
  f.name = name;
  f.shorthand = shorthand;
  f.type = type;
  f.target = target;
  f.usage = usage;
  f.default_text = std::move(default_text);
  return f;
}
}  // namespace

FlagSet::Flag& FlagSet::add(Flag f) {
  flags_.push_back(std::move(f));
  return flags_.back();
}

FlagSet::Flag& FlagSet::add_bool(const std::string& name, char shorthand, bool* target, const std::string& usage) {
  return add(make_flag(name, shorthand, Type::Bool, target, usage, *target ? "true" : "false"));
}

FlagSet::Flag& FlagSet::add_string(const std::string& name, char shorthand, std::string* target,
                                   const std::string& usage) {
  return add(make_flag(name, shorthand, Type::String, target, usage, "'" + *target + "'"));
}

FlagSet::Flag& FlagSet::add_int(const std::string& name, char shorthand, int64_t* target, const std::string& usage) {
  return add(make_flag(name, shorthand, Type::Int, target, usage, std::to_string(*target)));
}

FlagSet::Flag& FlagSet::add_strings(const std::string& name, char shorthand, std::vector<std::string>* target,
                                    const std::string& usage, bool split_commas) {
  Flag& f = add(make_flag(name, shorthand, Type::Strings, target, usage, "[]"));
  f.split_commas = split_commas;
  return f;
}

FlagSet::Flag* FlagSet::find_long(const std::string& name) {
  for (auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

FlagSet::Flag* FlagSet::find_short(char c) {
  for (auto& f : flags_)
    if (f.shorthand == c) return &f;
  return nullptr;
}

const FlagSet::Flag* FlagSet::find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

bool FlagSet::changed(const std::string& name) const {
  const Flag* f = find(name);
  return f && f->changed;
}

bool FlagSet::takes_value(const std::string& arg) const {
  if (arg.size() < 2 || arg[0] != '-' || arg.find('=') != std::string::npos) return false;
  const Flag* f = nullptr;
  if (arg[1] == '-') {
    f = find(arg.substr(2));
  } else {
    for (const auto& g : flags_)
      if (g.shorthand == arg.back()) f = &g;
    if (arg.size() > 2 && f && f->type != Type::Bool) {
      // "-nfoo" carries its value unless every letter before the last is a bool flag
      for (size_t i = 1; i + 1 < arg.size(); ++i) {
        bool is_bool = false;
        for (const auto& g : flags_)
          if (g.shorthand == arg[i] && g.type == Type::Bool) is_bool = true;
        if (!is_bool) return false;
      }
    }
  }
  return f && f->type != Type::Bool && f->no_value_default.empty();
}

void FlagSet::set(Flag& f, const std::string& value, const std::string& as_typed) {
  auto invalid = [&](const std::string& why) {
    return UsageError("invalid argument \"" + value + "\" for \"" + as_typed + "\" flag: " + why);
  };
  switch (f.type) {
    case Type::Bool: {
      auto b = http::parse_bool(value);
      if (!b) throw invalid("strconv.ParseBool: parsing \"" + value + "\": invalid syntax");
      *static_cast<bool*>(f.target) = *b;
      break;
    }
    case Type::String:
      *static_cast<std::string*>(f.target) = value;
      break;
    case Type::Int: {
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size())
        throw invalid("strconv.ParseInt: parsing \"" + value + "\": invalid syntax");
      *static_cast<int64_t*>(f.target) = v;
      break;
    }
    case Type::Strings: {
      auto* v = static_cast<std::vector<std::string>*>(f.target);
      if (!f.changed) v->clear();  // the first use replaces the default, later ones append
      if (!f.split_commas) {
        v->push_back(value);
        break;
      }
      std::stringstream ss(value);
      std::string part;
      while (std::getline(ss, part, ',')) v->push_back(part);
      break;
    }
  }
  f.changed = true;
}

void FlagSet::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      has_dash_ = true;
      after_dash_.assign(args.begin() + long(i) + 1, args.end());
      return;
    }
    if (a.size() < 2 || a[0] != '-') {
      args_.push_back(a);
      continue;
    }
    if (a[1] == '-') {
      auto eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (name == "help") {
        help_ = true;
        continue;
      }
      Flag* f = find_long(name);
      if (!f) throw UsageError("unknown flag: --" + name);
      std::string typed = "--" + name;
      if (eq != std::string::npos) set(*f, a.substr(eq + 1), typed);
      else if (f->type == Type::Bool) set(*f, "true", typed);
      else if (!f->no_value_default.empty()) set(*f, f->no_value_default, typed);
      else if (i + 1 < args.size()) set(*f, args[++i], typed);
      else throw UsageError("flag needs an argument: " + typed);
      continue;
    }
    for (size_t j = 1; j < a.size(); ++j) {
      char c = a[j];
      if (c == 'h' && !find_short('h')) {
        help_ = true;
        continue;
      }
      Flag* f = find_short(c);
      if (!f) throw UsageError(std::string("unknown shorthand flag: '") + c + "' in " + a);
      std::string typed = std::string("-") + c + ", --" + f->name;
      if (j + 1 < a.size() && a[j + 1] == '=') {
        set(*f, a.substr(j + 2), typed);
        break;
      }
      if (f->type == Type::Bool) {
        set(*f, "true", typed);
      } else if (j + 1 < a.size()) {
        set(*f, a.substr(j + 1), typed);
        break;
      } else if (!f->no_value_default.empty()) {
        set(*f, f->no_value_default, typed);
      } else if (i + 1 < args.size()) {
        set(*f, args[++i], typed);
      } else {
        throw UsageError(std::string("flag needs an argument: '") + c + "' in -" + c);
      }
    }
  }
}

void FlagSet::print_options(std::ostream& out, bool globals) const {
  std::vector<const Flag*> shown;
  for (const auto& f : flags_)
    if (f.global == globals) shown.push_back(&f);
  std::sort(shown.begin(), shown.end(), [](const Flag* a, const Flag* b) { return a->name < b->name; });
  for (const Flag* f : shown) {
    out << "    ";
    if (f->shorthand) out << '-' << f->shorthand << ", ";
    out << "--" << f->name << '=' << f->default_text << ":\n\t" << f->usage << "\n\n";
  }
}

std::vector<std::string> FlagSet::names() const {
  std::vector<std::string> out;
  for (const auto& f : flags_) out.push_back("--" + f.name);
  return out;
}

double parse_duration(const std::string& text, const std::string& flag) {
  auto seconds = api::parse_duration(text);
  if (!seconds)
    throw UsageError("invalid argument \"" + text + "\" for \"" + flag + "\" flag: time: invalid duration \"" + text + "\"");
  return *seconds;
}

}  // namespace kctl::cli
