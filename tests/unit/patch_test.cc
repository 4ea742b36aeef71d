// The three patch types (RFC 7386, RFC 6902, strategic merge) and the apply patches kubectl computes:
// RFC appendix examples, Kubernetes' strategicpatch behaviour, and the kubectl-wire.md section 7 Deployment.
#include "api/patch.h"

#include <gtest/gtest.h>

#include "api/schema.h"
#include "api/status.h"

namespace {

using json = nlohmann::json;
using kctl::api::create_merge_patch;
using kctl::api::create_three_way_merge_patch;
using kctl::api::create_two_way_merge_patch;
using kctl::api::json_patch;
using kctl::api::merge_patch;
using kctl::api::Schema;
using kctl::api::StatusError;
using kctl::api::strategic_merge_patch;

// The status code a call throws, or 0.
template <typename F>
int status_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const StatusError& e) {
    if (message) *message = e.status().message;
    return e.status().code;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------
// RFC 7386

TEST(MergePatch, Rfc7386AppendixA) {
  const char* cases[][3] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", R"(null)", R"(null)"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c[0]) + " + " + c[1]);
    EXPECT_EQ(merge_patch(json::parse(c[0]), json::parse(c[1])), json::parse(c[2]));
  }
}

TEST(MergePatch, Rfc7386Section3Example) {
  json target = json::parse(R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
                                "tags":["example","sample"],"content":"This will be unchanged"})");
  json patch = json::parse(R"({"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},
                               "tags":["example"]})");
  EXPECT_EQ(merge_patch(target, patch),
            json::parse(R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],
                            "content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})"));
}

TEST(MergePatch, KubectlLabelPatches) {
  json pod = json::parse(R"({"metadata":{"name":"p","labels":{"app":"web","env":"dev"}},"spec":{"x":1}})");
  json added = merge_patch(pod, json::parse(R"({"metadata":{"labels":{"env":"prod"}}})"));
  EXPECT_EQ(added["metadata"]["labels"], json::parse(R"({"app":"web","env":"prod"})"));
  json removed = merge_patch(pod, json::parse(R"({"metadata":{"labels":{"env":null}}})"));
  EXPECT_EQ(removed["metadata"]["labels"], json::parse(R"({"app":"web"})"));
  EXPECT_EQ(removed["spec"], pod["spec"]);
}

TEST(MergePatch, CreateMergePatchRoundTrips) {
  json original = json::parse(R"({"a":1,"b":{"c":[1,2],"d":"x","e":{"f":1}},"g":"gone"})");
  json modified = json::parse(R"({"a":1,"b":{"c":[2],"d":"y","e":{}},"h":{"i":true}})");
  json patch = create_merge_patch(original, modified);
  EXPECT_EQ(patch, json::parse(R"({"b":{"c":[2],"d":"y","e":{"f":null}},"g":null,"h":{"i":true}})"));
  EXPECT_EQ(merge_patch(original, patch), modified);
  EXPECT_EQ(create_merge_patch(modified, modified), json::object());
}

// ---------------------------------------------------------------------------------------------------------
// RFC 6902

TEST(JsonPatch, Rfc6902AppendixA) {
  const char* cases[][3] = {
      // A.1 .. A.8, A.10, A.11, A.14, A.16
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])", R"({"baz":"qux","foo":"bar"})"},
      {R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])",
       R"({"foo":["bar","qux","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])",
       R"({"baz":"boo","foo":"bar"})"},
      {R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {R"({"foo":["all","grass","cows","eat"]})", R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
      {R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
      {R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[1]);
    EXPECT_EQ(json_patch(json::parse(c[0]), json::parse(c[1])), json::parse(c[2]));
  }
}

TEST(JsonPatch, Rfc6902AppendixAErrorsAre422NamingTheOperation) {
  const char* cases[][3] = {
      // A.9 test failure, A.12 add to a nonexistent target, A.15 strings and numbers differ
      {R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", "(test at \"/baz\")"},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])", "(add at \"/baz/bat\")"},
      {R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])", "(test at \"/~01\")"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[1]);
    std::string message;
    EXPECT_EQ(status_of([&] { json_patch(json::parse(c[0]), json::parse(c[1])); }, &message), 422);
    EXPECT_NE(message.find(c[2]), std::string::npos) << message;
  }
  try {
    json_patch(json::parse(R"({"a":{"b":1}})"), json::parse(R"([{"op":"test","path":"/a/b","value":2}])"));
    FAIL() << "test op passed";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status().reason, "Invalid");
    EXPECT_EQ(e.status().message, "json patch operation #0 (test at \"/a/b\") failed: the value is 1, not 2");
    ASSERT_EQ(e.status().causes.size(), 1u);
    EXPECT_EQ(e.status().to_json()["code"], 422);
  }
}

TEST(JsonPatch, MalformedOperations) {
  json doc = json::parse(R"({"a":[1,2,3]})");
  auto code = [&](const char* patch) { return status_of([&] { json_patch(doc, json::parse(patch)); }); };
  EXPECT_EQ(code(R"({"op":"add","path":"/b","value":1})"), 400);  // not an array
  EXPECT_EQ(code(R"([1])"), 400);                                   // not an operation object
  EXPECT_EQ(code(R"([{"path":"/b","value":1}])"), 422);             // no op
  EXPECT_EQ(code(R"([{"op":"add","value":1}])"), 422);              // no path
  EXPECT_EQ(code(R"([{"op":"add","path":"/b"}])"), 422);            // no value
  EXPECT_EQ(code(R"([{"op":"copy","path":"/b"}])"), 422);           // no from
  EXPECT_EQ(code(R"([{"op":"frobnicate","path":"/b"}])"), 422);
  EXPECT_EQ(code(R"([{"op":"add","path":"b","value":1}])"), 422);   // pointer without '/'
  EXPECT_EQ(code(R"([{"op":"add","path":"/a~2","value":1}])"), 422);  // bad escape
}

