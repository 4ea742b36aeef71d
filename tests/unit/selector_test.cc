// Label and field selectors: syntax, matching, canonical strings and the exact Kubernetes
// error messages a client sees for bad selectors.
#include "api/selector.h"

#include <gtest/gtest.h>

#include "api/status.h"

namespace kctl::api {
namespace {

using Labels = std::map<std::string, std::string>;

std::string parse_error(std::string_view selector) {
  try {
    LabelSelector::parse(selector);
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 400);
    return e.status().message;
  }
  return "<no error>";
}

std::string field_error(std::string_view selector) {
  try {
    FieldSelector::parse(selector);
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 400);
    return e.status().message;
  }
  return "<no error>";
}

TEST(LabelSelector, EqualityOperators) {
  auto s = LabelSelector::parse("app=web");
  EXPECT_TRUE(s.matches(Labels{{"app", "web"}, {"tier", "fe"}}));
  EXPECT_FALSE(s.matches(Labels{{"app", "db"}}));
  EXPECT_FALSE(s.matches(Labels{}));
  EXPECT_TRUE(LabelSelector::parse("app==web").matches(Labels{{"app", "web"}}));
  auto ne = LabelSelector::parse("app!=web");
  EXPECT_FALSE(ne.matches(Labels{{"app", "web"}}));
  EXPECT_TRUE(ne.matches(Labels{{"app", "db"}}));
  EXPECT_TRUE(ne.matches(Labels{}));  // a missing label is "not equal"
}

TEST(LabelSelector, SetOperators) {
  auto in = LabelSelector::parse("tier in (a,b)");
  EXPECT_TRUE(in.matches(Labels{{"tier", "b"}}));
  EXPECT_FALSE(in.matches(Labels{{"tier", "c"}}));
  EXPECT_FALSE(in.matches(Labels{}));
  auto notin = LabelSelector::parse("tier notin (a,b)");
  EXPECT_FALSE(notin.matches(Labels{{"tier", "a"}}));
  EXPECT_TRUE(notin.matches(Labels{{"tier", "c"}}));
  EXPECT_TRUE(notin.matches(Labels{}));
}

TEST(LabelSelector, ExistenceOperators) {
  auto exists = LabelSelector::parse("app");
  EXPECT_TRUE(exists.matches(Labels{{"app", ""}}));
  EXPECT_FALSE(exists.matches(Labels{{"other", "x"}}));
  auto absent = LabelSelector::parse("!app");
  EXPECT_FALSE(absent.matches(Labels{{"app", "x"}}));
  EXPECT_TRUE(absent.matches(Labels{}));
}

TEST(LabelSelector, NumericComparison) {
  auto gt = LabelSelector::parse("replicas>3");
  EXPECT_TRUE(gt.matches(Labels{{"replicas", "4"}}));
  EXPECT_FALSE(gt.matches(Labels{{"replicas", "3"}}));
  EXPECT_FALSE(gt.matches(Labels{{"replicas", "many"}}));  // not an integer: no match
  EXPECT_FALSE(gt.matches(Labels{}));
  EXPECT_TRUE(LabelSelector::parse("x<10").matches(Labels{{"x", "-5"}}));
}

TEST(LabelSelector, ConjunctionAndWhitespace) {
  auto s = LabelSelector::parse("  app = web ,\ttier  in ( a , b ) , !canary ");
  EXPECT_TRUE(s.matches(Labels{{"app", "web"}, {"tier", "a"}}));
  EXPECT_FALSE(s.matches(Labels{{"app", "web"}, {"tier", "a"}, {"canary", "1"}}));
  EXPECT_EQ(s.to_string(), "app=web,!canary,tier in (a,b)");
}

TEST(LabelSelector, CanonicalStringSortsByKey) {
  EXPECT_EQ(LabelSelector::parse("tier in (b,a),app=web").to_string(), "app=web,tier in (a,b)");
  EXPECT_EQ(LabelSelector::parse("a==b,c!=d,e notin (f),g>1,h<2,i,!j").to_string(), "a==b,c!=d,e notin (f),g>1,h<2,i,!j");
  EXPECT_EQ(LabelSelector::parse("x in ()").to_string(), "x in ()");
  EXPECT_EQ(LabelSelector::parse("x in (,a)").to_string(), "x in (,a)");
  EXPECT_EQ(LabelSelector::parse("x=").to_string(), "x=");
}

TEST(LabelSelector, KeywordsAreIdentifiersInValuePositions) {
  auto s = LabelSelector::parse("in in (in,notin)");
  EXPECT_TRUE(s.matches(Labels{{"in", "notin"}}));
  EXPECT_TRUE(LabelSelector::parse("example.com/tier=web").matches(Labels{{"example.com/tier", "web"}}));
}

