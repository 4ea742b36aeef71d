// Kubernetes' name, label, port and IP rules and the ObjectMeta checks, ported from
// apimachinery's util/validation, api/validation/objectmeta.go and util/validation/field.
#include "api/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "api/codec.h"

namespace kctl::api {

namespace {

using Errors = std::vector<std::string>;
using nlohmann::json;

// Regex formats as Kubernetes prints them in its messages.
constexpr const char* kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr const char* kDns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr const char* kDns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
constexpr const char* kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr const char* kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr const char* kCIdentifierFmt = "[A-Za-z_][A-Za-z0-9_]*";
constexpr const char* kEnvVarNameFmt = "[-._a-zA-Z][-._a-zA-Z0-9]*";
constexpr const char* kConfigMapKeyFmt = "[-._a-zA-Z0-9]+";

constexpr const char* kQualifiedNameErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

constexpr std::int64_t kMaxPort = 65535;
constexpr const char* kFinalizerOrphanDependents = "orphan";
constexpr const char* kFinalizerDeleteDependents = "foregroundDeletion";

std::string max_len_error(std::size_t length) {
  return "must be no more than " + std::to_string(length) + " characters";
}

std::string regex_error(std::string msg, std::string_view fmt, std::initializer_list<std::string_view> examples) {
  if (examples.size() == 0) return msg + " (regex used for validation is '" + std::string(fmt) + "')";
  msg += " (e.g. ";
  bool first = true;
  for (auto ex : examples) {
    if (!first) msg += " or ";
    first = false;
    msg += "'" + std::string(ex) + "', ";
  }
  return msg + "regex used for validation is '" + std::string(fmt) + "')";
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool matches_dns1123_label(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool matches_dns1123_subdomain(std::string_view s) {
  for (;;) {
    auto dot = s.find('.');
    if (!matches_dns1123_label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matches_qualified_name_part(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Errors has_chdir_prefix(std::string_view value) {
  if (value == ".") return {"must not be '.'"};
  if (value == "..") return {"must not be '..'"};
  if (value.starts_with("..")) return {"must not start with '..'"};
  return {};
}

std::string mask_trailing_dash(std::string_view name) {
  // Kubernetes drops the last two characters here (an upstream quirk kept so the same
  // generateNames are accepted).
  if (name.size() > 1 && name.back() == '-') return std::string(name.substr(0, name.size() - 2)) + "a";
  return std::string(name);
}

}  // namespace

std::vector<std::string> is_dns1123_label(std::string_view value) {
  Errors errs;
  if (value.size() > kDns1123LabelMaxLength) errs.push_back(max_len_error(kDns1123LabelMaxLength));
  if (!matches_dns1123_label(value)) {
    if (matches_dns1123_subdomain(value)) {
      errs.push_back("must not contain dots");
    } else {
      errs.push_back(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                                 "and must start and end with an alphanumeric character",
                                 kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> is_dns1123_subdomain(std::string_view value) {
  Errors errs;
  if (value.size() > kDns1123SubdomainMaxLength) errs.push_back(max_len_error(kDns1123SubdomainMaxLength));
  if (!matches_dns1123_subdomain(value)) {
    errs.push_back(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                               "or '.', and must start and end with an alphanumeric character",
                               kDns1123SubdomainFmt, {"example.com"}));
  }
  return errs;
}

std::vector<std::string> is_dns1035_label(std::string_view value) {
  Errors errs;
  if (value.size() > kDns1035LabelMaxLength) errs.push_back(max_len_error(kDns1035LabelMaxLength));
  bool ok = !value.empty() && value.front() >= 'a' && value.front() <= 'z' && matches_dns1123_label(value);
  if (!ok) {
    errs.push_back(regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                               "an alphabetic character, and end with an alphanumeric character",
                               kDns1035LabelFmt, {"my-name", "abc-123"}));
  }
  return errs;
}

std::vector<std::string> is_qualified_name(std::string_view value) {
  Errors errs;
  std::string_view name = value;
  auto slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      return {"a qualified name " + regex_error(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
              " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
    }
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (auto& msg : is_dns1123_subdomain(prefix)) errs.push_back("prefix part " + msg);
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMaxLength) {
    errs.push_back("name part " + max_len_error(kQualifiedNameMaxLength));
  }
  if (!matches_qualified_name_part(name)) {
    errs.push_back("name part " + regex_error(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> is_valid_label_value(std::string_view value) {
  Errors errs;
  if (value.size() > kLabelValueMaxLength) errs.push_back(max_len_error(kLabelValueMaxLength));
  if (!value.empty() && !matches_qualified_name_part(value)) {
    errs.push_back(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                               "or '.', and must start and end with an alphanumeric character",
                               kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::vector<std::string> is_valid_port_num(std::int64_t port) {
  if (port >= 1 && port <= kMaxPort) return {};
  return {"must be between 1 and " + std::to_string(kMaxPort) + ", inclusive"};
}

std::vector<std::string> is_valid_port_name(std::string_view port) {
  Errors errs;
  if (port.size() > kPortNameMaxLength) errs.push_back(max_len_error(kPortNameMaxLength));
  if (port.empty() || !std::all_of(port.begin(), port.end(), [](char c) { return is_lower_alnum(c) || c == '-'; })) {
    errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (std::none_of(port.begin(), port.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    errs.push_back("must contain at least one letter (a-z)");
  }
  if (port.find("--") != std::string_view::npos) errs.push_back("must not contain consecutive hyphens");
  if (!port.empty() && (port.front() == '-' || port.back() == '-')) errs.push_back("must not begin or end with a hyphen");
  return errs;
}

namespace {

// Go's pre-1.17 net.ParseIP for IPv4 (what Kubernetes' ParseIPSloppy keeps): four decimal
// fields of at most 255 each, leading zeros allowed.
bool parse_ipv4_sloppy(std::string_view s) {
  for (int field = 0; field < 4; ++field) {
    if (field > 0) {
      if (s.empty() || s.front() != '.') return false;
      s.remove_prefix(1);
    }
    std::size_t i = 0;
    unsigned value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      if (value > 255) return false;
      ++i;
    }
    if (i == 0) return false;
    s.remove_prefix(i);
  }
  return s.empty();
}

// 0 when not an IP, else 32 or 128 (the address length in bits).
int parse_ip_sloppy(std::string_view s) {
  if (parse_ipv4_sloppy(s)) return 32;
  if (s.find(':') == std::string_view::npos) return 0;
  in6_addr addr{};
  std::string z(s);
  return inet_pton(AF_INET6, z.c_str(), &addr) == 1 ? 128 : 0;
}

}  // namespace

std::vector<std::string> is_valid_ip(std::string_view value) {
  if (parse_ip_sloppy(value) != 0) return {};
  return {"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
}

std::vector<std::string> is_valid_cidr(std::string_view value) {
  Errors bad = {"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"};
  auto slash = value.find('/');
  if (slash == std::string_view::npos) return bad;
  int bits = parse_ip_sloppy(value.substr(0, slash));
  std::string_view mask = value.substr(slash + 1);
  if (bits == 0 || mask.empty()) return bad;
  int n = 0;
  for (char c : mask) {
    if (c < '0' || c > '9') return bad;
    n = n * 10 + (c - '0');
    if (n > bits) return bad;
  }
  return Errors{};
}

std::vector<std::string> is_c_identifier(std::string_view value) {
  bool ok = !value.empty() && (std::isalpha(static_cast<unsigned char>(value.front())) || value.front() == '_') &&
            std::all_of(value.begin(), value.end(), [](char c) { return is_alnum(c) || c == '_'; });
  if (ok) return {};
  return {regex_error("a valid C identifier must start with alphabetic character or '_', followed by a string of "
                      "alphanumeric characters or '_'",
                      kCIdentifierFmt, {"my_name", "MY_NAME", "MyName"})};
}

std::vector<std::string> is_env_var_name(std::string_view value) {
  Errors errs;
  auto allowed = [](char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_'; };
  bool ok = !value.empty() && !(value.front() >= '0' && value.front() <= '9') &&
            std::all_of(value.begin(), value.end(), allowed);
  if (!ok) {
    errs.push_back(regex_error("a valid environment variable name must consist of alphabetic characters, digits, '_', "
                               "'-', or '.', and must not start with a digit",
                               kEnvVarNameFmt, {"my.env-name", "MY_ENV.NAME", "MyEnvName1"}));
  }
  for (auto& e : has_chdir_prefix(value)) errs.push_back(e);
  return errs;
}

std::vector<std::string> is_relaxed_env_var_name(std::string_view value) {
  Errors errs;
  if (value.empty()) errs.push_back("environment variable name must be non-empty");
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '=') {
      errs.push_back("a valid environment variable name must consist only of printable ASCII characters other than '='");
      break;
    }
  }
  return errs;
}

std::vector<std::string> is_config_map_key(std::string_view value) {
  Errors errs;
  if (value.size() > kDns1123SubdomainMaxLength) errs.push_back(max_len_error(kDns1123SubdomainMaxLength));
  auto allowed = [](char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_'; };
  if (value.empty() || !std::all_of(value.begin(), value.end(), allowed)) {
    errs.push_back(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                               kConfigMapKeyFmt, {"key.name", "KEY_NAME", "key-name"}));
  }
  for (auto& e : has_chdir_prefix(value)) errs.push_back(e);
  return errs;
}

std::vector<std::string> name_is_dns_subdomain(std::string_view name, bool prefix) {
  return is_dns1123_subdomain(prefix ? mask_trailing_dash(name) : std::string(name));
}

std::vector<std::string> name_is_dns_label(std::string_view name, bool prefix) {
  return is_dns1123_label(prefix ? mask_trailing_dash(name) : std::string(name));
}

std::vector<std::string> name_is_dns1035_label(std::string_view name, bool prefix) {
  return is_dns1035_label(prefix ? mask_trailing_dash(name) : std::string(name));
}

std::vector<std::string> is_valid_path_segment_name(std::string_view name, bool prefix) {
  if (!prefix) {
    if (name == ".") return {"may not be '.'"};
    if (name == "..") return {"may not be '..'"};
  }
  Errors errs;
  if (name.find('/') != std::string_view::npos) errs.push_back("may not contain '/'");
  if (name.find('%') != std::string_view::npos) errs.push_back("may not contain '%'");
  return errs;
}

// ---- field.Error messages ----

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if invalid.
std::size_t utf8_decode(std::string_view s, std::size_t i, char32_t& out) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  char32_t v = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3f);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  out = v;
  return len;
}

// Go's unicode.IsPrint, approximated outside ASCII: C1 controls, format characters, separators
// other than space, private use and noncharacters are not printable.
bool go_is_print(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  bool space = r == 0xa0 || r == 0x1680 || r == 0x205f || r == 0x3000;
  bool control_or_format = r < 0xa0 || r == 0xad || r == 0xfeff || (r >= 0x2000 && r <= 0x200f) ||
                           (r >= 0x2028 && r <= 0x202f) || (r >= 0x2060 && r <= 0x206f);
  bool private_or_nonchar = (r >= 0xe000 && r <= 0xf8ff) || (r & 0xfffe) == 0xfffe || r >= 0xf0000;
  return !space && !control_or_format && !private_or_nonchar;
}

void append_hex(std::string& out, char32_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int k = digits - 1; k >= 0; --k) out += kHex[(v >> (4 * k)) & 0xf];
}

}  // namespace

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    char32_t r = 0;
    std::size_t len = utf8_decode(s, i, r);
    if (len == 0) {
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(s[i]), 2);
      ++i;
      continue;
    }
    i += len;
    switch (r) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    if (go_is_print(r)) {
      out.append(s.substr(i - len, len));
    } else if (r < 0x80) {
      out += "\\x";
      append_hex(out, r, 2);
    } else if (r < 0x10000) {
      out += "\\u";
      append_hex(out, r, 4);
    } else {
      out += "\\U";
      append_hex(out, r, 8);
    }
  }
  return out + "\"";
}

std::string render_value(const json& value) {
  switch (value.type()) {
    case json::value_t::string: return go_quote(value.get_ref<const std::string&>());
    case json::value_t::null: return "null";
    case json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer: return std::to_string(value.get<std::int64_t>());
    case json::value_t::number_unsigned: return std::to_string(value.get<std::uint64_t>());
    case json::value_t::number_float: return go_format_float(value.get<double>());
    default: return value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

namespace {
StatusCause make_cause(const char* reason, std::string field, std::string message) {
  return StatusCause{reason, std::move(message), std::move(field)};
}
std::string with_detail(std::string body, std::string_view detail) {
  if (!detail.empty()) body += ": " + std::string(detail);
  return body;
}
}  // namespace

StatusCause cause_required(std::string field, std::string_view detail) {
  return make_cause(kCauseRequired, std::move(field), with_detail("Required value", detail));
}

StatusCause cause_invalid(std::string field, const json& value, std::string_view detail) {
  return make_cause(kCauseInvalid, std::move(field), with_detail("Invalid value: " + render_value(value), detail));
}

StatusCause cause_not_supported(std::string field, const json& value, const std::vector<std::string>& supported) {
  std::string detail;
  for (std::size_t i = 0; i < supported.size(); ++i) {
    detail += (i ? ", " : "supported values: ") + go_quote(supported[i]);
  }
  return make_cause(kCauseNotSupported, std::move(field), with_detail("Unsupported value: " + render_value(value), detail));
}

StatusCause cause_duplicate(std::string field, const json& value) {
  return make_cause(kCauseDuplicate, std::move(field), "Duplicate value: " + render_value(value));
}

StatusCause cause_forbidden(std::string field, std::string_view detail) {
  return make_cause(kCauseForbidden, std::move(field), with_detail("Forbidden", detail));
}

StatusCause cause_too_long(std::string field, std::size_t max_bytes) {
  std::string detail = "may not be more than " + std::to_string(max_bytes) + (max_bytes == 1 ? " byte" : " bytes");
  return make_cause(kCauseTooLong, std::move(field), with_detail("Too long", detail));
}

StatusCause cause_too_many(std::string field, std::size_t actual, std::size_t max_items) {
  return make_cause(kCauseTooMany, std::move(field),
                    "Too many: " + std::to_string(actual) + ": must have at most " + std::to_string(max_items) + " items");
}

// ---- ObjectMeta ----

namespace {

const char* json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "bool";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "number";
  }
}

// The 400 Kubernetes returns when a JSON field has the wrong type for its Go struct field.
[[noreturn]] void throw_type_error(const json& got, const std::string& field, const char* go_type) {
  throw_bad_request(std::string("json: cannot unmarshal ") + json_type_name(got) + " into Go struct field ObjectMeta." +
                    field + " of type " + go_type);
}

// The member `key` of `obj`, or nullptr when absent or null.
const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_member(const json& obj, const char* key, const std::string& field) {
  const json* v = member(obj, key);
  if (!v) return "";
  if (!v->is_string()) throw_type_error(*v, field, "string");
  return v->get<std::string>();
}

// A map[string]string field: null means empty.
std::vector<std::pair<std::string, std::string>> string_map(const json& m, const std::string& field) {
  std::vector<std::pair<std::string, std::string>> out;
  if (m.is_null()) return out;
  if (!m.is_object()) throw_type_error(m, field, "map[string]string");
  for (auto& [k, v] : m.items()) {
    if (!v.is_string() && !v.is_null()) throw_type_error(v, field, "string");
    out.emplace_back(k, v.is_null() ? "" : v.get<std::string>());
  }
  return out;
}

void validate_name_fields(const json& meta, const NameValidator& name_rule, std::vector<StatusCause>& causes) {
  std::string generate_name = string_member(meta, "generateName", "metadata.generateName");
  std::string name = string_member(meta, "name", "metadata.name");
  if (!generate_name.empty()) {
    for (auto& msg : name_rule(generate_name, true)) causes.push_back(cause_invalid("metadata.generateName", generate_name, msg));
  }
  if (name.empty()) {
    // A generateName still to be turned into a name is not an error here.
    if (generate_name.empty()) causes.push_back(cause_required("metadata.name", "name or generateName is required"));
    return;
  }
  for (auto& msg : name_rule(name, false)) causes.push_back(cause_invalid("metadata.name", name, msg));
}

void validate_namespace_field(const json& meta, bool namespaced, std::vector<StatusCause>& causes) {
  std::string ns = string_member(meta, "namespace", "metadata.namespace");
  if (!namespaced) {
    if (!ns.empty()) causes.push_back(cause_forbidden("metadata.namespace", "not allowed on this type"));
    return;
  }
  if (ns.empty()) {
    causes.push_back(cause_required("metadata.namespace"));
    return;
  }
  for (auto& msg : name_is_dns_label(ns, false)) causes.push_back(cause_invalid("metadata.namespace", ns, msg));
}

void validate_generation(const json& meta, std::vector<StatusCause>& causes) {
  const json* g = member(meta, "generation");
  if (!g) return;
  if (!g->is_number_integer()) throw_type_error(*g, "metadata.generation", "int64");
  if (g->is_number_unsigned()) return;
  if (g->get<std::int64_t>() < 0) {
    causes.push_back(cause_invalid("metadata.generation", *g, "must be greater than or equal to 0"));
  }
}

// "apps/v1" -> {"apps", "v1"}; "" and malformed values have an empty version, as in
// schema.FromAPIVersionAndKind.
std::pair<std::string, std::string> split_api_version(const std::string& api_version) {
  if (api_version.empty() || api_version == "/") return {"", ""};
  auto slash = api_version.find('/');
  if (slash == std::string::npos) return {"", api_version};
  if (api_version.find('/', slash + 1) != std::string::npos) return {"", ""};
  return {api_version.substr(0, slash), api_version.substr(slash + 1)};
}

void validate_owner_reference(const json& ref, std::vector<StatusCause>& causes) {
  const std::string f = "metadata.ownerReferences";
  if (!ref.is_object()) throw_type_error(ref, f, "v1.OwnerReference");
  std::string api_version = string_member(ref, "apiVersion", f + ".apiVersion");
  std::string kind = string_member(ref, "kind", f + ".kind");
  auto [group, version] = split_api_version(api_version);
  if (version.empty()) causes.push_back(cause_invalid(f + ".apiVersion", api_version, "version must not be empty"));
  if (kind.empty()) causes.push_back(cause_invalid(f + ".kind", kind, "must not be empty"));
  for (const char* key : {"name", "uid"}) {
    std::string v = string_member(ref, key, f + "." + key);
    if (v.empty()) causes.push_back(cause_invalid(f + "." + key, v, "must not be empty"));
  }
  if (group.empty() && version == "v1" && kind == "Event") {
    causes.push_back(cause_invalid(f, ref, "/v1, Kind=Event is disallowed from being an owner"));
  }
}

void validate_owner_references(const json& meta, std::vector<StatusCause>& causes) {
  const json* refs = member(meta, "ownerReferences");
  if (!refs) return;
  if (!refs->is_array()) throw_type_error(*refs, "metadata.ownerReferences", "[]v1.OwnerReference");
  std::string first_controller;
  for (const auto& ref : *refs) {
    validate_owner_reference(ref, causes);
    const json* controller = member(ref, "controller");
    if (!controller || !controller->is_boolean() || !controller->get<bool>()) continue;
    std::string current = string_member(ref, "kind", "") + "/" + string_member(ref, "name", "");
    if (first_controller.empty()) {
      first_controller = current;
    } else {
      causes.push_back(cause_invalid("metadata.ownerReferences", *refs,
                                     "Only one reference can have Controller set to true. Found \"true\" in references "
                                     "for " + first_controller + " and " + current));
    }
  }
}

void validate_finalizers(const json& meta, std::vector<StatusCause>& causes) {
  const json* finalizers = member(meta, "finalizers");
  if (!finalizers) return;
  const std::string f = "metadata.finalizers";
  if (!finalizers->is_array()) throw_type_error(*finalizers, f, "[]string");
  bool orphan = false, foreground = false;
  for (const auto& v : *finalizers) {
    if (!v.is_string()) throw_type_error(v, f, "string");
    const auto& name = v.get_ref<const std::string&>();
    for (auto& msg : is_qualified_name(name)) causes.push_back(cause_invalid(f, name, msg));
    orphan = orphan || name == kFinalizerOrphanDependents;
    foreground = foreground || name == kFinalizerDeleteDependents;
  }
  if (orphan && foreground) {
    causes.push_back(cause_invalid(f, *finalizers,
                                   std::string("finalizer ") + kFinalizerOrphanDependents + " and " +
                                       kFinalizerDeleteDependents + " cannot be both set"));
  }
}

}  // namespace

void validate_labels(const json& labels, const std::string& field, std::vector<StatusCause>& causes) {
  for (auto& [k, v] : string_map(labels, field)) {
    for (auto& msg : is_qualified_name(k)) causes.push_back(cause_invalid(field, k, msg));
    for (auto& msg : is_valid_label_value(v)) causes.push_back(cause_invalid(field, v, msg));
  }
}

void validate_annotations(const json& annotations, const std::string& field, std::vector<StatusCause>& causes) {
  std::size_t total = 0;
  for (auto& [k, v] : string_map(annotations, field)) {
    // Annotation keys are qualified names in which case does not matter.
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (auto& msg : is_qualified_name(lower)) causes.push_back(cause_invalid(field, k, msg));
    total += k.size() + v.size();
  }
  if (total > kTotalAnnotationSizeLimit) causes.push_back(cause_too_long(field, kTotalAnnotationSizeLimit));
}

void validate_label_selector(const json& selector, const std::string& field, std::vector<StatusCause>& causes) {
  if (selector.is_null()) return;
  if (!selector.is_object()) throw_bad_request("json: cannot unmarshal " + std::string(json_type_name(selector)) +
                                               " into Go struct field " + field + " of type v1.LabelSelector");
  if (const json* ml = member(selector, "matchLabels")) validate_labels(*ml, field + ".matchLabels", causes);
  const json* exprs = member(selector, "matchExpressions");
  if (!exprs) return;
  if (!exprs->is_array()) throw_bad_request("json: cannot unmarshal " + std::string(json_type_name(*exprs)) +
                                            " into Go struct field " + field + ".matchExpressions");
  for (std::size_t i = 0; i < exprs->size(); ++i) {
    const json& e = (*exprs)[i];
    std::string path = field + ".matchExpressions[" + std::to_string(i) + "]";
    if (!e.is_object()) throw_bad_request("json: cannot unmarshal " + std::string(json_type_name(e)) +
                                          " into Go struct field " + path + " of type v1.LabelSelectorRequirement");
    const json* op = member(e, "operator");
    std::string oper = op && op->is_string() ? op->get<std::string>() : "";
    const json* values = member(e, "values");
    std::size_t nvalues = values && values->is_array() ? values->size() : 0;
    if (oper == "In" || oper == "NotIn") {
      if (nvalues == 0) causes.push_back(cause_required(path + ".values", "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (oper == "Exists" || oper == "DoesNotExist") {
      if (nvalues > 0) {
        causes.push_back(cause_forbidden(path + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      }
    } else {
      causes.push_back(cause_invalid(path + ".operator", oper, "not a valid selector operator"));
    }
    const json* key = member(e, "key");
    std::string k = key && key->is_string() ? key->get<std::string>() : "";
    for (auto& msg : is_qualified_name(k)) causes.push_back(cause_invalid(path + ".key", k, msg));
    for (std::size_t j = 0; j < nvalues; ++j) {
      const json& v = (*values)[j];
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      for (auto& msg : is_valid_label_value(s)) {
        causes.push_back(cause_invalid(path + ".values[" + std::to_string(j) + "]", s, msg));
      }
    }
  }
}

void validate_object_meta(const json& metadata, bool namespaced, const NameValidator& name_rule,
                          std::vector<StatusCause>& causes) {
  static const json kEmpty = json::object();
  const json& meta = metadata.is_null() ? kEmpty : metadata;
  if (!meta.is_object()) throw_bad_request("json: cannot unmarshal " + std::string(json_type_name(meta)) +
                                           " into Go struct field of type v1.ObjectMeta");
  validate_name_fields(meta, name_rule, causes);
  validate_namespace_field(meta, namespaced, causes);
  validate_generation(meta, causes);
  if (const json* labels = member(meta, "labels")) validate_labels(*labels, "metadata.labels", causes);
  if (const json* ann = member(meta, "annotations")) validate_annotations(*ann, "metadata.annotations", causes);
  validate_owner_references(meta, causes);
  validate_finalizers(meta, causes);
}

}  // namespace kctl::api