TEST(JsonPatch, ArrayIndices) {
  json doc = json::parse(R"({"a":[1,2,3]})");
  auto apply = [&](const char* patch) { return json_patch(doc, json::parse(patch)); };
  auto code = [&](const char* patch) { return status_of([&] { json_patch(doc, json::parse(patch)); }); };
  EXPECT_EQ(apply(R"([{"op":"add","path":"/a/-","value":4}])")["a"], json::parse("[1,2,3,4]"));
  EXPECT_EQ(apply(R"([{"op":"add","path":"/a/3","value":4}])")["a"], json::parse("[1,2,3,4]"));
  EXPECT_EQ(apply(R"([{"op":"add","path":"/a/0","value":0}])")["a"], json::parse("[0,1,2,3]"));
  EXPECT_EQ(apply(R"([{"op":"replace","path":"/a/2","value":9}])")["a"], json::parse("[1,2,9]"));
  EXPECT_EQ(code(R"([{"op":"add","path":"/a/4","value":4}])"), 422);
  EXPECT_EQ(code(R"([{"op":"add","path":"/a/01","value":4}])"), 422);
  EXPECT_EQ(code(R"([{"op":"add","path":"/a/-1","value":4}])"), 422);
  EXPECT_EQ(code(R"([{"op":"remove","path":"/a/3"}])"), 422);
  EXPECT_EQ(code(R"([{"op":"remove","path":"/a/-"}])"), 422);
  EXPECT_EQ(code(R"([{"op":"replace","path":"/a/3","value":1}])"), 422);
}

TEST(JsonPatch, AddReplacesMembersAndTestComparesValues) {
  json doc = json::parse(R"({"a":{"b":1},"n":1})");
  EXPECT_EQ(json_patch(doc, json::parse(R"([{"op":"add","path":"/a","value":{"c":2}}])"))["a"], json::parse(R"({"c":2})"));
  // Numbers compare by value (RFC 6902 4.6), objects regardless of member order.
  EXPECT_NO_THROW(json_patch(doc, json::parse(R"([{"op":"test","path":"/n","value":1.0}])")));
  EXPECT_NO_THROW(json_patch(doc, json::parse(R"([{"op":"test","path":"","value":{"n":1,"a":{"b":1}}}])")));
  EXPECT_EQ(json_patch(doc, json::parse(R"([{"op":"replace","path":"","value":[1]}])")), json::parse("[1]"));
  EXPECT_EQ(status_of([&] { json_patch(doc, json::parse(R"([{"op":"remove","path":""}])")); }), 422);
  EXPECT_EQ(status_of([&] { json_patch(doc, json::parse(R"([{"op":"remove","path":"/x"}])")); }), 422);
}

TEST(JsonPatch, MoveAndCopy) {
  json doc = json::parse(R"({"a":{"b":{"c":1}},"l":[1,2]})");
  EXPECT_EQ(json_patch(doc, json::parse(R"([{"op":"copy","from":"/a/b","path":"/l/-"}])"))["l"],
            json::parse(R"([1,2,{"c":1}])"));
  EXPECT_EQ(json_patch(doc, json::parse(R"([{"op":"move","from":"/a","path":"/a"}])")), doc);
  EXPECT_EQ(json_patch(doc, json::parse(R"([{"op":"move","from":"/l/0","path":"/x"}])")),
            json::parse(R"({"a":{"b":{"c":1}},"l":[2],"x":1})"));
  EXPECT_EQ(status_of([&] { json_patch(doc, json::parse(R"([{"op":"move","from":"/a","path":"/a/b/d"}])")); }), 422);
  EXPECT_EQ(status_of([&] { json_patch(doc, json::parse(R"([{"op":"copy","from":"/nope","path":"/x"}])")); }), 422);
  // Operations apply in order and the whole patch fails if one does.
  EXPECT_EQ(status_of([&] {
              json_patch(doc, json::parse(R"([{"op":"add","path":"/z","value":1},{"op":"test","path":"/z","value":2}])"));
            }),
            422);
}

TEST(JsonPatch, Limits) {
  json ops = json::array();
  for (size_t i = 0; i <= kctl::api::kMaxJsonPatchOperations; ++i) ops.push_back({{"op", "test"}, {"path", ""}, {"value", 1}});
  EXPECT_EQ(status_of([&] { json_patch(json(1), ops); }), 413);
  // Copying the root into itself grows the document geometrically; the copy budget stops it early.
  json doubling = json::array();
  for (int i = 0; i < 64; ++i) doubling.push_back({{"op", "copy"}, {"from", ""}, {"path", "/" + std::to_string(i % 2)}});
  EXPECT_EQ(status_of([&] { json_patch(json{{"0", std::string(4096, 'x')}}, doubling); }), 422);
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch on a small schema with the Kubernetes patch tags

const char kAppsSchema[] = R"(
type Deployment
  apiVersion string
  kind string
  metadata ObjectMeta
  spec DeploymentSpec
  status object
type ObjectMeta
  name string
  uid string
  labels map[string]
  annotations map[string]
  finalizers []string strategy=merge
  ownerReferences []OwnerReference merge=uid strategy=merge
type OwnerReference
  uid string
  name string
type DeploymentSpec
  replicas int32
  selector LabelSelector
  template PodTemplateSpec
  strategy DeploymentStrategy strategy=retainKeys
type LabelSelector
  matchLabels map[string]
type DeploymentStrategy
  type string
  rollingUpdate RollingUpdateDeployment
type RollingUpdateDeployment
  maxUnavailable int-or-string
  maxSurge int-or-string
type PodTemplateSpec
  metadata ObjectMeta
  spec PodSpec
type PodSpec
  volumes []Volume merge=name strategy=merge,retainKeys
  containers []Container merge=name strategy=merge required
  nodeSelector map[string]
  tolerations []Toleration listType=atomic
  securityContext PodSecurityContext
type PodSecurityContext
  runAsUser int64
type Container
  name string required
  image string
  command []string
  ports []ContainerPort merge=containerPort strategy=merge listType=map listMapKeys=containerPort,protocol
  env []EnvVar merge=name strategy=merge
  resources ResourceRequirements
  volumeMounts []VolumeMount merge=mountPath strategy=merge
type ContainerPort
  name string
  containerPort int32 required
  protocol string
type EnvVar
  name string required
  value string
type ResourceRequirements
  limits map[quantity]
  requests map[quantity]
type VolumeMount
  name string
  mountPath string
type Volume
  name string required
  hostPath HostPathVolumeSource
  emptyDir EmptyDirVolumeSource
type HostPathVolumeSource
  path string
type EmptyDirVolumeSource
  medium string
type Toleration
  key string
  operator string
)";

class StrategicMergePatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = Schema::parse({{"apps.schema", kAppsSchema}});
    deployment_ = schema_->type("Deployment");
    pod_spec_ = schema_->type("PodSpec");
    ASSERT_NE(deployment_, nullptr);
  }
  json smp(const json& original, const char* patch, const kctl::api::TypeDef* type = nullptr) {
    return strategic_merge_patch(original, json::parse(patch), type ? type : pod_spec_);
  }

  std::unique_ptr<Schema> schema_;
  const kctl::api::TypeDef* deployment_ = nullptr;
  const kctl::api::TypeDef* pod_spec_ = nullptr;
};

