// The -o printers other than tables: yaml and json (Go's encoding), name, jsonpath (and -as-json, -file),
// go-template / template (and -file), custom-columns (and -file), with kubectl's messages for bad formats.
#include <fstream>
#include <sstream>

#include "api/codec.h"
#include "cli/errors.h"
#include "cli/go_template.h"
#include "cli/jsonpath.h"
#include "cli/printers.h"

namespace kctl::cli {

using nlohmann::json;

void OutputFlags::add_flags(FlagSet& flags, const std::string& formats_help) {
  flags.add_string("output", 'o', &output, "Output format. One of: (" + formats_help + ").");
  flags.add_string("template", 0, &template_text,
                   "Template string or path to template file to use when -o=go-template, -o=go-template-file. The "
                   "template format is golang templates [http://golang.org/pkg/text/template/#pkg-overview].");
  flags.add_bool("allow-missing-template-keys", 0, &allow_missing_template_keys,
                 "If true, ignore any errors in templates when a field or map key is missing in the template. Only "
                 "applies to golang and jsonpath output formats.");
  flags.add_bool("show-managed-fields", 0, &show_managed_fields,
                 "If true, keep the managedFields when printing objects in JSON or YAML format.");
}

namespace {

const char* kAllowedFormats =
    "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,"
    "name,template,templatefile";

std::string read_template_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CliError("open " + path + ": no such file or directory");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class YamlPrinter : public ObjectPrinter {
 public:
  explicit YamlPrinter(bool managed) : managed_(managed) {}
  void print(const json& obj, std::ostream& out) override {
    if (count_++ > 0) out << "---\n";
    out << api::encode_yaml(managed_ ? obj : without_managed_fields(obj));
  }

 private:
  bool managed_;
  int count_ = 0;
};

class JsonPrinter : public ObjectPrinter {
 public:
  explicit JsonPrinter(bool managed) : managed_(managed) {}
  void print(const json& obj, std::ostream& out) override {
    out << go_json(managed_ ? obj : without_managed_fields(obj), true) << "\n";
  }

 private:
  bool managed_;
};

class NamePrinter : public ObjectPrinter {
 public:
  void print(const json& obj, std::ostream& out) override {
    if (obj.contains("items") && obj["items"].is_array() && obj.value("kind", "").ends_with("List")) {
      for (const auto& item : obj["items"]) print(item, out);
      return;
    }
    out << kind_group_of(obj) << "/" << obj.value("/metadata/name"_json_pointer, std::string()) << "\n";
  }
};

class JsonPathPrinter : public ObjectPrinter {
 public:
  JsonPathPrinter(const std::string& text, bool allow_missing, bool as_json) : raw_(text), jp_(parse(text)) {
    jp_.allow_missing_keys(allow_missing);
    jp_.output_json(as_json);
  }
  void print(const json& obj, std::ostream& out) override {
    std::string text;
    try {
      jp_.execute(obj, text);
    } catch (const std::exception& e) {
      throw CliError(std::string("error executing jsonpath ") + json(raw_).dump() + ": Error executing template: " +
                     e.what() + ". Printing more information for debugging the template:\n\ttemplate was:\n\t\t" +
                     raw_ + "\n\tobject given to jsonpath engine was:\n\t\t" + obj.dump() + "\n\n");
    }
    out << text;
  }

 private:
  static JsonPath parse(const std::string& text) {
    try {
      return JsonPath::parse(text);
    } catch (const std::exception& e) {
      throw CliError("error parsing jsonpath " + text + ", " + e.what());
    }
  }
  std::string raw_;
  JsonPath jp_;
};

class GoTemplatePrinter : public ObjectPrinter {
 public:
  GoTemplatePrinter(const std::string& text, bool allow_missing) : raw_(text), t_(parse(text)) {
    t_.allow_missing_keys(allow_missing);
  }
  void print(const json& obj, std::ostream& out) override {
    std::string text;
    try {
      t_.execute(obj, text);
    } catch (const std::exception& e) {
      out << text;
      throw CliError("error executing template " + json(raw_).dump() + ": " + e.what());
    }
    out << text;
  }

