// Name, label, port and IP rules and ObjectMeta validation, checked against the exact
// messages Kubernetes returns in 422 causes.
#include "api/validation.h"

#include "api/kinds/pod_spec.h"

#include <gtest/gtest.h>

namespace kctl::api {
namespace {

using Errors = std::vector<std::string>;
using nlohmann::json;

const std::string kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const std::string kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const std::string kNamePartMsg =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

TEST(Validation, Dns1123Label) {
  EXPECT_EQ(is_dns1123_label("my-name"), Errors{});
  EXPECT_EQ(is_dns1123_label("123"), Errors{});
  EXPECT_EQ(is_dns1123_label("My_Name"), Errors{kLabelMsg});
  EXPECT_EQ(is_dns1123_label("-a"), Errors{kLabelMsg});
  EXPECT_EQ(is_dns1123_label(""), Errors{kLabelMsg});
  EXPECT_EQ(is_dns1123_label("a.b"), Errors{"must not contain dots"});
  EXPECT_EQ(is_dns1123_label(std::string(64, 'a')), Errors{"must be no more than 63 characters"});
  EXPECT_EQ(is_dns1123_label(std::string(63, 'a')), Errors{});
}

TEST(Validation, Dns1123Subdomain) {
  EXPECT_EQ(is_dns1123_subdomain("example.com"), Errors{});
  EXPECT_EQ(is_dns1123_subdomain("Bad_Name"), Errors{kSubdomainMsg});
  EXPECT_EQ(is_dns1123_subdomain("a..b"), Errors{kSubdomainMsg});
  EXPECT_EQ(is_dns1123_subdomain("a."), Errors{kSubdomainMsg});
  EXPECT_EQ(is_dns1123_subdomain(std::string(254, 'a')), (Errors{"must be no more than 253 characters"}));
}

TEST(Validation, Dns1035Label) {
  EXPECT_EQ(is_dns1035_label("web-1"), Errors{});
  EXPECT_EQ(is_dns1035_label("1web"),
            Errors{"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                   "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                   "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"});
}

TEST(Validation, QualifiedName) {
  EXPECT_EQ(is_qualified_name("app"), Errors{});
  EXPECT_EQ(is_qualified_name("app.kubernetes.io/name"), Errors{});
  EXPECT_EQ(is_qualified_name("Bad_Name.X"), Errors{});
  EXPECT_EQ(is_qualified_name("bad key"), Errors{kNamePartMsg});
  EXPECT_EQ(is_qualified_name("app.kubernetes_io/name"), Errors{"prefix part " + kSubdomainMsg});
  EXPECT_EQ(is_qualified_name("/a"), Errors{"prefix part must be non-empty"});
  EXPECT_EQ(is_qualified_name("a/"), (Errors{"name part must be non-empty", kNamePartMsg}));
  EXPECT_EQ(is_qualified_name(std::string(64, 'a')), Errors{"name part must be no more than 63 characters"});
  EXPECT_EQ(is_qualified_name("a/b/c"),
            Errors{"a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                   "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                   "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                   "and '/' (e.g. 'example.com/MyName')"});
}

TEST(Validation, LabelValue) {
  EXPECT_EQ(is_valid_label_value(""), Errors{});
  EXPECT_EQ(is_valid_label_value("v1.2_x-y"), Errors{});
  EXPECT_EQ(is_valid_label_value("-x").size(), 1u);
  auto long_errs = is_valid_label_value(std::string(64, 'a'));
  EXPECT_EQ(long_errs, Errors{"must be no more than 63 characters"});
}

TEST(Validation, Ports) {
  EXPECT_EQ(is_valid_port_num(80), Errors{});
  EXPECT_EQ(is_valid_port_num(0), Errors{"must be between 1 and 65535, inclusive"});
  EXPECT_EQ(is_valid_port_num(65536), Errors{"must be between 1 and 65535, inclusive"});
  EXPECT_EQ(is_valid_port_name("http"), Errors{});
  EXPECT_EQ(is_valid_port_name("h2c-9"), Errors{});
  EXPECT_EQ(is_valid_port_name("80"), Errors{"must contain at least one letter (a-z)"});
  EXPECT_EQ(is_valid_port_name("a--b"), Errors{"must not contain consecutive hyphens"});
  EXPECT_EQ(is_valid_port_name("-http"), Errors{"must not begin or end with a hyphen"});
  EXPECT_EQ(is_valid_port_name("HTTP"), (Errors{"must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                                                "must contain at least one letter (a-z)"}));
  EXPECT_EQ(is_valid_port_name("abcdefghijklmnop"), Errors{"must be no more than 15 characters"});
}

TEST(Validation, IpAndCidr) {
  EXPECT_EQ(is_valid_ip("10.9.8.7"), Errors{});
  EXPECT_EQ(is_valid_ip("010.009.008.007"), Errors{});  // leading zeros are tolerated
  EXPECT_EQ(is_valid_ip("2001:db8::ffff"), Errors{});
  EXPECT_EQ(is_valid_ip("::ffff:1.2.3.4"), Errors{});
  const Errors bad_ip{"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
  EXPECT_EQ(is_valid_ip("256.1.1.1"), bad_ip);
  EXPECT_EQ(is_valid_ip("1.2.3"), bad_ip);
  EXPECT_EQ(is_valid_ip("1.2.3.4.5"), bad_ip);
  EXPECT_EQ(is_valid_ip("fe80::1%eth0"), bad_ip);
  EXPECT_EQ(is_valid_ip(""), bad_ip);
  EXPECT_EQ(is_valid_cidr("10.244.0.0/16"), Errors{});
  EXPECT_EQ(is_valid_cidr("10.96.0.1/32"), Errors{});
  EXPECT_EQ(is_valid_cidr("2001:db8::/64"), Errors{});
  const Errors bad_cidr{"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"};
  EXPECT_EQ(is_valid_cidr("10.0.0.0/33"), bad_cidr);
  EXPECT_EQ(is_valid_cidr("10.0.0.0"), bad_cidr);
  EXPECT_EQ(is_valid_cidr("10.0.0.0/"), bad_cidr);
  EXPECT_EQ(is_valid_cidr("::/129"), bad_cidr);
}

TEST(Validation, IdentifiersAndEnvNames) {
  EXPECT_EQ(is_c_identifier("MY_VAR1"), Errors{});
  EXPECT_EQ(is_c_identifier("1abc").size(), 1u);
  EXPECT_EQ(is_env_var_name("my.env-name"), Errors{});
  EXPECT_EQ(is_env_var_name("1X").size(), 1u);
  EXPECT_EQ(is_env_var_name(".."), (Errors{"must not be '..'"}));
  EXPECT_EQ(is_relaxed_env_var_name("1 weird:name!"), Errors{});
  EXPECT_EQ(is_relaxed_env_var_name("A=B"),
            Errors{"a valid environment variable name must consist only of printable ASCII characters other than '='"});
  EXPECT_EQ(is_relaxed_env_var_name(""), Errors{"environment variable name must be non-empty"});
  EXPECT_EQ(is_config_map_key("app.properties"), Errors{});
  EXPECT_EQ(is_config_map_key("a/b").size(), 1u);
}

TEST(Validation, NameRules) {
  EXPECT_EQ(name_is_dns_subdomain("web-", true), Errors{});  // a generateName may end in '-'
  EXPECT_EQ(name_is_dns_subdomain("web-", false), Errors{kSubdomainMsg});
  EXPECT_EQ(name_is_dns_label("a.b", false), Errors{"must not contain dots"});
  EXPECT_EQ(name_is_dns1035_label("svc-", true), Errors{});
  EXPECT_EQ(is_valid_path_segment_name("..", false), Errors{"may not be '..'"});
  EXPECT_EQ(is_valid_path_segment_name("a/b%", false), (Errors{"may not contain '/'", "may not contain '%'"}));
  EXPECT_EQ(is_valid_path_segment_name("..", true), Errors{});
}

TEST(Validation, CauseMessages) {
  auto c = cause_invalid("metadata.labels", "Bad_Name", "some detail");
  EXPECT_EQ(c.reason, "FieldValueInvalid");
  EXPECT_EQ(c.field, "metadata.labels");
  EXPECT_EQ(c.message, "Invalid value: \"Bad_Name\": some detail");
  EXPECT_EQ(cause_required("metadata.name", "name or generateName is required").message,
            "Required value: name or generateName is required");
  EXPECT_EQ(cause_required("spec.containers").message, "Required value");
  EXPECT_EQ(cause_not_supported("spec.restartPolicy", "Sometimes", {"Always", "OnFailure", "Never"}).message,
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
  EXPECT_EQ(cause_duplicate("spec.containers[1].name", "web").message, "Duplicate value: \"web\"");
  EXPECT_EQ(cause_duplicate("spec.containers[1].name", "web").reason, "FieldValueDuplicate");
  EXPECT_EQ(cause_forbidden("metadata.namespace", "not allowed on this type").message,
            "Forbidden: not allowed on this type");
  EXPECT_EQ(cause_too_long("metadata.annotations", 262144).message, "Too long: may not be more than 262144 bytes");
  EXPECT_EQ(cause_too_many("spec.x", 5, 3).message, "Too many: 5: must have at most 3 items");
  EXPECT_EQ(cause_invalid("spec.replicas", -1, "must be greater than or equal to 0").message,
            "Invalid value: -1: must be greater than or equal to 0");
}

TEST(Validation, RenderValue) {
  EXPECT_EQ(render_value("a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(render_value(42), "42");
  EXPECT_EQ(render_value(true), "true");
  EXPECT_EQ(render_value(nullptr), "null");
  EXPECT_EQ(render_value(0.5), "0.5");
  EXPECT_EQ(render_value(json::array({1, 2})), "[1,2]");
  EXPECT_EQ(go_quote("h\xc3\xa9llo\x01\xff"), "\"h\xc3\xa9llo\\x01\\xff\"");
}

std::vector<StatusCause> validate(const json& meta, bool namespaced = true) {
  std::vector<StatusCause> causes;
  validate_object_meta(meta, namespaced, name_is_dns_subdomain, causes);
  return causes;
}

TEST(ObjectMeta, ValidMetadataHasNoCauses) {
  auto meta = json::parse(R"({"name":"web","namespace":"default","labels":{"app":"web","example.com/tier":""},
      "annotations":{"Example.com/Note":"anything goes here"},"generation":1,
      "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u1","controller":true}],
      "finalizers":["kubernetes.io/pvc-protection","orphan"]})");
  EXPECT_TRUE(validate(meta).empty());
}

TEST(ObjectMeta, NameOrGenerateNameRequired) {
  auto causes = validate(json::object());
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_EQ(causes[0].reason, "FieldValueRequired");
  EXPECT_EQ(causes[0].message, "Required value: name or generateName is required");
  EXPECT_EQ(causes[1].field, "metadata.namespace");
  EXPECT_EQ(causes[1].message, "Required value");
  // A generateName still to be expanded is enough.
  EXPECT_TRUE(validate(json{{"generateName", "web-"}, {"namespace", "default"}}).empty());
  // The Status built from these causes reads like kube-apiserver's.
  Status s = Status::invalid("Pod", "", {causes[0]});
  EXPECT_EQ(s.code, 422);
  EXPECT_EQ(s.message, "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required");
}

TEST(ObjectMeta, BadNamesAndNamespace) {
  auto causes = validate(json{{"name", "Bad_Name"}, {"namespace", "Bad.NS"}});
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_EQ(causes[0].message, "Invalid value: \"Bad_Name\": " + kSubdomainMsg);
  EXPECT_EQ(causes[1].field, "metadata.namespace");
  EXPECT_EQ(causes[1].message, "Invalid value: \"Bad.NS\": " + kLabelMsg);
  auto gen = validate(json{{"generateName", "Web-"}, {"namespace", "ns"}});
  ASSERT_EQ(gen.size(), 1u);
  EXPECT_EQ(gen[0].field, "metadata.generateName");
}

TEST(ObjectMeta, ClusterScopedRejectsNamespace) {
  EXPECT_TRUE(validate(json{{"name", "node1"}}, false).empty());
  auto causes = validate(json{{"name", "node1"}, {"namespace", "default"}}, false);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueForbidden");
  EXPECT_EQ(causes[0].message, "Forbidden: not allowed on this type");
}

TEST(ObjectMeta, LabelsAndAnnotations) {
  auto causes = validate(json{{"name", "a"}, {"namespace", "n"}, {"labels", {{"bad key", "ok"}, {"good", "-bad"}}}});
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "metadata.labels");
  EXPECT_EQ(causes[0].message, "Invalid value: \"bad key\": " + kNamePartMsg);
  EXPECT_EQ(causes[1].message.substr(0, 42), "Invalid value: \"-bad\": a valid label must ");
  auto big = validate(json{{"name", "a"}, {"namespace", "n"},
                           {"annotations", {{"k", std::string(kTotalAnnotationSizeLimit, 'x')}}}});
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].field, "metadata.annotations");
  EXPECT_EQ(big[0].reason, "FieldValueTooLong");
  EXPECT_EQ(big[0].message, "Too long: may not be more than 262144 bytes");
}

TEST(ObjectMeta, OwnerReferences) {
  auto causes = validate(json::parse(R"({"name":"a","namespace":"n","ownerReferences":[{"kind":""}]})"));
  ASSERT_EQ(causes.size(), 4u);
  EXPECT_EQ(causes[0].field, "metadata.ownerReferences.apiVersion");
  EXPECT_EQ(causes[0].message, "Invalid value: \"\": version must not be empty");
  EXPECT_EQ(causes[1].field, "metadata.ownerReferences.kind");
  EXPECT_EQ(causes[1].message, "Invalid value: \"\": must not be empty");
  EXPECT_EQ(causes[2].field, "metadata.ownerReferences.name");
  EXPECT_EQ(causes[3].field, "metadata.ownerReferences.uid");
  auto two = validate(json::parse(R"({"name":"a","namespace":"n","ownerReferences":[
      {"apiVersion":"v1","kind":"A","name":"x","uid":"1","controller":true},
      {"apiVersion":"v1","kind":"B","name":"y","uid":"2","controller":true}]})"));
  ASSERT_EQ(two.size(), 1u);
  EXPECT_NE(two[0].message.find("Only one reference can have Controller set to true. Found \"true\" in references for "
                                "A/x and B/y"),
            std::string::npos);
  auto event = validate(json::parse(R"({"name":"a","namespace":"n","ownerReferences":[
      {"apiVersion":"v1","kind":"Event","name":"x","uid":"1"}]})"));
  ASSERT_EQ(event.size(), 1u);
  EXPECT_NE(event[0].message.find("/v1, Kind=Event is disallowed from being an owner"), std::string::npos);
}

TEST(ObjectMeta, Finalizers) {
  auto causes = validate(json::parse(R"({"name":"a","namespace":"n","finalizers":["orphan","foregroundDeletion","bad one"]})"));
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "metadata.finalizers");
  EXPECT_EQ(causes[0].message, "Invalid value: \"bad one\": " + kNamePartMsg);
  EXPECT_EQ(causes[1].message.substr(causes[1].message.find("finalizer")),
            "finalizer orphan and foregroundDeletion cannot be both set");
}

TEST(ObjectMeta, GenerationMustNotBeNegative) {
  auto causes = validate(json{{"name", "a"}, {"namespace", "n"}, {"generation", -1}});
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "metadata.generation");
  EXPECT_EQ(causes[0].message, "Invalid value: -1: must be greater than or equal to 0");
}

TEST(ObjectMeta, WrongJsonTypesAreBadRequests) {
  try {
    validate(json{{"name", "a"}, {"namespace", "n"}, {"labels", {{"app", 3}}}});
    FAIL();
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 400);
    EXPECT_EQ(e.status().message,
              "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string");
  }
  EXPECT_THROW(validate(json{{"name", 5}}), StatusError);
  EXPECT_THROW(validate(json::array()), StatusError);
}