TEST_F(StrategicMergePatchTest, ContainersMergeByName) {
  json spec = json::parse(R"({"containers":[{"name":"a","image":"a:1","command":["x"]},{"name":"b","image":"b:1"}]})");
  EXPECT_EQ(smp(spec, R"({"containers":[{"name":"b","image":"b:2"}]})"),
            json::parse(R"({"containers":[{"name":"a","image":"a:1","command":["x"]},{"name":"b","image":"b:2"}]})"));
  // Without $setElementOrder a new element goes before the live ones it cannot be ordered against, as in Go.
  EXPECT_EQ(smp(spec, R"({"containers":[{"name":"c","image":"c:1"}]})")["containers"],
            json::parse(R"([{"name":"c","image":"c:1"},{"name":"a","image":"a:1","command":["x"]},
                            {"name":"b","image":"b:1"}])"));
  // Without the schema the same patch would replace the list: what a JSON merge patch does.
  EXPECT_EQ(strategic_merge_patch(spec, json::parse(R"({"containers":[{"name":"b"}]})"), nullptr),
            json::parse(R"({"containers":[{"name":"b"}]})"));
}

TEST_F(StrategicMergePatchTest, PortsMergeByContainerPortAndEnvByName) {
  json spec = json::parse(R"({"containers":[{"name":"a","image":"nginx:1.25",
      "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443,"protocol":"TCP"}],
      "env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]}]})");
  // The 1.25 -> 1.26 image update of kubectl-wire.md: ports must survive.
  json updated = smp(spec, R"({"containers":[{"name":"a","image":"nginx:1.26"}]})");
  EXPECT_EQ(updated["containers"][0]["image"], "nginx:1.26");
  EXPECT_EQ(updated["containers"][0]["ports"], spec["containers"][0]["ports"]);
  json ports = smp(spec, R"({"containers":[{"name":"a","ports":[{"containerPort":443,"name":"https"},
                                                               {"containerPort":8080}]}]})");
  EXPECT_EQ(ports["containers"][0]["ports"],
            json::parse(R"([{"containerPort":80,"protocol":"TCP"},{"containerPort":443,"protocol":"TCP","name":"https"},
                            {"containerPort":8080}])"));
  json env = smp(spec, R"({"containers":[{"name":"a","env":[{"name":"X","$patch":"delete"},{"name":"Z","value":"3"}]}]})");
  EXPECT_EQ(env["containers"][0]["env"], json::parse(R"([{"name":"Z","value":"3"},{"name":"Y","value":"2"}])"));
  // Deleting an element that is not there is not an error.
  EXPECT_EQ(smp(spec, R"({"containers":[{"name":"a","env":[{"name":"Q","$patch":"delete"}]}]})"), spec);
}

TEST_F(StrategicMergePatchTest, NullDeletesAndMapsMergeRecursively) {
  json spec = json::parse(R"({"nodeSelector":{"disk":"ssd","zone":"a"},"securityContext":{"runAsUser":1},
      "containers":[{"name":"a","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]})");
  json out = smp(spec, R"({"nodeSelector":{"zone":null,"gpu":"yes"},"securityContext":null,
      "containers":[{"name":"a","image":null,"resources":{"limits":{"cpu":"2"}}}]})");
  EXPECT_EQ(out, json::parse(R"({"nodeSelector":{"disk":"ssd","gpu":"yes"},
      "containers":[{"name":"a","resources":{"limits":{"cpu":"2","memory":"1Gi"}}}]})"));
  // Nulls for fields that are not there and nulls inside new values leave nothing behind.
  EXPECT_EQ(smp(json::object(), R"({"gone":null,"nodeSelector":{"a":"b","c":null},
      "containers":[{"name":"n","image":null,"env":[{"name":"E","value":null}]}]})"),
            json::parse(R"({"nodeSelector":{"a":"b"},"containers":[{"name":"n","env":[{"name":"E"}]}]})"));
}

TEST_F(StrategicMergePatchTest, PatchDirectiveOnMaps) {
  json spec = json::parse(R"({"nodeSelector":{"disk":"ssd","zone":"a"},"securityContext":{"runAsUser":1},
                              "containers":[{"name":"a"}]})");
  EXPECT_EQ(smp(spec, R"({"nodeSelector":{"$patch":"replace","gpu":"yes"}})")["nodeSelector"],
            json::parse(R"({"gpu":"yes"})"));
  // `$patch: delete` leaves an empty map, as strategicpatch does.
  EXPECT_EQ(smp(spec, R"({"securityContext":{"$patch":"delete"}})")["securityContext"], json::object());
  EXPECT_EQ(smp(spec, R"({"nodeSelector":{"$patch":"merge","gpu":"yes"}})")["nodeSelector"],
            json::parse(R"({"disk":"ssd","zone":"a","gpu":"yes"})"));
  EXPECT_EQ(smp(spec, R"({"$patch":"replace","containers":[{"name":"b"}]})"),
            json::parse(R"({"containers":[{"name":"b"}]})"));
  std::string message;
  EXPECT_EQ(status_of([&] { smp(spec, R"({"nodeSelector":{"$patch":"explode"}})"); }, &message), 400);
  EXPECT_NE(message.find("unknown patch type: explode"), std::string::npos) << message;
}

TEST_F(StrategicMergePatchTest, PatchDirectiveInLists) {
  json spec = json::parse(R"({"containers":[{"name":"a","image":"x"},{"name":"b"},{"name":"c"}]})");
  EXPECT_EQ(smp(spec, R"({"containers":[{"name":"d","image":"y","env":[{"name":"E","value":null}]},
                                          {"$patch":"replace"}]})")["containers"],
            json::parse(R"([{"name":"d","image":"y","env":[{"name":"E"}]}])"));
  EXPECT_EQ(smp(spec, R"({"containers":[{"$patch":"replace"}]})")["containers"], json::array());
  EXPECT_EQ(smp(spec, R"({"containers":[{"name":"b","$patch":"delete"},{"name":"a","image":"z"}]})")["containers"],
            json::parse(R"([{"name":"a","image":"z"},{"name":"c"}])"));
  EXPECT_EQ(status_of([&] { smp(spec, R"({"containers":[{"name":"a","$patch":"nope"}]})"); }), 400);
  EXPECT_EQ(status_of([&] { smp(spec, R"({"containers":[{"$patch":"delete"}]})"); }), 400);  // no merge key
  EXPECT_EQ(status_of([&] { smp(spec, R"({"containers":[{"image":"x"}]})"); }), 400);        // no merge key
}