 private:
  static GoTemplate parse(const std::string& text) {
    try {
      return GoTemplate::parse(text);
    } catch (const std::exception& e) {
      throw CliError("error parsing template " + text + ", " + e.what());
    }
  }
  std::string raw_;
  GoTemplate t_;
};

class CustomColumnsPrinter : public ObjectPrinter {
 public:
  CustomColumnsPrinter(const std::vector<std::pair<std::string, std::string>>& columns, bool no_headers)
      : no_headers_(no_headers) {
    for (const auto& [header, path] : columns) {
      headers_.push_back(header);
      try {
        paths_.push_back(JsonPath::parse(relaxed_jsonpath(path)));
      } catch (const std::exception& e) {
        throw CliError(e.what());
      }
    }
  }
  void print(const json& obj, std::ostream& out) override {
    if (!tw_) tw_ = std::make_unique<TabWriter>(out);
    if (!no_headers_ && !printed_headers_) {
      std::string line;
      for (size_t i = 0; i < headers_.size(); ++i) line += (i ? "\t" : "") + headers_[i];
      tw_->write(line + "\n");
      printed_headers_ = true;
    }
    if (obj.contains("items") && obj["items"].is_array() && obj.value("kind", "").ends_with("List")) {
      for (const auto& item : obj["items"]) row(item);
    } else {
      row(obj);
    }
  }
  void finish(std::ostream&) override {
    if (tw_) tw_->flush();
  }

 private:
  void row(const json& obj) {
    std::string line;
    for (size_t i = 0; i < paths_.size(); ++i) {
      auto results = paths_[i].find_results(obj);
      std::string cell;
      if (results.empty() || results[0].empty()) cell = "<none>";
      for (const auto& group : results)
        for (const auto& v : group) cell += (cell.empty() ? "" : ",") + go_sprint(v);
      line += (i ? "\t" : "") + cell;
    }
    tw_->write(line + "\n");
  }
  std::vector<std::string> headers_;
  std::vector<JsonPath> paths_;
  bool no_headers_;
  bool printed_headers_ = false;
  std::unique_ptr<TabWriter> tw_;
};

std::vector<std::pair<std::string, std::string>> parse_columns(const std::string& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto colon = part.find(':');
    if (colon == std::string::npos)
      throw CliError("unexpected custom-columns spec: " + part + ", expected <header>:<json-path-expr>");
    out.emplace_back(part.substr(0, colon), part.substr(colon + 1));
  }
  return out;
}

// custom-columns-file: a line of headers and a line of paths, separated by whitespace.
std::vector<std::pair<std::string, std::string>> parse_columns_file(const std::string& path) {
  std::stringstream ss(read_template_file(path));
  std::string header_line, path_line;
  std::getline(ss, header_line);
  std::getline(ss, path_line);
  std::stringstream hs(header_line), ps(path_line);
  std::vector<std::string> headers, paths;
  for (std::string w; hs >> w;) headers.push_back(w);
  for (std::string w; ps >> w;) paths.push_back(w);
  if (headers.size() != paths.size())
    throw CliError("number of headers (" + std::to_string(headers.size()) + ") does not match number of columns (" +
                   std::to_string(paths.size()) + ")");
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < headers.size(); ++i) out.emplace_back(headers[i], paths[i]);
  return out;
}

}  // namespace

ObjectPrinterPtr make_object_printer(const OutputFlags& f) {
  std::string format = f.output, arg;
  if (auto eq = format.find('='); eq != std::string::npos) {
    arg = format.substr(eq + 1);
    format = format.substr(0, eq);
  }
  bool templated = format == "jsonpath" || format == "jsonpath-as-json" || format == "jsonpath-file" ||
                   format == "go-template" || format == "go-template-file" || format == "template" ||
                   format == "templatefile";
  if (arg.empty() && templated) arg = f.template_text;
  if (format.empty() && !f.template_text.empty()) {  // --template alone means go-template
    format = "go-template";
    arg = f.template_text;
  }
  if (format == "yaml") return std::make_unique<YamlPrinter>(f.show_managed_fields);
  if (format == "json") return std::make_unique<JsonPrinter>(f.show_managed_fields);
  if (format == "name") return std::make_unique<NamePrinter>();
  if (templated && arg.empty()) throw CliError("template format specified but no template given");
  if (format == "jsonpath" || format == "jsonpath-as-json")
    return std::make_unique<JsonPathPrinter>(arg, f.allow_missing_template_keys, format == "jsonpath-as-json");
  if (format == "jsonpath-file")
    return std::make_unique<JsonPathPrinter>(read_template_file(arg), f.allow_missing_template_keys, false);
  if (format == "go-template" || format == "template")
    return std::make_unique<GoTemplatePrinter>(arg, f.allow_missing_template_keys);
  if (format == "go-template-file" || format == "templatefile")
    return std::make_unique<GoTemplatePrinter>(read_template_file(arg), f.allow_missing_template_keys);
  if (format == "custom-columns") {
    if (arg.empty()) throw CliError("custom-columns format specified but no custom columns given");
    return std::make_unique<CustomColumnsPrinter>(parse_columns(arg), f.no_headers);
  }
  if (format == "custom-columns-file") return std::make_unique<CustomColumnsPrinter>(parse_columns_file(arg), f.no_headers);
  throw CliError("unable to match a printer suitable for the output format \"" + f.output +
                 "\", allowed formats are: " + kAllowedFormats + (f.allows_wide ? ",wide,yaml" : ",yaml"));
}

}  // namespace kctl::cli