TEST(LabelSelectorValidation, Causes) {
  std::vector<StatusCause> causes;
  validate_label_selector(json::parse(R"({"matchLabels":{"app":"web"},"matchExpressions":[
      {"key":"a","operator":"In"},{"key":"b","operator":"Exists","values":["x"]},
      {"key":"c","operator":"Near","values":["-bad"]}]})"),
                          "spec.selector", causes);
  ASSERT_EQ(causes.size(), 4u);
  EXPECT_EQ(causes[0].field, "spec.selector.matchExpressions[0].values");
  EXPECT_EQ(causes[0].message, "Required value: must be specified when `operator` is 'In' or 'NotIn'");
  EXPECT_EQ(causes[1].field, "spec.selector.matchExpressions[1].values");
  EXPECT_EQ(causes[1].message, "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
  EXPECT_EQ(causes[2].field, "spec.selector.matchExpressions[2].operator");
  EXPECT_EQ(causes[2].message, "Invalid value: \"Near\": not a valid selector operator");
  EXPECT_EQ(causes[3].field, "spec.selector.matchExpressions[2].values[0]");
}

TEST(PodSpecDnsConfig, AsValidatePodDNSConfigChecksIt) {
  auto causes_of = [](const std::string& spec_json) {
    json spec = json::parse(R"({"containers":[{"name":"c","image":"busybox"}]})");
    spec.update(json::parse(spec_json));
    std::vector<StatusCause> causes;
    kinds::validate_pod_spec(spec, "spec", causes);
    std::vector<std::string> out;
    for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
    return out;
  };
  EXPECT_EQ(causes_of(R"({"dnsPolicy":"None","dnsConfig":{"nameservers":["1.2.3.4"]}})"), Errors{});
  EXPECT_EQ(causes_of(R"({"dnsConfig":{"searches":["a.example."],"options":[{"name":"ndots","value":"2"}]}})"),
            Errors{});
  EXPECT_EQ(causes_of(R"({"dnsPolicy":"None"})"),
            Errors{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"});
  EXPECT_EQ(causes_of(R"({"dnsPolicy":"None","dnsConfig":{"searches":["a.example"]}})"),
            Errors{"spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when "
                   "`dnsPolicy` is None"});
  auto bad = causes_of(R"({"dnsConfig":{"nameservers":["1.1.1.1","2.2.2.2","3.3.3.3","nope"],
      "searches":["Bad_Domain"],"options":[{"value":"1"}]}})");
  ASSERT_EQ(bad.size(), 4u) << ::testing::PrintToString(bad);
  EXPECT_TRUE(bad[0].starts_with("spec.dnsConfig.nameservers: Invalid value: ")) << bad[0];
  EXPECT_TRUE(bad[0].ends_with("must not have more than 3 nameservers")) << bad[0];
  EXPECT_TRUE(bad[1].starts_with("spec.dnsConfig.nameservers[3]: Invalid value: \"nope\": must be a valid IP"))
      << bad[1];
  EXPECT_TRUE(bad[2].starts_with("spec.dnsConfig.searches[0]: Invalid value: \"Bad_Domain\"")) << bad[2];
  EXPECT_EQ(bad[3], "spec.dnsConfig.options[0]: Required value: must not be empty");
}