TEST_F(StrategicMergePatchTest, RetainKeys) {
  json d = json::parse(R"({"spec":{"replicas":1,"strategy":{"type":"RollingUpdate",
                                     "rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}})");
  EXPECT_EQ(smp(d, R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})", deployment_)["spec"],
            json::parse(R"({"replicas":1,"strategy":{"type":"Recreate"}})"));
  // Without the directive the map merges as usual.
  EXPECT_EQ(smp(d, R"({"spec":{"strategy":{"type":"Recreate"}}})", deployment_)["spec"]["strategy"]["rollingUpdate"],
            d["spec"]["strategy"]["rollingUpdate"]);
  // A field the patch sets must be retained; nulls and parallel lists are exempt.
  EXPECT_EQ(status_of([&] {
              smp(d, R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{}}}})", deployment_);
            }),
            400);
  EXPECT_EQ(smp(d, R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null}}})", deployment_)["spec"]["strategy"],
            json::parse(R"({"type":"RollingUpdate"})"));
  EXPECT_EQ(status_of([&] { smp(d, R"({"spec":{"strategy":{"$retainKeys":"type"}}})", deployment_); }), 400);
}

TEST_F(StrategicMergePatchTest, RetainKeysInListElements) {
  json spec = json::parse(R"({"containers":[{"name":"a"}],
      "volumes":[{"name":"v","emptyDir":{"medium":"Memory"}},{"name":"w","hostPath":{"path":"/w"}}]})");
  json out = smp(spec, R"({"volumes":[{"$retainKeys":["hostPath","name"],"name":"v","hostPath":{"path":"/v"}}]})");
  EXPECT_EQ(out["volumes"], json::parse(R"([{"name":"v","hostPath":{"path":"/v"}},{"name":"w","hostPath":{"path":"/w"}}])"));
}

TEST_F(StrategicMergePatchTest, PrimitiveListsWithMergeStrategy) {
  json d = json::parse(R"({"metadata":{"name":"d","finalizers":["a","b"]}})");
  EXPECT_EQ(smp(d, R"({"metadata":{"finalizers":["b","c"]}})", deployment_)["metadata"]["finalizers"],
            json::parse(R"(["a","b","c"])"));
  EXPECT_EQ(smp(d, R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a","x"]}})", deployment_)["metadata"]["finalizers"],
            json::parse(R"(["b"])"));
  // Deleting from a missing list is a no-op (Go would store the deletion list as the value).
  EXPECT_EQ(smp(json::object(), R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}})", deployment_),
            json::parse(R"({"metadata":{}})"));
  // Lists without a merge strategy are replaced.
  json spec = json::parse(R"({"containers":[{"name":"a","command":["x","y"]}],"tolerations":[{"key":"k"}]})");
  json out = smp(spec, R"({"containers":[{"name":"a","command":["z"]}],"tolerations":[{"key":"j"}]})");
  EXPECT_EQ(out["containers"][0]["command"], json::parse(R"(["z"])"));
  EXPECT_EQ(out["tolerations"], json::parse(R"([{"key":"j"}])"));
  EXPECT_EQ(status_of([&] { smp(d, R"({"metadata":{"$deleteFromPrimitiveList/finalizers":"a"}})", deployment_); }), 400);
}

TEST_F(StrategicMergePatchTest, SetElementOrder) {
  json spec = json::parse(R"({"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]})");
  EXPECT_EQ(smp(spec, R"({"$setElementOrder/containers":[{"name":"c"},{"name":"a"},{"name":"b"}]})"),
            json::parse(R"({"containers":[{"name":"c"},{"name":"a"},{"name":"b"}]})"));
  // Live-only elements keep their place relative to the ones they followed.
  json live = json::parse(R"({"containers":[{"name":"a"},{"name":"b"},{"name":"x"},{"name":"c"},{"name":"d"}]})");
  EXPECT_EQ(smp(live, R"({"$setElementOrder/containers":[{"name":"b"},{"name":"a"},{"name":"d"},{"name":"c"}]})"),
            json::parse(R"({"containers":[{"name":"b"},{"name":"a"},{"name":"x"},{"name":"d"},{"name":"c"}]})"));
  // Elements of the order list that are nowhere are ignored; the patch list must follow the order.
  EXPECT_EQ(smp(spec, R"({"$setElementOrder/containers":[{"name":"z"},{"name":"c"},{"name":"b"},{"name":"a"}],
                          "containers":[{"name":"c","image":"i"}]})")["containers"],
            json::parse(R"([{"name":"c","image":"i"},{"name":"b"},{"name":"a"}])"));
  std::string message;
  EXPECT_EQ(status_of([&] {
              smp(spec, R"({"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],
                            "containers":[{"name":"b"},{"name":"a"}]})");
            }, &message),
            400);
  EXPECT_NE(message.find("doesn't match"), std::string::npos) << message;
  json d = json::parse(R"({"metadata":{"finalizers":["a","b","c"]}})");
  EXPECT_EQ(smp(d, R"({"metadata":{"$setElementOrder/finalizers":["c","a","d"],"finalizers":["d"],
                                   "$deleteFromPrimitiveList/finalizers":["b"]}})", deployment_)["metadata"]["finalizers"],
            json::parse(R"(["c","a","d"])"));
}

// A 3 MiB body holds lists of ~100k elements; ordering them must not be quadratic as Go's index() is.
TEST_F(StrategicMergePatchTest, LongListsStayFast) {
  constexpr int kElements = 20000;
  json live = json::parse(R"({"containers":[{"name":"a","env":[]}]})");
  json patch = json::parse(R"({"containers":[{"name":"a","env":[]}]})");
  json& env = live["containers"][0]["env"];
  json& patch_env = patch["containers"][0]["env"];
  json& order = patch["containers"][0]["$setElementOrder/env"] = json::array();
  for (int i = 0; i < kElements; ++i) {
    env.push_back({{"name", "E" + std::to_string(i)}, {"value", "v"}});
    order.push_back({{"name", "E" + std::to_string(kElements - 1 - i)}});
    if (i % 2) patch_env.push_back({{"name", "E" + std::to_string(i)}, {"$patch", "delete"}});
  }
  json out = strategic_merge_patch(live, patch, pod_spec_);
  const json& merged = out["containers"][0]["env"];
  ASSERT_EQ(merged.size(), static_cast<size_t>(kElements / 2));
  EXPECT_EQ(merged[0]["name"], "E" + std::to_string(kElements - 2));
  json modified = out;
  modified["containers"][0]["env"].erase(0);
  EXPECT_EQ(strategic_merge_patch(out, create_two_way_merge_patch(out, modified, pod_spec_), pod_spec_), modified);
}

