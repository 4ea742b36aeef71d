// The Kubernetes protobuf codec: hand-built bodies, round trips through small schemas, hostile input, and the exact
// bodies kubectl 1.33 POSTs (decoded to what `--dry-run=client -o json` prints, and re-encoded byte for byte).
#include "api/protobuf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "api/go_json.h"
#include "api/schema.h"
#include "api/status.h"

namespace {

using kctl::api::decode_kubernetes_protobuf;
using kctl::api::encode_kubernetes_protobuf;
using kctl::api::Schema;
using kctl::api::StatusError;
using kctl::api::TypeDef;
using json = nlohmann::json;

// ---- Building protobuf by hand ----

std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}
std::string tag(int field, int wire) { return varint(static_cast<uint64_t>(field) << 3 | wire); }
std::string num(int field, uint64_t v) { return tag(field, 0) + varint(v); }
std::string len(int field, std::string_view b) { return tag(field, 2) + varint(b.size()) + std::string(b); }
std::string fixed64(int field, uint64_t v) {
  std::string out = tag(field, 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
std::string fixed32(int field, uint32_t v) {
  std::string out = tag(field, 5);
  for (int i = 0; i < 4; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
std::string envelope(std::string_view api_version, std::string_view kind, std::string_view raw) {
  return std::string("k8s\0", 4) + len(1, len(1, api_version) + len(2, kind)) + len(2, raw) + len(3, "") + len(4, "");
}
std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

int status_code_of(const std::string& body, const Schema& schema) {
  try {
    decode_kubernetes_protobuf(body, schema);
  } catch (const StatusError& e) {
    return e.status().code;
  }
  return 0;
}

// ---- Small schemas with the real type names, so that the Go pointer facts apply ----

const char* kMetaSchema = R"(type ObjectMeta
  name string proto=1
  generateName string proto=2
  namespace string proto=3
  selfLink string proto=4
  uid string proto=5
  resourceVersion string proto=6
  generation int64 proto=7
  creationTimestamp time proto=8
  deletionTimestamp time proto=9
  labels map[string] proto=11
  annotations map[string] proto=12
  finalizers []string proto=14
)";

// What Go writes for an ObjectMeta (of kMetaSchema) with only a name: every non-pointer field.
std::string object_meta(std::string_view name) {
  return len(1, name) + len(2, "") + len(3, "") + len(4, "") + len(5, "") + len(6, "") + num(7, 0) + len(8, "");
}

std::unique_ptr<Schema> small_schema(const std::string& text) {
  return Schema::parse({{"meta.schema", kMetaSchema}, {"t.schema", text}});
}

const char* kConfigMapSchema = R"(type ConfigMap
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  immutable boolean proto=4
  data map[string] proto=2
  binaryData map[bytes] proto=3
)";

TEST(Protobuf, DecodesHandBuiltConfigMap) {
  auto schema = small_schema(kConfigMapSchema);
  std::string meta = len(1, "cm") + len(2, "") + len(3, "default") + num(7, 0) + len(8, "") +
                     len(11, len(1, "app") + len(2, "web")) + tag(15, 0) + varint(7);  // 15: unknown to the schema
  std::string raw = len(1, meta) + len(2, len(1, "b") + len(2, "2")) + len(2, len(1, "a") + len(2, "1")) +
                    len(3, len(1, "bin") + len(2, std::string("\x00\xff", 2))) + num(4, 0);
  const TypeDef* type = nullptr;
  json got = decode_kubernetes_protobuf(envelope("v1", "ConfigMap", raw), *schema, &type);
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->name, "ConfigMap");
  // Non-pointer zero values (generateName, generation) are dropped as Go's omitempty does; immutable is a *bool,
  // so its explicit false stays; an empty creationTimestamp is null.
  EXPECT_EQ(got, json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"cm","namespace":"default","creationTimestamp":null,"labels":{"app":"web"}},
      "data":{"a":"1","b":"2"},"binaryData":{"bin":"AP8="},"immutable":false})"));
}

TEST(Protobuf, SkipsUnknownFieldsOfEveryWireType) {
  auto schema = small_schema(kConfigMapSchema);
  std::string raw = num(90, 1ull << 63) + fixed64(91, 42) + len(92, "ignored") + fixed32(93, 7) +
                    len(2, len(1, "k") + len(2, "v") + fixed32(9, 1)) + len(1, len(1, "x") + fixed64(40, 1));
  EXPECT_EQ(decode_kubernetes_protobuf(envelope("v1", "ConfigMap", raw), *schema),
            json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"k":"v"}})"));
}