TEST(PodSpecVolumes, FileModesArePermissionBitsOnly) {
  auto causes_of = [](const std::string& volumes_json) {
    json spec = json::parse(R"({"containers":[{"name":"c","image":"busybox"}]})");
    spec["volumes"] = json::parse(volumes_json);
    std::vector<StatusCause> causes;
    kinds::validate_pod_spec(spec, "spec", causes);
    std::vector<std::string> out;
    for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
    return out;
  };
  EXPECT_EQ(causes_of(R"([{"name":"s","secret":{"secretName":"x","defaultMode":256,"items":[{"key":"a","path":"a","mode":511}]}}])"),
            Errors{});
  EXPECT_EQ(causes_of(R"([{"name":"s","secret":{"secretName":"x","defaultMode":2541}}])"),
            Errors{"spec.volumes[0].secret.defaultMode: Invalid value: 2541: must be a number between 0 and 0777 (octal), "
                   "both inclusive"});
  EXPECT_EQ(causes_of(R"([{"name":"c","configMap":{"name":"x","items":[{"key":"a","path":"a","mode":-1}]}},
      {"name":"p","projected":{"sources":[{"secret":{"name":"y","items":[{"key":"k","path":"k","mode":4096}]}}]}}])"),
            (Errors{"spec.volumes[0].configMap.items[0].mode: Invalid value: -1: must be a number between 0 and 0777 "
                    "(octal), both inclusive",
                    "spec.volumes[1].projected.sources[0].secret.items[0].mode: Invalid value: 4096: must be a number "
                    "between 0 and 0777 (octal), both inclusive"}));
}

}  // namespace
}  // namespace kctl::api