TEST_F(StrategicMergePatchTest, UnknownFieldsAndNoSchemaMergeLikeMergePatch) {
  json obj = json::parse(R"({"spec":{"group":"x","versions":[{"name":"v1"},{"name":"v2"}],"extra":{"a":1,"b":2}}})");
  const char* patch = R"({"spec":{"versions":[{"name":"v3"}],"extra":{"a":null,"c":3}}})";
  json expected = json::parse(R"({"spec":{"group":"x","versions":[{"name":"v3"}],"extra":{"b":2,"c":3}}})");
  EXPECT_EQ(strategic_merge_patch(obj, json::parse(patch), nullptr), expected);
  EXPECT_EQ(strategic_merge_patch(obj, json::parse(patch), schema_->type("PodSpec")), expected);
  EXPECT_EQ(merge_patch(obj, json::parse(patch)), expected);
  EXPECT_EQ(status_of([&] { strategic_merge_patch(obj, json::parse("[]"), nullptr); }), 400);
}

// kubectl-wire.md section 7: the patch `kubectl apply` sent when a Deployment lost a container, an env var
// and a port, and changed its strategy.
const char kWireApplyPatch[] = R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"},"labels":null},
 "spec":{"replicas":3,
  "strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"},
  "template":{"spec":{"$setElementOrder/containers":[{"name":"a"}],
   "containers":[{"$setElementOrder/env":[{"name":"Y"}],"$setElementOrder/ports":[{"containerPort":80}],
                  "env":[{"$patch":"delete","name":"X"}],"image":"img-a2","name":"a",
                  "ports":[{"$patch":"delete","containerPort":443}]},
                 {"$patch":"delete","name":"b"}]}}}})";

// The live Deployment before that apply: the last-applied configuration plus what the server added.
const char kLiveDeployment[] = R"({"apiVersion":"apps/v1","kind":"Deployment",
 "metadata":{"name":"d","uid":"u1","labels":{"app":"d"},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"old"}},
 "spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},
  "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
  "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[
   {"name":"a","image":"img-a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],
    "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443,"protocol":"TCP"}]},
   {"name":"b","image":"img-b"}]}}},
 "status":{"replicas":1}})";

TEST_F(StrategicMergePatchTest, KubectlWireApplyPatchOnDeployment) {
  json out = strategic_merge_patch(json::parse(kLiveDeployment), json::parse(kWireApplyPatch), deployment_);
  EXPECT_EQ(out, json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
 "metadata":{"name":"d","uid":"u1","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
 "spec":{"replicas":3,"selector":{"matchLabels":{"app":"d"}},"strategy":{"type":"Recreate"},
  "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[
   {"name":"a","image":"img-a2","env":[{"name":"Y","value":"2"}],"ports":[{"containerPort":80,"protocol":"TCP"}]}]}}},
 "status":{"replicas":1}})"));
}

// kubectl computes exactly that patch from the last-applied configuration, the new file and the live object.
TEST_F(StrategicMergePatchTest, ThreeWayPatchIsWhatKubectlSends) {
  json live = json::parse(kLiveDeployment);
  json last_applied = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","labels":{"app":"d"}},
   "spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}},
    "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[
     {"name":"a","image":"img-a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],
      "ports":[{"containerPort":80},{"containerPort":443}]},{"name":"b","image":"img-b"}]}}}})");
  json modified = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
   "metadata":{"name":"d","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
   "spec":{"replicas":3,"selector":{"matchLabels":{"app":"d"}},"strategy":{"type":"Recreate"},
    "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[
     {"name":"a","image":"img-a2","env":[{"name":"Y","value":"2"}],"ports":[{"containerPort":80}]}]}}}})");
  json patch = create_three_way_merge_patch(last_applied, modified, live, deployment_);
  EXPECT_EQ(patch, json::parse(kWireApplyPatch));
  EXPECT_EQ(patch.dump(), json::parse(kWireApplyPatch).dump());  // list order included
}

TEST_F(StrategicMergePatchTest, ThreeWayKeepsOutOfBandChanges) {
  json last_applied = json::parse(R"({"metadata":{"name":"d","labels":{"app":"d"}},
      "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"a","image":"a:1"}]}}}})");
  json modified = json::parse(R"({"metadata":{"name":"d","labels":{"app":"d","tier":"web"}},
      "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"a","image":"a:2"}]}}}})");
  // Someone scaled the deployment, added an annotation and a sidecar container out of band.
  json live = json::parse(R"({"metadata":{"name":"d","uid":"u","labels":{"app":"d"},"annotations":{"note":"x"}},
      "spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"a","image":"a:1","imagePullPolicy":"IfNotPresent"},
                                                              {"name":"sidecar","image":"s"}]}}},
      "status":{"readyReplicas":5}})");
  json patch = create_three_way_merge_patch(last_applied, modified, live, deployment_);
  // replicas is in both configurations, so apply puts it back (kubectl's behaviour).
  EXPECT_EQ(patch, json::parse(R"({"metadata":{"labels":{"tier":"web"}},"spec":{"replicas":2,"template":{"spec":{
      "$setElementOrder/containers":[{"name":"a"}],"containers":[{"image":"a:2","name":"a"}]}}}})"));
  json result = strategic_merge_patch(live, patch, deployment_);
  EXPECT_EQ(result, json::parse(R"({"metadata":{"name":"d","uid":"u","labels":{"app":"d","tier":"web"},"annotations":{"note":"x"}},
      "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"a","image":"a:2","imagePullPolicy":"IfNotPresent"},
                                                              {"name":"sidecar","image":"s"}]}}},
      "status":{"readyReplicas":5}})"));
  // Applying the same file again only restates the container order, because the live list has an element the
  // file does not (Go does the same); without the sidecar nothing changes and kubectl prints "unchanged".
  EXPECT_EQ(create_three_way_merge_patch(modified, modified, result, deployment_),
            json::parse(R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"}]}}}})"));
  result["spec"]["template"]["spec"]["containers"].erase(1);
  EXPECT_EQ(create_three_way_merge_patch(modified, modified, result, deployment_), json::object());
}