const char* kDeploymentSchema = R"(type Deployment
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  spec DeploymentSpec proto=2
  status DeploymentStatus proto=3
type DeploymentSpec
  replicas int32 proto=1
  selector LabelSelector proto=2
  template PodTemplateSpec proto=3
  strategy DeploymentStrategy proto=4
  minReadySeconds int32 proto=5
  paused boolean proto=7
type DeploymentStrategy
  type string proto=1
  rollingUpdate RollingUpdateDeployment proto=2
type RollingUpdateDeployment
  maxUnavailable int-or-string proto=1
  maxSurge int-or-string proto=2
type DeploymentStatus
  observedGeneration int64 proto=1
  replicas int32 proto=2
type LabelSelector
  matchLabels map[string] proto=1
type PodTemplateSpec
  metadata ObjectMeta proto=1
  spec PodSpec proto=2
type PodSpec
  containers []Container required proto=2
  restartPolicy string proto=3
  terminationGracePeriodSeconds int64 proto=4
  securityContext PodSecurityContext proto=14
type PodSecurityContext
  runAsUser int64 proto=2
  supplementalGroups []int64 proto=4
type Container
  name string required proto=1
  image string proto=2
  args []string proto=4
  ports []ContainerPort proto=6
  resources ResourceRequirements proto=8
type ContainerPort
  name string proto=1
  hostPort int32 proto=2
  containerPort int32 required proto=3
type ResourceRequirements
  limits map[quantity] proto=1
  requests map[quantity] proto=2
)";

TEST(Protobuf, RoundTripsADeploymentWithAPodTemplate) {
  auto schema = small_schema(kDeploymentSchema);
  json deployment = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"prod","labels":{"app":"web","tier":"front"},"finalizers":["a","b"],
                "creationTimestamp":"2026-11-27T21:37:10Z","generation":3},
    "spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},"minReadySeconds":5,
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":1}},
      "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},
        "spec":{"restartPolicy":"Always","terminationGracePeriodSeconds":0,"securityContext":{"runAsUser":-1,
                "supplementalGroups":[1,-2,3000000000]},
          "containers":[{"name":"nginx","image":"nginx:1.27","args":["-g","daemon off;"],
            "ports":[{"containerPort":80},{"name":"metrics","containerPort":9090,"hostPort":9090}],
            "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"250m"}}}]}}},
    "status":{}})");
  std::string body = encode_kubernetes_protobuf(deployment, *schema);
  EXPECT_EQ(body.substr(0, 4), std::string("k8s\0", 4));
  EXPECT_EQ(decode_kubernetes_protobuf(body, *schema), deployment);
}

TEST(Protobuf, EncodesLikeGo) {
  auto schema = small_schema(kDeploymentSchema);
  // Absent non-pointer fields are written as zero values, absent pointers (replicas, selector) not at all;
  // negative int32s are sign-extended to ten bytes.
  json d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
                           "spec":{"minReadySeconds":-1}})");
  std::string meta = object_meta("d");
  std::string tmpl = len(1, object_meta("")) + len(2, len(3, ""));  // PodSpec: restartPolicy "" and no pointers
  std::string spec = len(3, tmpl) + len(4, len(1, "")) + num(5, ~uint64_t{0}) + num(7, 0);
  std::string raw = len(1, meta) + len(2, spec) + len(3, num(1, 0) + num(2, 0));
  EXPECT_EQ(encode_kubernetes_protobuf(d, *schema), envelope("apps/v1", "Deployment", raw));
}

TEST(Protobuf, DecodesNegativeInt32AndPackedScalars) {
  auto schema = small_schema(kDeploymentSchema);
  std::string packed = varint(1) + varint(static_cast<uint64_t>(-2)) + varint(3);
  std::string pod = len(2, len(1, "c")) +  // securityContext: runAsUser, then packed groups and one unpacked more
                    len(14, num(2, static_cast<uint64_t>(-7)) + len(4, packed) + num(4, 9));
  std::string raw = len(2, num(1, static_cast<uint64_t>(int64_t{-5})) + len(3, len(2, pod)));
  json got = decode_kubernetes_protobuf(envelope("apps/v1", "Deployment", raw), *schema);
  EXPECT_EQ(got["spec"]["replicas"], -5);
  EXPECT_EQ(got["spec"]["template"]["spec"]["securityContext"],
            json::parse(R"({"runAsUser":-7,"supplementalGroups":[1,-2,3,9]})"));
  EXPECT_EQ(got["spec"]["template"]["spec"]["containers"], json::parse(R"([{"name":"c"}])"));
}

