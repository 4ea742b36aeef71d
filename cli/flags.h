// Command-line flags with the syntax of spf13/pflag, as kubectl parses them: --name=value, --name value, -n value,
// -nvalue, bool flags with optional =false, combined short bools (-it), flags anywhere among the arguments, and
// everything after "--" kept apart (the command of `run` and `exec`).
#pragma once

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kctl::cli {

// A wrong command line: printed as "error: MESSAGE" with kubectl's "See 'kctl VERB --help' for usage." line.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FlagSet {
 public:
  enum class Type { Bool, String, Int, Strings };

  struct Flag {
    std::string name;
    char shorthand = 0;
    Type type = Type::String;
    void* target = nullptr;
    std::string usage;
    std::string default_text;  // as kubectl's help shows it ("false", "-1", "[]", "")
    // A string flag given without "=value" takes this value (kubectl's --validate, --dry-run); empty: a value is
    // required.
    std::string no_value_default;
    bool split_commas = true;  // Strings: "-L a,b" adds a and b (StringSlice) or keeps "a,b" (StringArray)
    bool changed = false;
    bool global = false;  // shown under "kctl options", not under each verb
  };

  Flag& add_bool(const std::string& name, char shorthand, bool* target, const std::string& usage);
  Flag& add_string(const std::string& name, char shorthand, std::string* target, const std::string& usage);
  Flag& add_int(const std::string& name, char shorthand, int64_t* target, const std::string& usage);
  Flag& add_strings(const std::string& name, char shorthand, std::vector<std::string>* target,
                    const std::string& usage, bool split_commas = true);

  // Parses args; flags set their targets, the rest become args() (before "--") and after_dash().
  // -h/--help sets help_requested() instead of failing. Throws UsageError.
  void parse(const std::vector<std::string>& args);

  bool changed(const std::string& name) const;
  bool help_requested() const { return help_; }
  const std::vector<std::string>& args() const { return args_; }
  const std::vector<std::string>& after_dash() const { return after_dash_; }
  bool has_dash() const { return has_dash_; }
  const Flag* find(const std::string& name) const;
  // Whether `arg` (e.g. "-n") is a known flag that takes the following argument as its value.
  bool takes_value(const std::string& arg) const;

  // kubectl's "Options:" block: "    -o, --output='':\n\tusage\n\n" for each non-global flag, sorted by name.
  void print_options(std::ostream& out, bool globals) const;
  std::vector<std::string> names() const;  // "--name" for completion

 private:
  Flag& add(Flag f);
  Flag* find_long(const std::string& name);
  Flag* find_short(char c);
  void set(Flag& f, const std::string& value, const std::string& as_typed);

  std::vector<Flag> flags_;
  std::vector<std::string> args_, after_dash_;
  bool has_dash_ = false, help_ = false;
};

// Go's time.ParseDuration ("30s", "1m30s", "500ms", "0"): a unit is required except for 0. Returns seconds;
// throws UsageError naming the flag.
double parse_duration(const std::string& text, const std::string& flag);

}  // namespace kctl::cli