TEST_F(StrategicMergePatchTest, ThreeWayConflictsWithoutOverwrite) {
  json original = json::parse(R"({"spec":{"replicas":1}})");
  json modified = json::parse(R"({"spec":{"replicas":2}})");
  json current = json::parse(R"({"spec":{"replicas":3}})");
  EXPECT_EQ(create_three_way_merge_patch(original, modified, current, deployment_, true),
            json::parse(R"({"spec":{"replicas":2}})"));
  EXPECT_EQ(status_of([&] { create_three_way_merge_patch(original, modified, current, deployment_, false); }), 409);
  EXPECT_EQ(create_three_way_merge_patch(original, modified, original, deployment_, false),
            json::parse(R"({"spec":{"replicas":2}})"));
}

TEST_F(StrategicMergePatchTest, TwoWayPatchRoundTrips) {
  json original = json::parse(kLiveDeployment);
  json modified = original;
  modified["spec"]["template"]["spec"]["containers"][0]["env"] = json::parse(R"([{"name":"Y","value":"3"},{"name":"X","value":"1"}])");
  modified["spec"]["template"]["spec"]["containers"].erase(1);
  modified["metadata"]["labels"]["new"] = "1";
  modified["metadata"]["finalizers"] = json::parse(R"(["f"])");
  modified["spec"]["strategy"] = json::parse(R"({"type":"Recreate"})");
  json patch = create_two_way_merge_patch(original, modified, deployment_);
  EXPECT_EQ(strategic_merge_patch(original, patch, deployment_), modified);
  EXPECT_EQ(create_two_way_merge_patch(modified, modified, deployment_), json::object());
}

// ---------------------------------------------------------------------------------------------------------
// Behaviour vectors of k8s.io/apimachinery strategicpatch (patch_test.go), restated in JSON on a schema
// with the same tags as its MergeItem test type. Each case checks the two-way patch original -> modified
// and its result, and the three-way patch (original, modified, current) and its result on current.

const char kMergeItemSchema[] = R"(
type MergeItem
  name string
  value string
  other string
  mergingList []MergeItem merge=name strategy=merge
  nonMergingList []MergeItem
  mergingIntList []int64 strategy=merge
  nonMergingIntList []int64
  simpleMap map[string]
  retainKeysMap RetainKeysMergeItem strategy=retainKeys
  retainKeysMergingList []MergeItem merge=name strategy=merge,retainKeys
type RetainKeysMergeItem
  name string
  value string
  other string
  simpleMap map[string]
  mergingIntList []int64 strategy=merge
  mergingList []MergeItem merge=name strategy=merge
  nonMergingList []MergeItem
)";

