// Manifest decoding (YAML 1.1 scalars as sigs.k8s.io/yaml reads them, JSON streams, errors
// naming line and document) and YAML output as `kubectl get -o yaml` prints it.
#include "api/codec.h"

#include <gtest/gtest.h>

#include "api/status.h"

namespace kctl::api {
namespace {

using nlohmann::json;

std::string decode_error(std::string_view text) {
  try {
    decode_documents(text);
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().code, 400);
    return e.status().message;
  }
  return "<no error>";
}

TEST(Decode, MultiDocumentYamlSkipsEmptyDocuments) {
  auto docs = decode_documents(
      "---\n# a pod\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a  # trailing comment\n---\n\n---\n# only a "
      "comment\n--- # separator comment\nkind: Service\n---\nnull\n...\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}})"));
  EXPECT_EQ(docs[1], json::parse(R"({"kind":"Service"})"));
  EXPECT_TRUE(decode_documents("").empty());
  EXPECT_TRUE(decode_documents("# nothing\n").empty());
}

TEST(Decode, ScalarsResolveAsGoYamlV2) {
  auto d = decode_yaml(
      "replicas: 3\nvalue: \"3\"\nsingle: '3'\nversion: 1.0\nexp: 1e3\nhalf: .5\nneg: -7\nplus: +1\n"
      "yes1: yes\nno1: No\non1: on\noff1: OFF\ny1: y\nt1: True\nnull1: ~\nnull2: null\nnull3:\n"
      "octal: 0777\nhex: 0x1F\nbin: 0b101\nunder: 1_000\neight: 08\n"
      "big: 9223372036854775808\nbigger: 99999999999999999999\n"
      "date: 2001-12-14\ntime: 12:30\nword: hello world\nquoted_true: \"true\"\ntagged: !!str 123\n"
      "float_tag: !!float 2\ncustom: !thing value\n");
  EXPECT_EQ(d["replicas"], json(3));
  EXPECT_TRUE(d["replicas"].is_number_integer());
  EXPECT_EQ(d["value"], json("3"));
  EXPECT_EQ(d["single"], json("3"));
  EXPECT_TRUE(d["version"].is_number_float());
  EXPECT_EQ(d["version"].get<double>(), 1.0);
  EXPECT_EQ(d["exp"].get<double>(), 1000.0);
  EXPECT_EQ(d["half"].get<double>(), 0.5);
  EXPECT_EQ(d["neg"], json(-7));
  EXPECT_EQ(d["plus"], json(1));
  for (const char* k : {"yes1", "on1", "y1", "t1"}) EXPECT_EQ(d[k], json(true)) << k;
  for (const char* k : {"no1", "off1"}) EXPECT_EQ(d[k], json(false)) << k;
  for (const char* k : {"null1", "null2", "null3"}) EXPECT_TRUE(d[k].is_null()) << k;
  EXPECT_EQ(d["octal"], json(511));
  EXPECT_EQ(d["hex"], json(31));
  EXPECT_EQ(d["bin"], json(5));
  EXPECT_EQ(d["under"], json(1000));
  EXPECT_TRUE(d["eight"].is_number_float());  // not valid octal: go-yaml reads a float
  EXPECT_TRUE(d["big"].is_number_unsigned());
  EXPECT_EQ(d["big"].get<std::uint64_t>(), 9223372036854775808ull);
  EXPECT_TRUE(d["bigger"].is_number_float());
  EXPECT_EQ(d["date"], json("2001-12-14"));
  EXPECT_EQ(d["time"], json("12:30"));
  EXPECT_EQ(d["word"], json("hello world"));
  EXPECT_EQ(d["quoted_true"], json("true"));
  EXPECT_EQ(d["tagged"], json("123"));
  EXPECT_TRUE(d["float_tag"].is_number_float());
  EXPECT_EQ(d["custom"], json("value"));
}

TEST(Decode, NonStringKeysBecomeStrings) {
  auto d = decode_yaml("1: one\n1.5: x\non: k\nfalse: f\n\"2\": two\n");
  EXPECT_EQ(d, json::parse(R"({"1":"one","1.5":"x","true":"k","false":"f","2":"two"})"));
}