const char* kServiceSchema = R"(type Service
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  spec ServiceSpec proto=2
type ServiceSpec
  ports []ServicePort proto=1
  selector map[string] proto=2
  type string proto=4
type ServicePort
  name string proto=1
  protocol string proto=2
  port int32 required proto=3
  targetPort int-or-string proto=4
  nodePort int32 proto=5
)";

TEST(Protobuf, RoundTripsAServiceWithIntOrStringTargetPorts) {
  auto schema = small_schema(kServiceSchema);
  json svc = json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s","creationTimestamp":null},
    "spec":{"type":"NodePort","selector":{"app":"s"},"ports":[
      {"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080},
      {"name":"named","protocol":"TCP","port":443,"targetPort":"https"},
      {"name":"zero","protocol":"UDP","port":53,"targetPort":0}]}})");
  json back = decode_kubernetes_protobuf(encode_kubernetes_protobuf(svc, *schema), *schema);
  EXPECT_EQ(back, svc);
  EXPECT_TRUE(back["spec"]["ports"][1]["targetPort"].is_string());
  // targetPort is a non-pointer IntOrString: Go writes (and prints) it even when it was never set.
  json unset = svc;
  unset["spec"]["ports"][0].erase("targetPort");
  EXPECT_EQ(
      decode_kubernetes_protobuf(encode_kubernetes_protobuf(unset, *schema), *schema)["spec"]["ports"][0]["targetPort"],
      0);
}

const char* kSecretSchema = R"(type Secret
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  immutable boolean proto=5
  data map[bytes] proto=2
  stringData map[string] proto=4
  type string proto=3
)";

TEST(Protobuf, RoundTripsASecretWithBytes) {
  auto schema = small_schema(kSecretSchema);
  json secret = json::parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","creationTimestamp":null},
    "type":"Opaque","data":{"bin":"AAEC/w==","empty":"","text":"aGVsbG8gd29ybGQ="}})");
  std::string body = encode_kubernetes_protobuf(secret, *schema);
  EXPECT_NE(body.find("hello world"), std::string::npos);  // the bytes go raw on the wire, not in base64
  EXPECT_EQ(decode_kubernetes_protobuf(body, *schema), secret);
  json bad = secret;
  bad["data"]["bin"] = "not base64!";
  EXPECT_THROW(encode_kubernetes_protobuf(bad, *schema), StatusError);
}

const char* kPodSchema = R"(type Pod
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  spec PodSpec proto=2
type PodSpec
  volumes []Volume proto=1
  containers []Container required proto=2
type Container
  name string required proto=1
  image string proto=2
type Volume
  name string required proto=1
  hostPath HostPathVolumeSource proto=1 protoEmbed=2
  emptyDir EmptyDirVolumeSource proto=2 protoEmbed=2
  configMap ConfigMapVolumeSource proto=19 protoEmbed=2
type HostPathVolumeSource
  path string required proto=1
  type string proto=2
type EmptyDirVolumeSource
  medium string proto=1
  sizeLimit quantity proto=2
type ConfigMapVolumeSource
  name string proto=1 protoEmbed=1
  defaultMode int32 proto=3
  optional boolean proto=4
)";