const char kStrategicPatchVectors[] = R"([
{"d":"add field to map","original":{"name":1},"modified":{"name":1,"value":1},"current":{"name":1,"other":"a"},
 "twoWay":{"value":1},"threeWay":{"value":1},"result":{"name":1,"value":1,"other":"a"}},
{"d":"add field and delete field from map","original":{"name":1},"modified":{"value":1},"current":{"name":1,"other":"a"},
 "twoWay":{"name":null,"value":1},"threeWay":{"name":null,"value":1},"result":{"value":1,"other":"a"}},
{"d":"delete field from nested map","original":{"simpleMap":{"key1":1,"key2":1}},"modified":{"simpleMap":{"key1":1}},
 "current":{"simpleMap":{"key1":1,"key2":1,"other":"a"}},
 "twoWay":{"simpleMap":{"key2":null}},"threeWay":{"simpleMap":{"key2":null}},"result":{"simpleMap":{"key1":1,"other":"a"}}},
{"d":"replace list of scalars","original":{"nonMergingIntList":[1,2]},"modified":{"nonMergingIntList":[2,3]},
 "current":{"nonMergingIntList":[1,4]},"twoWay":{"nonMergingIntList":[2,3]},"threeWay":{"nonMergingIntList":[2,3]},
 "result":{"nonMergingIntList":[2,3]}},
{"d":"delete all maps from merging list","original":{"mergingList":[{"name":1},{"name":2}]},"modified":{"mergingList":[]},
 "current":{"mergingList":[{"name":1,"other":"a"},{"name":2,"other":"b"}]},
 "twoWay":{"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]},
 "threeWay":{"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]},"result":{"mergingList":[]}},
{"d":"merge empty merging lists","original":{"mergingList":[]},"modified":{"mergingList":[]},"current":{"mergingList":[]},
 "twoWay":{},"threeWay":{},"result":{"mergingList":[]}},
{"d":"defined null values propagate","original":{"name":2},"modified":{"name":1,"value":1,"other":null},
 "current":{"name":"a","other":"a"},"twoWay":{"name":1,"value":1,"other":null},"twoWayResult":{"name":1,"value":1},
 "threeWay":{"name":1,"value":1,"other":null},"result":{"name":1,"value":1}},
{"d":"retainKeys map with no change is not in the patch","original":{"name":"a","retainKeysMap":{"name":"foo"}},
 "modified":{"name":"a","value":"b","retainKeysMap":{"name":"foo"}},"current":{"name":"a","other":"c","retainKeysMap":{"name":"foo"}},
 "twoWay":{"value":"b"},"threeWay":{"value":"b"},"result":{"name":"a","value":"b","other":"c","retainKeysMap":{"name":"foo"}}},
{"d":"delete items in lists of scalars","original":{"mergingIntList":[1,2,3]},"modified":{"mergingIntList":[1,2]},
 "current":{"mergingIntList":[1,2,3,4]},
 "twoWay":{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]},
 "threeWay":{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]},
 "result":{"mergingIntList":[1,2,4]}},
{"d":"add and delete items in lists of scalars","original":{"mergingIntList":[1,2,3]},"modified":{"mergingIntList":[1,2,4]},
 "current":{"mergingIntList":[1,2,3,4]},
 "twoWay":{"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3],"mergingIntList":[4]},
 "threeWay":{"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3]},
 "result":{"mergingIntList":[1,2,4]}},
{"d":"merge lists of maps","original":{"mergingList":[{"name":1},{"name":2,"value":2}]},
 "modified":{"mergingList":[{"name":4,"value":4},{"name":1},{"name":2,"value":2},{"name":3,"value":3}]},
 "current":{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],
           "mergingList":[{"name":4,"value":4},{"name":3,"value":3}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],
             "mergingList":[{"name":4,"value":4},{"name":3,"value":3}]},
 "result":{"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}},
{"d":"merge lists of maps with a changed live value","original":{"mergingList":[{"name":1},{"name":2,"value":2}]},
 "modified":{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3}]},
 "current":{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":3,"other":"b"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],
             "mergingList":[{"name":2,"value":2},{"name":3,"value":3}]},
 "result":{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}},
{"d":"add an item that already exists in current","original":{"mergingList":[{"name":1,"value":"a"},{"name":2}]},
 "modified":{"mergingList":[{"name":1,"value":"a"},{"name":2},{"name":3}]},
 "current":{"mergingList":[{"name":1,"value":"a","other":"x"},{"name":2},{"name":3}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3}]},
 "threeWay":{},"result":{"mergingList":[{"name":1,"value":"a","other":"x"},{"name":2},{"name":3}]}},
{"d":"delete missing map from merging list","original":{"mergingList":[{"name":1},{"name":2}]},
 "modified":{"mergingList":[{"name":2}]},"current":{"mergingList":[{"name":3,"other":"a"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":1,"$patch":"delete"}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":2},{"name":1,"$patch":"delete"}]},
 "result":{"mergingList":[{"name":2},{"name":3,"other":"a"}]}},
{"d":"add map and delete map from merging list","original":{"mergingList":[{"name":1},{"name":2}]},
 "modified":{"mergingList":[{"name":2},{"name":3}]},
 "current":{"mergingList":[{"name":1},{"name":2,"other":"b"},{"name":4,"other":"c"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]},
 "result":{"mergingList":[{"name":2,"other":"b"},{"name":4,"other":"c"},{"name":3}]}},
{"d":"add map and delete map from merging list, live list changed","original":{"mergingList":[{"name":1},{"name":2}]},
 "modified":{"mergingList":[{"name":2},{"name":3}]},
 "current":{"mergingList":[{"name":1,"other":"a"},{"name":4,"other":"c"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":2},{"name":3}],
             "mergingList":[{"name":2},{"name":3},{"name":1,"$patch":"delete"}]},
 "result":{"mergingList":[{"name":4,"other":"c"},{"name":2},{"name":3}]}},
{"d":"delete field from map in merging list","original":{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]},
 "modified":{"mergingList":[{"name":1},{"name":2,"value":2}]},
 "current":{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2,"other":"b"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":null}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":null}]},
 "result":{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}},
{"d":"add field to map in merging list nested in merging list",
 "original":{"mergingList":[{"name":1,"mergingList":[{"name":1},{"name":2,"value":2}]},{"name":2}]},
 "modified":{"mergingList":[{"name":1,"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]},{"name":2}]},
 "current":{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1},{"name":2,"value":2}]},{"name":2,"other":"b"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2}],
           "mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"name":1,"mergingList":[{"name":1,"value":1}]}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":1},{"name":2}],
             "mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"name":1,"mergingList":[{"name":1,"value":1}]}]},
 "result":{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1,"value":1},{"name":2,"value":2}]},{"name":2,"other":"b"}]}},
{"d":"add an item in a list of primitives and preserve order","original":{"mergingIntList":[1,2]},
 "modified":{"mergingIntList":[3,1,2]},"current":{"mergingIntList":[1,4,2]},
 "twoWay":{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]},
 "threeWay":{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]},"result":{"mergingIntList":[3,1,4,2]}},
{"d":"delete an item in a list and preserve order","original":{"mergingList":[{"name":1},{"name":3,"value":3},{"name":2,"value":2}]},
 "modified":{"mergingList":[{"name":2,"value":2},{"name":1}]},
 "current":{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":2},{"name":1}],"mergingList":[{"name":3,"$patch":"delete"}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":2},{"name":1}],"mergingList":[{"name":3,"$patch":"delete"}]},
 "result":{"mergingList":[{"name":2,"value":2,"other":"b"},{"name":1,"other":"a"}]}},
{"d":"set elements order in a list with server-only items",
 "original":{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3},{"name":4,"value":4}]},
 "modified":{"mergingList":[{"name":2,"value":2},{"name":1},{"name":4,"value":4},{"name":3,"value":3}]},
 "current":{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":7},{"name":9},{"name":8},{"name":3,"value":3},{"name":4,"value":4}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]},
 "result":{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":7},{"name":9},{"name":8},{"name":4,"value":4},{"name":3,"value":3}]}},
{"d":"set element order with duplicates","original":{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]},
 "modified":{"mergingList":[{"name":2,"value":"dup1"},{"name":1},{"name":4},{"name":3},{"name":2,"value":"dup2"}]},
 "current":{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]},
 "twoWayResult":{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]},
 "result":{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}},
{"d":"retainKeys map clears a defaulted field","original":{},"modified":{"retainKeysMap":{"name":"type2","other":"bar"}},
 "current":{"retainKeysMap":{"name":"type1","value":"foo"}},
 "twoWay":{"retainKeysMap":{"name":"type2","other":"bar"}},
 "threeWay":{"retainKeysMap":{"$retainKeys":["name","other"],"name":"type2","other":"bar"}},
 "result":{"retainKeysMap":{"name":"type2","other":"bar"}}},
{"d":"retainKeys map clears a field","original":{"retainKeysMap":{"name":"foo","value":"bar"}},
 "modified":{"retainKeysMap":{"name":"foo","value":"bar"}},"current":{"retainKeysMap":{"name":"foo","value":"bar","other":"a"}},
 "twoWay":{},"threeWay":{"retainKeysMap":{"$retainKeys":["name","value"]}},
 "result":{"retainKeysMap":{"name":"foo","value":"bar"}}},
{"d":"retainKeys map adds an item in a nested merging int list","original":{"retainKeysMap":{"name":"foo","mergingIntList":[1,2]}},
 "modified":{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,4]}},
 "current":{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}},
 "twoWay":{"retainKeysMap":{"$setElementOrder/mergingIntList":[1,2,4],"$retainKeys":["mergingIntList","name"],"mergingIntList":[4]}},
 "threeWay":{"retainKeysMap":{"$setElementOrder/mergingIntList":[1,2,4],"$retainKeys":["mergingIntList","name"],"mergingIntList":[4]}},
 "result":{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,4,3]}}},
{"d":"retainKeys list of maps clears a field","original":{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]},
 "modified":{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]},
 "current":{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a","other":"x"}]},
 "twoWay":{},
 "threeWay":{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],
             "retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo"}]},
 "result":{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}},
{"d":"delete and reorder in one list, reorder in another",
 "original":{"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}],"retainKeysMergingList":[{"name":"c","value":"c"},{"name":"d","value":"d"}]},
 "modified":{"mergingList":[{"name":"b","value":"b"}],"retainKeysMergingList":[{"name":"d","value":"d"},{"name":"c","value":"c"}]},
 "current":{"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}],"retainKeysMergingList":[{"name":"c","value":"c"},{"name":"d","value":"d"}]},
 "twoWay":{"$setElementOrder/mergingList":[{"name":"b"}],"$setElementOrder/retainKeysMergingList":[{"name":"d"},{"name":"c"}],
           "mergingList":[{"$patch":"delete","name":"a"}]},
 "threeWay":{"$setElementOrder/mergingList":[{"name":"b"}],"$setElementOrder/retainKeysMergingList":[{"name":"d"},{"name":"c"}],
             "mergingList":[{"$patch":"delete","name":"a"}]},
 "result":{"mergingList":[{"name":"b","value":"b"}],"retainKeysMergingList":[{"name":"d","value":"d"},{"name":"c","value":"c"}]}}
])";