TEST(Decode, BlockScalarsAnchorsAndMerges) {
  auto d = decode_yaml(
      "lit: |\n  line1\n  line2\nstrip: |-\n  x\nfold: >\n  a\n  b\n"
      "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\nalias: *b\n"
      "multi:\n  <<: [{x: 1}, {x: 2, z: 2}]\n");
  EXPECT_EQ(d["lit"], json("line1\nline2\n"));
  EXPECT_EQ(d["strip"], json("x"));
  EXPECT_EQ(d["fold"], json("a b\n"));
  EXPECT_EQ(d["derived"], json::parse(R"({"a":1,"b":3})"));
  EXPECT_EQ(d["alias"], json::parse(R"({"a":1,"b":2})"));
  EXPECT_EQ(d["multi"], json::parse(R"({"x":1,"z":2})"));  // earlier maps win
}

TEST(Decode, JsonStreams) {
  auto docs = decode_documents(" {\"kind\":\"A\",\"big\":12345678901234567890}\n{\"kind\":\"B\",\"s\":\"}{\\\"\"}{\"kind\":\"C\"}");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["big"].get<std::uint64_t>(), 12345678901234567890ull);
  EXPECT_EQ(docs[1]["s"], json("}{\""));
  EXPECT_EQ(docs[2]["kind"], json("C"));
  EXPECT_EQ(decode_documents("\xEF\xBB\xBF{\"kind\":\"A\"}").size(), 1u);  // BOM
}

TEST(Decode, ErrorsNameLineAndDocument) {
  EXPECT_EQ(decode_error("a: 1\n---\nb: c: d\n"),
            "error converting YAML to JSON: yaml: line 3: illegal map value (document 2)");
  EXPECT_EQ(decode_error("a:\n\tb: 1\n"), "error converting YAML to JSON: yaml: line 2: illegal map value (document 1)");
  EXPECT_EQ(decode_error("a: 1\n--- foo: bar\n"), "invalid Yaml document separator: foo: bar");
  EXPECT_EQ(decode_error("- a\n- b\n"),
            "error unmarshaling JSON: json: cannot unmarshal array into Go value of type map[string]interface {} "
            "(document 1)");
  EXPECT_EQ(decode_error("a: .nan\n"), "error converting YAML to JSON: yaml: line 1: json: unsupported value: NaN (document 1)");
  EXPECT_EQ(decode_error("x: 1\n---\na: !!int abc\n"),
            "error converting YAML to JSON: yaml: line 3: cannot decode !!str `abc` as a !!int (document 2)");
  EXPECT_EQ(decode_error("~: 1\n"), "error converting YAML to JSON: yaml: line 1: unsupported map key of type: <nil> (document 1)");
  EXPECT_EQ(decode_error("a:\n  <<: 3\n"),
            "error converting YAML to JSON: yaml: line 2: map merge requires map or sequence of maps as the value "
            "(document 1)");
  std::string json_err = decode_error("{\"a\": 1}\n{\"b\":\n  x}");
  EXPECT_EQ(json_err.find("error parsing JSON: line 3: "), 0u) << json_err;
  EXPECT_NE(json_err.find("(document 2)"), std::string::npos);
  EXPECT_EQ(decode_error("{\"a\": 1} [1]"),
            "error unmarshaling JSON: json: cannot unmarshal array into Go value of type map[string]interface {} "
            "(document 2)");
}

TEST(Decode, LimitsAliasExpansionAndDepth) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  }
  EXPECT_NE(decode_error(bomb).find("document contains excessive aliasing"), std::string::npos);
  std::string deep = "a: " + std::string(300, '[') + std::string(300, ']') + "\n";
  EXPECT_NE(decode_error(deep).find("exceeded max depth of 256"), std::string::npos);
  std::string deep_json = "{\"a\":" + std::string(300, '[') + std::string(300, ']') + "}";
  EXPECT_NE(decode_error(deep_json).find("exceeded max depth of 256"), std::string::npos);
}

TEST(Decode, SingleDocument) {
  EXPECT_TRUE(decode_yaml("").is_null());
  EXPECT_EQ(decode_yaml("[1, two]"), json::parse(R"([1,"two"])"));
  EXPECT_EQ(decode_yaml("---\n5\n").get<int>(), 5);
  EXPECT_THROW(decode_yaml("--- 5\n"), StatusError);  // kubectl allows only a comment after "---"
  EXPECT_THROW(decode_yaml("a: 1\n---\nb: 2\n"), StatusError);
}