TEST(Protobuf, DecodesEmbeddedVolumeSources) {
  auto schema = small_schema(kPodSchema);
  // Volume{name=1, volumeSource=2{hostPath=1{path, type}}}, Volume{name,
  // volumeSource{configMap=19{localObjectReference=1{name}, optional}}}
  std::string v1 = len(1, "host") + len(2, len(1, len(1, "/data") + len(2, "")));
  std::string v2 = len(1, "cfg") + len(2, len(19, len(1, len(1, "settings")) + num(4, 0)));
  std::string v3 = len(1, "scratch") + len(2, len(2, len(1, "Memory") + len(2, len(1, "64Mi"))));
  std::string raw = len(2, len(1, v1) + len(1, v2) + len(1, v3) + len(2, len(1, "c") + len(2, "busybox")));
  json got = decode_kubernetes_protobuf(envelope("v1", "Pod", raw), *schema);
  // HostPathVolumeSource.type is a *HostPathType: set to "" on the wire, it stays.
  EXPECT_EQ(got["spec"]["volumes"], json::parse(R"([{"name":"host","hostPath":{"path":"/data","type":""}},
      {"name":"cfg","configMap":{"name":"settings","optional":false}},
      {"name":"scratch","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}}])"));
  // metadata is a non-pointer struct: absent from this body, Go still writes it (and prints its null
  // creationTimestamp).
  json want = got;
  want["metadata"] = json::parse(R"({"creationTimestamp":null})");
  EXPECT_EQ(decode_kubernetes_protobuf(encode_kubernetes_protobuf(got, *schema), *schema), want);
  // Go writes the embedded VolumeSource even when it is empty, and the pointers in it only when set.
  json bare = json::parse(R"({"apiVersion":"v1","kind":"Pod","spec":{"volumes":[{"name":"v"}]}})");
  std::string want_raw = len(1, object_meta("")) + len(2, len(1, len(1, "v") + len(2, "")));
  EXPECT_EQ(encode_kubernetes_protobuf(bare, *schema), envelope("v1", "Pod", want_raw));
}

TEST(Protobuf, FollowsNestedEmbedPaths) {
  auto schema = Schema::parse({{"t.schema", R"(type Outer
  top string proto=1
  deep string proto=1 protoEmbed=3.4
  mid string proto=2 protoEmbed=3
)"}});
  ASSERT_EQ(schema->type("Outer")->field("deep")->proto_embed, (std::vector<int>{3, 4}));
  std::string raw = len(1, "t") + len(3, len(2, "m") + len(4, len(1, "d")));
  json got = decode_kubernetes_protobuf(envelope("x/v1", "Outer", raw), *schema);
  EXPECT_EQ(got, json::parse(R"({"apiVersion":"x/v1","kind":"Outer","top":"t","mid":"m","deep":"d"})"));
  EXPECT_EQ(encode_kubernetes_protobuf(got, *schema), envelope("x/v1", "Outer", raw));
}

TEST(Protobuf, RejectsBadProtoEmbedAttributes) {
  EXPECT_THROW(Schema::parse({{"t.schema", "type A\n  x string proto=1 protoEmbed=2.\n"}}), std::runtime_error);
  EXPECT_THROW(Schema::parse({{"t.schema", "type A\n  x string proto=1 protoEmbed=\n"}}), std::runtime_error);
  EXPECT_THROW(Schema::parse({{"t.schema", "type A\n  x string proto=1 protoEmbed=0\n"}}), std::runtime_error);
  EXPECT_THROW(Schema::parse({{"t.schema", "type A\n  x string proto=1 protoEmbed=a.1\n"}}), std::runtime_error);
}

const char* kScalarSchema = R"(type Lease
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  spec LeaseSpec proto=2
type LeaseSpec
  holderIdentity string proto=1
  renewTime time proto=4
type Sample
  apiVersion string
  kind string
  when time proto=1
  ratio number proto=2
  raw object proto=3
  items []number proto=4
  flag boolean required proto=5
  size quantity proto=6
  groups map[[]string] proto=7
)";

TEST(Protobuf, DecodesTimesQuantitiesAndRawJson) {
  auto schema = small_schema(kScalarSchema);
  std::string meta = len(8, num(1, 1795815430) + num(2, 123456789));  // 2026-11-27T21:37:10.123456789Z
  std::string lease = len(1, meta) + len(2, len(1, "me") + len(4, num(1, 1795815430) + num(2, 5000)));
  json got = decode_kubernetes_protobuf(envelope("coordination.k8s.io/v1", "Lease", lease), *schema);
  EXPECT_EQ(got["metadata"]["creationTimestamp"], "2026-11-27T21:37:10Z");  // metav1.Time: whole seconds
  EXPECT_EQ(got["spec"]["renewTime"], "2026-11-27T21:37:10.000005Z");       // metav1.MicroTime: microseconds
  // Re-encoded, the Time loses its nanoseconds as in Go (only MicroTime keeps them on the wire).
  std::string again = encode_kubernetes_protobuf(got, *schema);
  EXPECT_NE(again.find(len(8, num(1, 1795815430) + num(2, 0))), std::string::npos);
  EXPECT_NE(again.find(len(4, num(1, 1795815430) + num(2, 5000))), std::string::npos);
  EXPECT_EQ(decode_kubernetes_protobuf(again, *schema), got);

  double half = 0.5;
  uint64_t bits;
  std::memcpy(&bits, &half, sizeof bits);
  std::string one_double = fixed64(1, bits).substr(1);  // the 8 bytes without their tag
  std::string packed_doubles = one_double + one_double;
  std::string raw = len(1, num(1, 0)) + fixed64(2, bits) + len(3, len(1, R"({"a":[1,2]})")) + len(4, packed_doubles) +
                    num(5, 0) + len(6, len(1, "1000m")) + len(7, len(1, "g") + len(2, len(1, "x") + len(1, "y")));
  got = decode_kubernetes_protobuf(envelope("x/v1", "Sample", raw), *schema);
  EXPECT_EQ(got, json::parse(R"({"apiVersion":"x/v1","kind":"Sample","when":"1970-01-01T00:00:00Z","ratio":0.5,
      "raw":{"a":[1,2]},"items":[0.5,0.5],"flag":false,"size":"1","groups":{"g":["x","y"]}})"));
  EXPECT_EQ(decode_kubernetes_protobuf(encode_kubernetes_protobuf(got, *schema), *schema), got);

  got = decode_kubernetes_protobuf(envelope("x/v1", "Sample", len(3, len(1, "not json"))), *schema);
  EXPECT_EQ(got["raw"], "not json");
  got = decode_kubernetes_protobuf(envelope("x/v1", "Sample", len(3, "")), *schema);
  EXPECT_TRUE(got["raw"].is_null());
}

TEST(Protobuf, RejectsMalformedBodies) {
  auto schema = small_schema(kConfigMapSchema);
  std::string good = envelope("v1", "ConfigMap", len(1, len(1, "x")));
  ASSERT_EQ(status_code_of(good, *schema), 0);
  EXPECT_EQ(status_code_of("", *schema), 400);
  EXPECT_EQ(status_code_of("{\"kind\":\"ConfigMap\"}", *schema), 400);
  EXPECT_EQ(status_code_of(good.substr(0, good.size() - 3), *schema), 400);                     // truncated
  EXPECT_EQ(status_code_of(envelope("v1", "Nope", ""), *schema), 400);                          // unknown kind
  EXPECT_EQ(status_code_of(envelope("v1", "", ""), *schema), 400);                              // no kind
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", num(1, 5)), *schema), 400);              // wire type
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", len(1, num(1, 5))), *schema), 400);      // string as varint
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", len(4, "")), *schema), 400);             // bool as bytes
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", tag(9, 3)), *schema), 400);              // group
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", tag(0, 0) + varint(1)), *schema), 400);  // field 0
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", tag(9, 0) + std::string(11, '\xff')), *schema), 400);
  EXPECT_EQ(status_code_of(envelope("v1", "ConfigMap", tag(9, 2) + varint(1ull << 62)), *schema), 400);
  EXPECT_EQ(status_code_of(std::string("k8s\0", 4) + len(1, len(2, "ConfigMap")) + len(3, "gzip"), *schema), 400);
}

TEST(Protobuf, LimitsNestingDepth) {
  auto schema = Schema::parse({{"t.schema", "type Node\n  child Node proto=1\n  name string proto=2\n"}});
  std::string deep = len(2, "leaf");
  for (int i = 0; i < 30; ++i) deep = len(1, deep);
  EXPECT_EQ(status_code_of(envelope("v1", "Node", deep), *schema), 0);
  for (int i = 0; i < 100; ++i) deep = len(1, deep);
  EXPECT_EQ(status_code_of(envelope("v1", "Node", deep), *schema), 400);
}

TEST(Protobuf, ReplacesInvalidUtf8AsGoDoes) {
  auto schema = small_schema(kConfigMapSchema);
  json got =
      decode_kubernetes_protobuf(envelope("v1", "ConfigMap", len(2, len(1, "k\xff") + len(2, "a\xc3"))), *schema);
  EXPECT_EQ(got["data"], json::parse("{\"k\xEF\xBF\xBD\":\"a\xEF\xBF\xBD\"}"));
  EXPECT_NO_THROW(got.dump());
  // One U+FFFD per bad byte (surrogates and overlong forms are bad too); valid four-byte characters stay.
  std::string names = len(1, "\xF0\x9F\x98\x80|\xED\xA0\x80|\xC0\xAF");
  got = decode_kubernetes_protobuf(envelope("v1", "ConfigMap", len(1, names)), *schema);
  EXPECT_EQ(got["metadata"]["name"], "\xF0\x9F\x98\x80|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD");
}

const char* kCsrSchema = R"(type CertificateSigningRequest
  apiVersion string
  kind string
  metadata ObjectMeta proto=1
  spec CertificateSigningRequestSpec proto=2
  status CertificateSigningRequestStatus proto=3
type CertificateSigningRequestSpec
  request bytes required proto=1
  signerName string required proto=7
  usages []string proto=5
  username string proto=2
  uid string proto=3
  groups []string proto=4
  extra map[[]string] proto=6
type CertificateSigningRequestStatus
  conditions []CertificateSigningRequestCondition proto=1
  certificate bytes proto=2
type CertificateSigningRequestCondition
  type string required proto=1
  status string required proto=6
  reason string proto=2
  message string proto=3
  lastUpdateTime time proto=4
  lastTransitionTime time proto=5
)";

// `kubectl certificate approve c` PUTs the CSR it read with a new condition: set times carry seconds and nanos,
// unset ones are empty messages. (expirationSeconds, a nil *int32, is left out of the schema: these types have no
// Go facts, so every field counts as a non-pointer.)
TEST(Protobuf, RoundTripsTheTimesOfKubectlCertificateApprove) {
  auto schema = small_schema(kCsrSchema);
  std::string body = unhex(
      "6b3873000a330a166365727469666963617465732e6b38732e696f2f7631121943657274696669636174655369676e696e67526571756573"
      "7412c2010a1a0a016312001a0022002a003201313800420808d0dea7d8061000123d0a0568656c6c6f12001a002a0b636c69656e742061"
      "7574683a236b756265726e657465732e696f2f6b7562652d6170697365727665722d636c69656e741a650a630a08417070726f76656412"
      "0e4b75626563746c417070726f76651a3554686973204353522077617320617070726f766564206279206b75626563746c20636572746966"
      "696361746520617070726f76652e220808c1ada8d80610002a003204547275651a002200");
  json got = decode_kubernetes_protobuf(body, *schema);
  EXPECT_EQ(got, json::parse(R"({"apiVersion":"certificates.k8s.io/v1","kind":"CertificateSigningRequest",
      "metadata":{"name":"c","resourceVersion":"1","creationTimestamp":"2026-11-27T21:00:00Z"},
      "spec":{"request":"aGVsbG8=","signerName":"kubernetes.io/kube-apiserver-client","usages":["client auth"]},
      "status":{"conditions":[{"type":"Approved","status":"True","reason":"KubectlApprove",
        "message":"This CSR was approved by kubectl certificate approve.",
        "lastUpdateTime":"2026-11-27T23:48:17Z","lastTransitionTime":null}]}})"));
  EXPECT_EQ(encode_kubernetes_protobuf(got, *schema), body);
}

TEST(ProtobufGoJson, FormatsAndParsesTimesAsGo) {
  using kctl::api::format_rfc3339;
  using kctl::api::parse_rfc3339;
  EXPECT_EQ(format_rfc3339(0, 0, false), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(951782400, 0, false), "2000-02-29T00:00:00Z");
  EXPECT_EQ(format_rfc3339(-1, 999999, true), "1969-12-31T23:59:59.000999Z");
  EXPECT_EQ(format_rfc3339(0, -1, true), "1969-12-31T23:59:59.999999Z");  // time.Unix carries negative nanos
  EXPECT_EQ(format_rfc3339(-62167219200, 0, false), "0000-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(253402300799, 0, false), "9999-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(253402300800, 0, false), std::nullopt);
  EXPECT_EQ(format_rfc3339(std::numeric_limits<int64_t>::min(), -5, false), std::nullopt);

  auto t = parse_rfc3339("2026-11-27T23:37:10.5+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->seconds, 1795815430);
  EXPECT_EQ(t->nanos, 500000000);
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
  for (const char* bad : {"2023-02-29T00:00:00Z", "2026-11-27 21:37:10Z", "2026-11-27T21:37:10", "2026-11-27T24:00:00Z",
                          "2026-11-27T21:37:10.Z", "2026-11-27T21:37:10+0200", "26-11-27T21:37:10Z", ""})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

TEST(ProtobufGoJson, DecodesBase64Strictly) {
  using kctl::api::base64_decode;
  using kctl::api::base64_encode;
  for (std::string data : std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(data)), data);
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  for (const char* bad : {"Zm8", "Zm=8", "Z===", "Zm8=Zm8=", "Zm 8", "Zm8_"}) EXPECT_FALSE(base64_decode(bad)) << bad;
}

// ---- What kubectl 1.33 sends (captured from a recording server; see the commands) ----

struct Capture {
  const char* command;
  const char* hex;
  const char* dry_run_json;  // `COMMAND --dry-run=client -o json`: Go's JSON of the same object
};

const Capture kCaptures[] = {
    {"kubectl create configmap x --from-literal=a=1",
     "6b3873000a0f0a0276311209436f6e6669674d6170121b0a110a017812001a0022002a0032003800420012060a01611201311a002200",
     R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","creationTimestamp":null},"data":{"a":"1"}})"},
    {"kubectl create deployment d --image=nginx --replicas=2",
     "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412a3010a1b0a016412001a0022002a003200380042005a080a03617070"
     "12016412760802120a0a080a036170701201641a5e0a1a0a0012001a0022002a003200380042005a080a036170701201641240122"
     "20a056e67696e7812056e67696e782a0042006a007200800100880100900100a201001a00320042004a00520058006000680082010"
     "08a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
     R"({"kind":"Deployment","apiVersion":"apps/v1",
        "metadata":{"name":"d","creationTimestamp":null,"labels":{"app":"d"}},
        "spec":{"replicas":2,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"creationTimestamp":null,
        "labels":{"app":"d"}},"spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},
        "status":{}})"},
    {"kubectl create deployment d0 --image=nginx --replicas=0",
     "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412a7010a1d0a02643012001a0022002a003200380042005a090a0361"
     "70701202643012780800120b0a090a03617070120264301a5f0a1b0a0012001a0022002a003200380042005a090a03617070120264"
     "30124012220a056e67696e7812056e67696e782a0042006a007200800100880100900100a201001a00320042004a00520058006000"
     "68008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
     R"({"kind":"Deployment","apiVersion":"apps/v1",
        "metadata":{"name":"d0","creationTimestamp":null,"labels":{"app":"d0"}},
        "spec":{"replicas":0,"selector":{"matchLabels":{"app":"d0"}},"template":{"metadata":{"creationTimestamp":null,
        "labels":{"app":"d0"}},"spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},
        "status":{}})"},
    {"kubectl create secret generic s --from-literal=k=v",
     "6b3873000a0c0a0276311206536563726574121d0a110a017312001a0022002a0032003800420012060a016b1201761a001a002200",
     R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","creationTimestamp":null},"data":{"k":"dg=="}})"},
    {"kubectl create service clusterip svc --tcp=80:8080",
     "6b3873000a0d0a02763112075365727669636512690a1f0a0373766312001a0022002a003200380042005a0a0a03617070120373766312"
     "420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a0361707012037376631a002209436c7573746572"
     "49503a00420052005a00600068001a020a001a002200",
     R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc","creationTimestamp":null,"labels":{"app":"svc"}},
        "spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"svc"},
        "type":"ClusterIP"},"status":{"loadBalancer":{}}})"},
    {"kubectl create service nodeport np --tcp=5678:8080 --node-port=30001",
     "6b3873000a0d0a027631120753657276696365126a0a1d0a026e7012001a0022002a003200380042005a090a0361707012026e701245"
     "0a200a09353637382d38303830120354435018ae2c2207080010903f1a0028b1ea0112090a0361707012026e701a0022084e6f6465"
     "506f72743a00420052005a00600068001a020a001a002200",
     R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"np","creationTimestamp":null,"labels":{"app":"np"}},
        "spec":{"ports":[{"name":"5678-8080","protocol":"TCP","port":5678,"targetPort":8080,"nodePort":30001}],
        "selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}})"},
    {"kubectl create namespace ns1",
     "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a0032003800420012001a020a001a002200",
     R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns1","creationTimestamp":null},
        "spec":{},"status":{}})"},
    {"kubectl create serviceaccount sa",
     "6b3873000a140a027631120e536572766963654163636f756e7412140a120a02736112001a0022002a003200380042001a002200",
     R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa","creationTimestamp":null}})"},
};