TEST(StrategicMergePatchVectors, MatchKubernetesStrategicpatch) {
  auto schema = Schema::parse({{"mergeitem.schema", kMergeItemSchema}});
  const kctl::api::TypeDef* type = schema->type("MergeItem");
  for (const json& c : json::parse(kStrategicPatchVectors)) {
    SCOPED_TRACE(c["d"].get<std::string>());
    const json& original = c["original"];
    const json& modified = c["modified"];
    json two_way = create_two_way_merge_patch(original, modified, type);
    EXPECT_EQ(two_way, c["twoWay"]);
    EXPECT_EQ(strategic_merge_patch(original, c["twoWay"], type), c.value("twoWayResult", modified));
    json three_way = create_three_way_merge_patch(original, modified, c["current"], type);
    EXPECT_EQ(three_way.dump(), c["threeWay"].dump());
    EXPECT_EQ(strategic_merge_patch(c["current"], c["threeWay"], type).dump(), c["result"].dump());
  }
}

TEST(StrategicMergePatchVectors, DuplicatesNeedOneDeleteDirectiveEach) {
  auto schema = Schema::parse({{"mergeitem.schema", kMergeItemSchema}});
  const kctl::api::TypeDef* type = schema->type("MergeItem");
  json original = json::parse(R"({"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]})");
  EXPECT_EQ(strategic_merge_patch(original, json::parse(R"({"mergingList":[{"name":1,"$patch":"delete"},
                                                                          {"name":3,"$patch":"delete"}]})"), type),
            json::parse(R"({"mergingList":[{"name":1},{"name":2,"value":"a"},{"name":3}]})"));
  EXPECT_EQ(strategic_merge_patch(original, json::parse(R"({"mergingList":[{"name":1,"$patch":"delete"},{"name":1,"$patch":"delete"},
                                                                          {"name":3,"$patch":"delete"},{"name":3,"$patch":"delete"}]})"), type),
            json::parse(R"({"mergingList":[{"name":2,"value":"a"}]})"));
  EXPECT_EQ(strategic_merge_patch(json::parse(R"({"mergingIntList":[1,2]})"), json::parse(R"({"mergingIntList":[2,3]})"), type),
            json::parse(R"({"mergingIntList":[1,2,3]})"));
}

// ---------------------------------------------------------------------------------------------------------
// The builtin schema (api/schema/*.schema), once it describes these kinds

TEST(StrategicMergePatchBuiltin, DeploymentApplyPatch) {
  const kctl::api::TypeDef* deployment = Schema::builtin().type("Deployment");
  if (!deployment) GTEST_SKIP() << "Deployment is not in the builtin schema yet";
  json out = strategic_merge_patch(json::parse(kLiveDeployment), json::parse(kWireApplyPatch), deployment);
  const json& containers = out["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0]["image"], "img-a2");
  EXPECT_EQ(containers[0]["env"], json::parse(R"([{"name":"Y","value":"2"}])"));
  EXPECT_EQ(containers[0]["ports"], json::parse(R"([{"containerPort":80,"protocol":"TCP"}])"));
  EXPECT_EQ(out["spec"]["strategy"], json::parse(R"({"type":"Recreate"})"));
  EXPECT_FALSE(out["metadata"].contains("labels"));
}

TEST(StrategicMergePatchBuiltin, PodContainersAndVolumes) {
  const kctl::api::TypeDef* pod = Schema::builtin().type("Pod");
  if (!pod) GTEST_SKIP() << "Pod is not in the builtin schema yet";
  json live = json::parse(R"({"metadata":{"name":"p","finalizers":["a"]},"spec":{
      "containers":[{"name":"c","image":"nginx:1.25","ports":[{"containerPort":80,"protocol":"TCP"}],
                     "volumeMounts":[{"name":"v","mountPath":"/data"}]}],
      "volumes":[{"name":"v","emptyDir":{}}]}})");
  json out = strategic_merge_patch(live, json::parse(R"({"metadata":{"finalizers":["b"]},"spec":{
      "containers":[{"name":"c","image":"nginx:1.26","volumeMounts":[{"mountPath":"/logs","name":"l"}]}],
      "volumes":[{"name":"l","emptyDir":{}}]}})"), pod);
  EXPECT_EQ(out["metadata"]["finalizers"], json::parse(R"(["b","a"])"));
  EXPECT_EQ(out["spec"]["containers"][0]["image"], "nginx:1.26");
  EXPECT_EQ(out["spec"]["containers"][0]["ports"], live["spec"]["containers"][0]["ports"]);
  EXPECT_EQ(out["spec"]["containers"][0]["volumeMounts"].size(), 2u);
  EXPECT_EQ(out["spec"]["volumes"].size(), 2u);
}

TEST(StrategicMergePatchBuiltin, ServicePortsMergeByPort) {
  const kctl::api::TypeDef* service = Schema::builtin().type("Service");
  if (!service) GTEST_SKIP() << "Service is not in the builtin schema yet";
  json live = json::parse(R"({"spec":{"ports":[{"port":80,"targetPort":8080,"protocol":"TCP"},{"port":443,"protocol":"TCP"}]}})");
  json out = strategic_merge_patch(live, json::parse(R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})"), service);
  EXPECT_EQ(out["spec"]["ports"], json::parse(R"([{"port":80,"targetPort":9090,"protocol":"TCP"},{"port":443,"protocol":"TCP"}])"));
}

}  // namespace