TEST(Encode, KubectlStyleObject) {
  auto pod = json::parse(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"web","labels":{"app":"web"},"annotations":{"note":"true"}},
    "spec":{"containers":[{"name":"web","image":"nginx","args":["--port=80",""],
      "env":[{"name":"A","value":"123"}],"ports":[{"containerPort":80,"protocol":"TCP"}],
      "resources":{"limits":{"cpu":0.5,"memory":"64Mi"}}}],
      "nodeSelector":{},"tolerations":[],"matrix":[[1,2],[]],"priority":null,"hostNetwork":false}})");
  EXPECT_EQ(encode_yaml(pod),
            "apiVersion: v1\n"
            "kind: Pod\n"
            "metadata:\n"
            "  annotations:\n"
            "    note: \"true\"\n"
            "  labels:\n"
            "    app: web\n"
            "  name: web\n"
            "spec:\n"
            "  containers:\n"
            "  - args:\n"
            "    - --port=80\n"
            "    - \"\"\n"
            "    env:\n"
            "    - name: A\n"
            "      value: \"123\"\n"
            "    image: nginx\n"
            "    name: web\n"
            "    ports:\n"
            "    - containerPort: 80\n"
            "      protocol: TCP\n"
            "    resources:\n"
            "      limits:\n"
            "        cpu: 0.5\n"
            "        memory: 64Mi\n"
            "  hostNetwork: false\n"
            "  matrix:\n"
            "  - - 1\n"
            "    - 2\n"
            "  - []\n"
            "  nodeSelector: {}\n"
            "  priority: null\n"
            "  tolerations: []\n");
}

TEST(Encode, QuotesOnlyWhenNeeded) {
  auto q = [](const std::string& s) { return encode_yaml(json{{"k", s}}); };
  EXPECT_EQ(q("plain text"), "k: plain text\n");
  EXPECT_EQ(q("it's"), "k: it's\n");
  EXPECT_EQ(q("héllo"), "k: héllo\n");
  EXPECT_EQ(q("a-b:c"), "k: a-b:c\n");
  EXPECT_EQ(q("--port=80"), "k: --port=80\n");
  // Would read back as another type: double quotes.
  for (const char* s : {"true", "yes", "y", "Off", "null", "~", "", "123", "1.5", "0x1F", "1e3", "+1", ".inf", "12:30",
                        "2024-01-01T00:00:00Z", "2001-12-14"}) {
    EXPECT_EQ(q(s), "k: \"" + std::string(s) + "\"\n") << s;
  }
  // Indicators and edge spaces: single quotes.
  EXPECT_EQ(q("*"), "k: '*'\n");
  EXPECT_EQ(q("&a"), "k: '&a'\n");
  EXPECT_EQ(q("- x"), "k: '- x'\n");
  EXPECT_EQ(q("a: b"), "k: 'a: b'\n");
  EXPECT_EQ(q("a #b"), "k: 'a #b'\n");
  EXPECT_EQ(q("#x"), "k: '#x'\n");
  EXPECT_EQ(q(" lead"), "k: ' lead'\n");
  EXPECT_EQ(q("trail "), "k: 'trail '\n");
  EXPECT_EQ(q("'q'"), "k: '''q'''\n");
  EXPECT_EQ(q("{a}"), "k: '{a}'\n");
  // Characters YAML cannot hold plainly: double quotes with escapes.
  EXPECT_EQ(q("a\tb"), "k: \"a\\tb\"\n");
  EXPECT_EQ(q("\xF0\x9F\x98\x80 ok"), "k: \"\\U0001F600 ok\"\n");
  EXPECT_EQ(q("bell\x07"), "k: \"bell\\a\"\n");
  EXPECT_EQ(encode_yaml(json{{"n", 1}, {"true", 2}}), "\"n\": 1\n\"true\": 2\n");
}

TEST(Encode, MultiLineStringsAsBlocks) {
  auto q = [](const std::string& s) { return encode_yaml(json{{"k", s}}); };
  EXPECT_EQ(q("echo hi\nexit 0\n"), "k: |\n  echo hi\n  exit 0\n");
  EXPECT_EQ(q("a\nb"), "k: |-\n  a\n  b\n");
  EXPECT_EQ(q("a\n\n"), "k: |+\n  a\n\n");
  EXPECT_EQ(q("a\n\nb\n"), "k: |\n  a\n\n  b\n");
  EXPECT_EQ(q("  indented\n"), "k: |2\n    indented\n");
  // Trailing spaces on a line or tabs rule the block form out.
  EXPECT_EQ(q("a \nb"), "k: \"a \\nb\"\n");
  EXPECT_EQ(q("a\tb\nc"), "k: \"a\\tb\\nc\"\n");
  EXPECT_EQ(encode_yaml(json{{"x", json::array({"l1\nl2\n"})}}), "x:\n- |\n  l1\n  l2\n");
  EXPECT_EQ(encode_yaml(json{{"m", {{"s", "a\nb\n"}}}, {"z", 1}}), "m:\n  s: |\n    a\n    b\nz: 1\n");
}