bool builtin_has_proto_numbers() {
  const auto* meta = Schema::builtin().type("ObjectMeta");
  return meta && meta->field("name") && meta->field("name")->proto == 1;
}

TEST(Protobuf, DecodesWhatKubectlSends) {
  if (!builtin_has_proto_numbers()) GTEST_SKIP() << "the builtin schema has no proto= numbers yet";
  for (const auto& c : kCaptures) {
    SCOPED_TRACE(c.command);
    std::string body = unhex(c.hex);
    const TypeDef* type = nullptr;
    json got = decode_kubernetes_protobuf(body, Schema::builtin(), &type);
    EXPECT_EQ(got, json::parse(c.dry_run_json));
    ASSERT_NE(type, nullptr);
    EXPECT_EQ(type->name, got["kind"]);
    // Go's encoder would write the same bytes again.
    EXPECT_EQ(encode_kubernetes_protobuf(got, Schema::builtin()), body);
  }
}

TEST(Protobuf, RoundTripsAPodThroughTheBuiltinSchema) {
  if (!builtin_has_proto_numbers()) GTEST_SKIP() << "the builtin schema has no proto= numbers yet";
  const Schema& schema = Schema::builtin();
  // Embedded Go structs at work: VolumeSource (Volume), LocalObjectReference (ConfigMapVolumeSource,
  // ConfigMapKeySelector), ProbeHandler (Probe); a MicroTime-free Time in status; quantities; int-or-string ports.
  json pod = json::parse(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"p","namespace":"default","creationTimestamp":"2026-11-27T21:37:10Z","labels":{"a":"b"}},
    "spec":{"volumes":[{"name":"data","hostPath":{"path":"/srv","type":"Directory"}},
                       {"name":"cfg","configMap":{"name":"settings","defaultMode":420,"optional":false}},
                       {"name":"tmp","emptyDir":{"sizeLimit":"1Gi"}}],
      "containers":[{"name":"app","image":"nginx:1.27","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
        "env":[{"name":"MODE","valueFrom":{"configMapKeyRef":{"name":"settings","key":"mode"}}}],
        "resources":{"limits":{"cpu":"1","memory":"256Mi"}},
        "readinessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"periodSeconds":10},
        "livenessProbe":{"exec":{"command":["true"]},"failureThreshold":3},
        "volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true}]}],
      "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},
      "automountServiceAccountToken":false,"priority":0,"enableServiceLinks":true},
    "status":{"phase":"Running","startTime":"2026-11-27T21:37:12Z",
      "conditions":[{"type":"Ready","status":"True","lastProbeTime":null,
                     "lastTransitionTime":"2026-11-27T21:37:15Z"}]}})");
  std::string body = encode_kubernetes_protobuf(pod, schema);
  EXPECT_EQ(decode_kubernetes_protobuf(body, schema), pod);
}