TEST(LabelSelector, EmptyMatchesEverything) {
  auto s = LabelSelector::parse("");
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.matches(Labels{}));
  EXPECT_EQ(s.to_string(), "");
  EXPECT_TRUE(LabelSelector::parse("   ").empty());
}

TEST(LabelSelector, ParseErrorsUseKubernetesMessages) {
  EXPECT_EQ(parse_error("app:monolith"),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  EXPECT_EQ(parse_error("a b"), "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  EXPECT_EQ(parse_error("a=b c"), "found 'c', expected: ',' or 'end of string'");
  EXPECT_EQ(parse_error(",a"), "found ',', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(parse_error("a,"), "found '', expected: identifier after ','");
  EXPECT_EQ(parse_error("x in (a"), "unable to parse requirement: found '', expected: ',' or ')'");
  EXPECT_EQ(parse_error("x in a"), "unable to parse requirement: found 'a' expected: '('");
  EXPECT_EQ(parse_error("x=!y"), "unable to parse requirement: found '!', expected: identifier");
  EXPECT_EQ(parse_error("x>abc"),
            "unable to parse requirement: values[0]: Invalid value: \"abc\": for 'Gt', 'Lt' operators, the value must "
            "be an integer");
  EXPECT_EQ(parse_error("a=-b"),
            "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string "
            "or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  EXPECT_EQ(parse_error("app.kubernetes_io/name=x").rfind(
                "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase "
                "RFC 1123 subdomain must consist of",
                0),
            0u);
}

TEST(LabelSelector, RejectsOverlongInput) {
  EXPECT_EQ(parse_error(std::string(kMaxSelectorLength + 1, 'a')).find("selector is longer than"), 0u);
}

TEST(LabelSelector, ExactValue) {
  EXPECT_EQ(LabelSelector::parse("app=web,x").exact_value("app"), "web");
  EXPECT_EQ(LabelSelector::parse("app in (web)").exact_value("app"), "web");
  EXPECT_EQ(LabelSelector::parse("app in (a,b)").exact_value("app"), std::nullopt);
  EXPECT_EQ(LabelSelector::parse("app!=web").exact_value("app"), std::nullopt);
  EXPECT_EQ(LabelSelector::parse("x=1").exact_value("app"), std::nullopt);
}

TEST(LabelSelector, FromJsonMatchLabelsAndExpressions) {
  auto sel = nlohmann::json::parse(R"({"matchLabels":{"app":"web"},
      "matchExpressions":[{"key":"tier","operator":"In","values":["b","a"]},
                          {"key":"canary","operator":"DoesNotExist"}]})");
  auto s = LabelSelector::from_json(sel);
  EXPECT_EQ(s.to_string(), "app=web,!canary,tier in (a,b)");
  EXPECT_TRUE(s.matches(nlohmann::json{{"app", "web"}, {"tier", "a"}}));
  EXPECT_FALSE(s.matches(nlohmann::json{{"app", "web"}, {"tier", "a"}, {"canary", "y"}}));
  EXPECT_FALSE(s.matches(nlohmann::json(nullptr)));
}

TEST(LabelSelector, FromJsonEmptyAndNull) {
  EXPECT_TRUE(LabelSelector::from_json(nlohmann::json::object()).empty());
  EXPECT_TRUE(LabelSelector::from_json(nlohmann::json::object()).matches(Labels{}));
  auto null_sel = LabelSelector::from_json(nullptr);
  EXPECT_TRUE(null_sel.matches_nothing());
  EXPECT_FALSE(null_sel.matches(Labels{}));
  EXPECT_FALSE(null_sel.empty());
  EXPECT_TRUE(LabelSelector::from_json(nullptr, NullLabelSelector::MatchesEverything).matches(Labels{{"a", "b"}}));
  EXPECT_FALSE(LabelSelector::nothing().matches(nlohmann::json::object()));
}

TEST(LabelSelector, FromJsonErrors) {
  auto err = [](const char* text) {
    try {
      LabelSelector::from_json(nlohmann::json::parse(text));
    } catch (const StatusError& e) {
      return e.status().message;
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(err(R"({"matchExpressions":[{"key":"a","operator":"Foo"}]})"), "\"Foo\" is not a valid label selector operator");
  EXPECT_EQ(err(R"({"matchExpressions":[{"key":"a","operator":"In","values":[]}]})"),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty");
  EXPECT_EQ(err(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})"),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist");
  EXPECT_EQ(err(R"({"matchLabels":{"bad key":"x"}})").rfind("key: Invalid value: \"bad key\": name part must", 0), 0u);
}

TEST(LabelSelector, FromSet) {
  auto s = LabelSelector::from_set({{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(s.to_string(), "a=1,b=2");
  EXPECT_TRUE(s.matches(Labels{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  EXPECT_FALSE(s.matches(Labels{{"a", "1"}}));
  EXPECT_TRUE(LabelSelector::from_set({}).matches(Labels{}));
}

// ---- field selectors ----

FieldSelector::FieldGetter pod_fields(std::map<std::string, std::string> fields) {
  return [fields](std::string_view f) -> std::optional<std::string> {
    auto it = fields.find(std::string(f));
    if (it == fields.end()) return std::nullopt;
    return it->second;
  };
}

TEST(FieldSelector, ParsesAndMatches) {
  auto s = FieldSelector::parse("status.phase!=Failed,spec.nodeName=n1");
  ASSERT_EQ(s.requirements().size(), 2u);
  EXPECT_EQ(s.requirements()[0], (FieldRequirement{"spec.nodeName", FieldOperator::Equals, "n1"}));
  EXPECT_EQ(s.requirements()[1], (FieldRequirement{"status.phase", FieldOperator::NotEquals, "Failed"}));
  EXPECT_TRUE(s.matches(pod_fields({{"spec.nodeName", "n1"}, {"status.phase", "Running"}})));
  EXPECT_FALSE(s.matches(pod_fields({{"spec.nodeName", "n2"}, {"status.phase", "Running"}})));
  EXPECT_FALSE(s.matches(pod_fields({{"spec.nodeName", "n1"}, {"status.phase", "Failed"}})));
  EXPECT_EQ(s.to_string(), "spec.nodeName=n1,status.phase!=Failed");
}

TEST(FieldSelector, UnsetFieldsCompareAsEmptyAndUnknownFieldsAreIgnored) {
  EXPECT_TRUE(FieldSelector::parse("spec.nodeName=").matches(pod_fields({{"spec.nodeName", ""}})));
  EXPECT_TRUE(FieldSelector::parse("spec.nodeName!=x").matches(pod_fields({{"spec.nodeName", ""}})));
  // involvedObject.* on a kind without it: ignored rather than matching nothing.
  EXPECT_TRUE(FieldSelector::parse("involvedObject.uid=1").matches(pod_fields({})));
}

TEST(FieldSelector, DoubleEqualsAndExactValue) {
  auto s = FieldSelector::parse("metadata.name==mypod");
  EXPECT_EQ(s.requirements()[0].op, FieldOperator::DoubleEquals);
  EXPECT_EQ(s.exact_value("metadata.name"), "mypod");
  EXPECT_EQ(s.exact_value("spec.nodeName"), std::nullopt);
  EXPECT_EQ(FieldSelector::parse("a!=b").exact_value("a"), std::nullopt);
  EXPECT_EQ(s.to_string(), "metadata.name=mypod");
}

TEST(FieldSelector, BackslashEscapes) {
  auto s = FieldSelector::parse(R"(a=x\,y\=z\\w,b=c)");
  ASSERT_EQ(s.requirements().size(), 2u);
  EXPECT_EQ(s.requirements()[0].value, "x,y=z\\w");
  EXPECT_EQ(s.to_string(), R"(a=x\,y\=z\\w,b=c)");
  EXPECT_EQ(FieldSelector::escape_value("a,b=c\\"), R"(a\,b\=c\\)");
  EXPECT_EQ(FieldSelector::unescape_value(R"(a\,b)"), "a,b");
}

TEST(FieldSelector, Empty) {
  EXPECT_TRUE(FieldSelector::parse("").empty());
  EXPECT_TRUE(FieldSelector::parse(",,").empty());
  EXPECT_TRUE(FieldSelector::everything().matches(pod_fields({})));
}

TEST(FieldSelector, ErrorsUseKubernetesMessages) {
  EXPECT_EQ(field_error("a"), "invalid selector: 'a'; can't understand 'a'");
  EXPECT_EQ(field_error("x=1,a"), "invalid selector: 'x=1,a'; can't understand 'a'");
  EXPECT_EQ(field_error("a=b=c"), "invalid field selector: unescaped character in value: 61");
  EXPECT_EQ(field_error("a=b,c=d\\"), "invalid field selector: invalid escape sequence: \\");
  EXPECT_EQ(field_error("a=\\x"), "invalid field selector: invalid escape sequence: \\x");
}

}  // namespace
}  // namespace kctl::api
