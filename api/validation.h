// The Kubernetes rules for names, label keys and values, ports, IPs and object metadata, with
// the exact messages of k8s.io/apimachinery/pkg/util/validation (Kubernetes 1.33) and field.Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace kctl::api {

// The limits below are Kubernetes' own; changing one changes which objects are accepted.
inline constexpr std::size_t kDns1123LabelMaxLength = 63;       // RFC 1123 label
inline constexpr std::size_t kDns1123SubdomainMaxLength = 253;  // RFC 1123 subdomain
inline constexpr std::size_t kDns1035LabelMaxLength = 63;       // RFC 1035 label (Service names)
inline constexpr std::size_t kQualifiedNameMaxLength = 63;      // name part of a label key
inline constexpr std::size_t kLabelValueMaxLength = 63;
inline constexpr std::size_t kPortNameMaxLength = 15;           // IANA_SVC_NAME (RFC 6335)
inline constexpr std::size_t kTotalAnnotationSizeLimit = 256 * 1024;  // keys + values, bytes

// Each check returns the reasons the value is invalid; an empty vector means valid.
std::vector<std::string> is_dns1123_label(std::string_view value);
std::vector<std::string> is_dns1123_subdomain(std::string_view value);
std::vector<std::string> is_dns1035_label(std::string_view value);
// Label and annotation keys, finalizers: [prefix/]name.
std::vector<std::string> is_qualified_name(std::string_view value);
std::vector<std::string> is_valid_label_value(std::string_view value);
std::vector<std::string> is_valid_port_num(std::int64_t port);
std::vector<std::string> is_valid_port_name(std::string_view port);
// IPv4 (leading zeros tolerated, as Kubernetes' ParseIPSloppy does) or IPv6.
std::vector<std::string> is_valid_ip(std::string_view value);
std::vector<std::string> is_valid_cidr(std::string_view value);
std::vector<std::string> is_c_identifier(std::string_view value);
// Strict env var names ([-._a-zA-Z][-._a-zA-Z0-9]*). Kubernetes 1.33 validates container env
// names with is_relaxed_env_var_name instead (RelaxedEnvironmentVariableValidation is on by
// default since 1.32): any printable ASCII except '='.
std::vector<std::string> is_env_var_name(std::string_view value);
std::vector<std::string> is_relaxed_env_var_name(std::string_view value);
std::vector<std::string> is_config_map_key(std::string_view value);

// How a kind names its objects (Kubernetes' ValidateNameFunc). `prefix` is true when the value
// is a generateName, to which random characters will be appended.
using NameValidator = std::function<std::vector<std::string>(std::string_view name, bool prefix)>;
std::vector<std::string> name_is_dns_subdomain(std::string_view name, bool prefix);  // most kinds
std::vector<std::string> name_is_dns_label(std::string_view name, bool prefix);      // Namespace
std::vector<std::string> name_is_dns1035_label(std::string_view name, bool prefix);  // Service
// The rule every name must also pass to be usable in a URL path: not "." or "..", no '/' or '%'.
std::vector<std::string> is_valid_path_segment_name(std::string_view name, bool prefix);

// StatusCause builders mirroring k8s.io/apimachinery/pkg/util/validation/field: `field` is the
// JSON path ("spec.containers[0].name") and the message is field.Error.ErrorBody().
inline constexpr const char* kCauseRequired = "FieldValueRequired";
inline constexpr const char* kCauseInvalid = "FieldValueInvalid";
inline constexpr const char* kCauseNotSupported = "FieldValueNotSupported";
inline constexpr const char* kCauseDuplicate = "FieldValueDuplicate";
inline constexpr const char* kCauseForbidden = "FieldValueForbidden";
inline constexpr const char* kCauseTooLong = "FieldValueTooLong";
inline constexpr const char* kCauseTooMany = "FieldValueTooMany";

StatusCause cause_required(std::string field, std::string_view detail = {});       // "Required value: d"
StatusCause cause_invalid(std::string field, const nlohmann::json& value, std::string_view detail);
StatusCause cause_not_supported(std::string field, const nlohmann::json& value,
                                const std::vector<std::string>& supported);
StatusCause cause_duplicate(std::string field, const nlohmann::json& value);
StatusCause cause_forbidden(std::string field, std::string_view detail);
StatusCause cause_too_long(std::string field, std::size_t max_bytes);
StatusCause cause_too_many(std::string field, std::size_t actual, std::size_t max_items);

// A bad value as field.Error prints it: strings quoted like Go's %q, numbers and booleans bare,
// null as "null"; objects and arrays as compact JSON (Go prints its structs there).
std::string render_value(const nlohmann::json& value);
// Go's strconv.Quote.
std::string go_quote(std::string_view s);

// metav1.ObjectMeta on create: name (or generateName, whose name is still to be generated) by
// `name_rule`, namespace present iff `namespaced`, generation, labels, annotations,
// ownerReferences and finalizers. Appends causes with fields under "metadata.". Throws
// StatusError 400 when a field has the wrong JSON type (Kubernetes fails to decode those).
void validate_object_meta(const nlohmann::json& metadata, bool namespaced, const NameValidator& name_rule,
                          std::vector<StatusCause>& causes);
// Pieces of the above, for labels and selectors inside specs (e.g. "spec.template.metadata.labels").
void validate_labels(const nlohmann::json& labels, const std::string& field, std::vector<StatusCause>& causes);
void validate_annotations(const nlohmann::json& annotations, const std::string& field,
                          std::vector<StatusCause>& causes);
// A metav1.LabelSelector (matchLabels, matchExpressions), as ValidateLabelSelector does.
void validate_label_selector(const nlohmann::json& selector, const std::string& field,
                             std::vector<StatusCause>& causes);

}  // namespace kctl::api