TEST(Encode, FoldsLongLinesAt80Columns) {
  std::string lorem =
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore "
      "magna aliqua.";
  EXPECT_EQ(encode_yaml(json{{"message", lorem}}),
            "message: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\n"
            "  incididunt ut labore et dolore magna aliqua.\n");
  EXPECT_EQ(encode_yaml(json{{"m", "* " + lorem}}),
            "m: '* Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\n"
            "  incididunt ut labore et dolore magna aliqua.'\n");
  std::string no_spaces(200, 'x');
  EXPECT_EQ(encode_yaml(json{{"m", no_spaces}}), "m: " + no_spaces + "\n");
}

TEST(Encode, ScalarsAndEdgeCases) {
  EXPECT_EQ(encode_yaml(json::object()), "{}\n");
  EXPECT_EQ(encode_yaml(json::array()), "[]\n");
  EXPECT_EQ(encode_yaml(json::array({1, "a"})), "- 1\n- a\n");
  EXPECT_EQ(encode_yaml(json{{"f", 1.0}, {"g", 1e20}, {"h", 1.5e-7}, {"i", -3}, {"u", 18446744073709551615ull}}),
            "f: 1\ng: 1e+20\nh: 1.5e-07\ni: -3\nu: 18446744073709551615\n");
  std::string long_key(130, 'k');
  EXPECT_EQ(encode_yaml(json{{long_key, "v"}}), "? " + long_key + "\n: v\n");
  EXPECT_EQ(encode_yaml(json{{"a\nb", 1}}), "? |-\n  a\n  b\n: 1\n");
  EXPECT_EQ(encode_yaml(json{{"", 1}}), "\"\": 1\n");
}

TEST(Encode, RoundTripsThroughDecode) {
  auto obj = json::parse(R"({"a":"true","b":"","c":"x\ny","d":[{"e":"*","f":["1",2,3.5]}],"g":{"h":null},
      "i":"  spaced  ","j":"tab\there","k":"12:30","l":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore","m":"ends with newlines\n\n\n","n":"'quoted' and \"double\""})");
  EXPECT_EQ(decode_yaml(encode_yaml(obj)), obj);
}

TEST(FlattenLists, ExpandsListsRecursively) {
  auto objs = flatten_lists({json::parse(R"({"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},
      {"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"b"}}]},
      {"apiVersion":"v1","kind":"List","items":null}]})"),
                             json::parse(R"({"apiVersion":"v1","kind":"Service"})")});
  ASSERT_EQ(objs.size(), 3u);
  EXPECT_EQ(objs[0]["metadata"]["name"], json("a"));
  EXPECT_EQ(objs[1], json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"}})"));
  EXPECT_EQ(objs[2]["kind"], json("Service"));
  // A kind that merely ends in "List" without items is an object.
  EXPECT_EQ(flatten_lists({json::parse(R"({"kind":"AllowList","spec":{}})")}).size(), 1u);
  EXPECT_THROW(flatten_lists({json::parse(R"({"kind":"List","items":[3]})")}), StatusError);
}

TEST(GoFormatFloat, MatchesStrconv) {
  EXPECT_EQ(go_format_float(0.5), "0.5");
  EXPECT_EQ(go_format_float(1.0), "1");
  EXPECT_EQ(go_format_float(100.0), "100");
  EXPECT_EQ(go_format_float(123456.0), "123456");
  EXPECT_EQ(go_format_float(1e6), "1e+06");
  EXPECT_EQ(go_format_float(1234567.0), "1.234567e+06");
  EXPECT_EQ(go_format_float(0.0001), "0.0001");
  EXPECT_EQ(go_format_float(0.00001), "1e-05");
  EXPECT_EQ(go_format_float(1e100), "1e+100");
  EXPECT_EQ(go_format_float(-2.5), "-2.5");
  EXPECT_EQ(go_format_float(0.0), "0");
  EXPECT_EQ(go_format_float(0.1, 32), "0.1");
  EXPECT_EQ(go_format_float(3.141592653589793, 32), "3.1415927");
  EXPECT_EQ(go_format_float(INFINITY), "+Inf");
  EXPECT_EQ(go_format_float(NAN), "NaN");
}

}  // namespace
}  // namespace kctl::api