TEST(Protobuf, SurvivesRandomBytes) {
  auto schema = small_schema(kDeploymentSchema);
  std::mt19937 rng(11);
  std::string base = encode_kubernetes_protobuf(json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"d","labels":{"a":"b"}},"spec":{"replicas":3,"template":{"spec":{"containers":[
      {"name":"c","image":"i","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"1"}}}]}}}})"),
                                                *schema);
  for (int round = 0; round < 20000; ++round) {
    std::string bad = base;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t at = 4 + rng() % (bad.size() - 4);  // keep the magic so the walk gets past it
      switch (rng() % 3) {
        case 0: bad[at] = static_cast<char>(rng()); break;
        case 1: bad.insert(at, 1, static_cast<char>(rng())); break;
        default: bad.erase(at, 1 + rng() % 4); break;
      }
      if (bad.size() <= 4) bad = base;
    }
    try {
      (void)decode_kubernetes_protobuf(bad, *schema).dump();
    } catch (const StatusError& e) {
      ASSERT_EQ(e.status().code, 400);
    }
  }
}

TEST(Protobuf, SurvivesCorruptedKubectlBodies) {
  if (!builtin_has_proto_numbers()) GTEST_SKIP() << "the builtin schema has no proto= numbers yet";
  std::mt19937 rng(7);
  for (const auto& c : kCaptures) {
    std::string body = unhex(c.hex);
    for (size_t i = 0; i < body.size(); ++i) {
      for (int variant = 0; variant < 4; ++variant) {
        std::string bad = body;
        if (variant == 3)
          bad.resize(i);
        else
          bad[i] = static_cast<char>(variant == 0 ? 0xff : variant == 1 ? 0x00 : rng());
        try {
          json j = decode_kubernetes_protobuf(bad, Schema::builtin());
          (void)j.dump();  // whatever decodes must also print
        } catch (const StatusError& e) {
          EXPECT_EQ(e.status().code, 400);
        }
      }
    }
  }
}

}  // namespace
