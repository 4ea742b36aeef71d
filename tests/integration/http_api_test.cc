// The apiserver over plain HTTP, as any client sees it: every error code with its Status, compare-and-swap,
// watch streams (replay from a resourceVersion, selectors, 410 after compaction), discovery and OpenAPI.
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

using namespace kctl::test;
using nlohmann::json;

namespace {

class HttpApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ApiServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  kctl::http::Response req(const std::string& method, const std::string& path, const std::string& body = "",
                           const std::string& content_type = "application/json") {
    kctl::http::Headers h;
    if (!body.empty()) h.emplace("Content-Type", content_type);
    return server_->client().request(method, path, body, h);
  }
  static json pod(const std::string& name, const json& labels = json::object()) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"labels", labels}}},
            {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
  }
  static void expect_status(const kctl::http::Response& r, int code, const std::string& reason) {
    EXPECT_EQ(r.status, code) << r.body;
    json s = parse_json(r.body);
    EXPECT_EQ(s.value("kind", ""), "Status") << r.body;
    EXPECT_EQ(s.value("code", 0), code) << r.body;
    EXPECT_EQ(s.value("reason", ""), reason) << r.body;
  }
  static ApiServerProcess* server_;
};
ApiServerProcess* HttpApi::server_ = nullptr;

const std::string kPods = "/api/v1/namespaces/default/pods";

}  // namespace

TEST_F(HttpApi, CreateGetListDelete) {
  auto r = req("POST", kPods, pod("p1", {{"app", "a"}}).dump());
  ASSERT_EQ(r.status, 201) << r.body;
  json created = parse_json(r.body);
  EXPECT_FALSE(created["metadata"].value("uid", "").empty());
  EXPECT_FALSE(created["metadata"].value("resourceVersion", "").empty());
  EXPECT_EQ(created["spec"]["restartPolicy"], "Always");  // defaulted
  EXPECT_EQ(created["status"]["phase"], "Pending");
  r = req("GET", kPods + "/p1");
  EXPECT_EQ(r.status, 200);
  r = req("GET", kPods + "?labelSelector=app%3Da");
  json list = parse_json(r.body);
  EXPECT_EQ(list["kind"], "PodList");
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["kind"], "Pod");
  r = req("GET", kPods + "?labelSelector=app+notin+%28a%29");
  EXPECT_EQ(parse_json(r.body)["items"].size(), 0u);
  r = req("DELETE", kPods + "/p1");
  EXPECT_EQ(r.status, 200) << r.body;
  expect_status(req("GET", kPods + "/p1"), 404, "NotFound");
}

TEST_F(HttpApi, ErrorCodes) {
  // 400: not JSON
  expect_status(req("POST", kPods, "{nope"), 400, "BadRequest");
  // 404: unknown object, unknown resource, unknown namespace
  expect_status(req("GET", kPods + "/missing"), 404, "NotFound");
  expect_status(req("GET", "/api/v1/namespaces/default/widgets"), 404, "NotFound");
  expect_status(req("POST", "/api/v1/namespaces/nowhere/pods", pod("x").dump()), 404, "NotFound");
  // 405: PUT on a collection
  expect_status(req("PUT", kPods, pod("x").dump()), 405, "MethodNotAllowed");
  // 409 AlreadyExists
  ASSERT_EQ(req("POST", kPods, pod("dup").dump()).status, 201);
  auto r = req("POST", kPods, pod("dup").dump());
  expect_status(r, 409, "AlreadyExists");
  EXPECT_EQ(parse_json(r.body)["message"], "pods \"dup\" already exists");
  // 413: a body over 3 MiB
  json big = pod("big");
  big["metadata"]["annotations"] = {{"x", std::string(3 * 1024 * 1024 + 10, 'a')}};
  expect_status(req("POST", kPods, big.dump()), 413, "RequestEntityTooLarge");
  // 415: unknown patch type
  expect_status(req("PATCH", kPods + "/dup", "{}", "application/x-nope"), 415, "UnsupportedMediaType");
  // 422 with one cause per bad field
  json bad = pod("Bad_Name");
  bad["spec"]["containers"][0].erase("image");
  bad["spec"]["restartPolicy"] = "Sometimes";
  r = req("POST", kPods, bad.dump());
  expect_status(r, 422, "Invalid");
  json causes = parse_json(r.body)["details"]["causes"];
  std::set<std::string> fields;
  for (const auto& c : causes) fields.insert(c.value("field", ""));
  EXPECT_TRUE(fields.count("metadata.name")) << r.body;
  EXPECT_TRUE(fields.count("spec.containers[0].image")) << r.body;
  EXPECT_TRUE(fields.count("spec.restartPolicy")) << r.body;
  // 400 for unknown fields under fieldValidation=Strict, accepted (and kept) otherwise
  json extra = pod("extra");
  extra["spec"]["bogus"] = 1;
  r = req("POST", kPods + "?fieldValidation=Strict", extra.dump());
  expect_status(r, 400, "BadRequest");
  EXPECT_NE(parse_json(r.body).value("message", "").find("unknown field \"spec.bogus\""), std::string::npos) << r.body;
  r = req("POST", kPods + "?fieldValidation=Warn", extra.dump());
  EXPECT_EQ(r.status, 201);
  EXPECT_NE(kctl::http::header(r.headers, "Warning").find("spec.bogus"), std::string::npos);
  EXPECT_EQ(parse_json(r.body)["spec"]["bogus"], 1);
  // 400: wrong JSON type for a typed field
  json wrong = pod("wrong");
  wrong["spec"]["containers"] = "nope";
  expect_status(req("POST", kPods, wrong.dump()), 400, "BadRequest");
}

TEST_F(HttpApi, CompareAndSwapConflicts) {
  auto r = req("POST", kPods, pod("cas").dump());
  ASSERT_EQ(r.status, 201);
  json obj = parse_json(r.body);
  std::string rv1 = obj["metadata"]["resourceVersion"];
  obj["metadata"]["labels"] = {{"v", "2"}};
  r = req("PUT", kPods + "/cas", obj.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(parse_json(r.body)["metadata"]["resourceVersion"], rv1);
  // the same write again carries the old resourceVersion: 409 Conflict
  obj["metadata"]["labels"] = {{"v", "3"}};
  r = req("PUT", kPods + "/cas", obj.dump());
  expect_status(r, 409, "Conflict");
  EXPECT_NE(parse_json(r.body).value("message", "").find("the object has been modified"), std::string::npos);
  // a merge patch naming a stale resourceVersion is refused too
  r = req("PATCH", kPods + "/cas", json{{"metadata", {{"resourceVersion", rv1}}}}.dump(), "application/merge-patch+json");
  expect_status(r, 409, "Conflict");
  // a delete precondition on a stale resourceVersion
  r = req("DELETE", kPods + "/cas", json{{"preconditions", {{"resourceVersion", rv1}}}}.dump());
  expect_status(r, 409, "Conflict");
}

// Patches that name no resourceVersion apply to whatever is current: racing writers never see 409, as with
// kube-apiserver (kubectl annotate/label/scale/set send such patches while controllers write the same object).
TEST_F(HttpApi, PatchesWithoutResourceVersionNeverConflict) {
  ASSERT_EQ(req("POST", kPods, pod("racy").dump()).status, 201);
  constexpr int kWriters = 4, kPatches = 60;
  std::vector<std::thread> writers;
  std::vector<std::vector<int>> codes(kWriters);
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      kctl::http::Client c(server_->url());
      kctl::http::Headers h{{"Content-Type", "application/merge-patch+json"}};
      for (int i = 0; i < kPatches; ++i) {
        json p = {{"metadata", {{"annotations", {{"w" + std::to_string(w), std::to_string(i)}}}}}};
        codes[w].push_back(c.request("PATCH", kPods + "/racy", p.dump(), h).status);
      }
    });
  for (auto& t : writers) t.join();
  for (int w = 0; w < kWriters; ++w)
    for (int code : codes[w]) ASSERT_EQ(code, 200) << "writer " << w;
  json got = parse_json(req("GET", kPods + "/racy").body);
  for (int w = 0; w < kWriters; ++w)
    EXPECT_EQ(got["metadata"]["annotations"]["w" + std::to_string(w)], std::to_string(kPatches - 1));
}

TEST_F(HttpApi, WatchReplaysFromResourceVersionAndFiltersBySelector) {
  auto r = req("POST", kPods, pod("w1", {{"team", "x"}}).dump());
  std::string from = parse_json(r.body)["metadata"]["resourceVersion"];
  req("POST", kPods, pod("w2", {{"team", "y"}}).dump());
  req("PATCH", kPods + "/w1", json{{"metadata", {{"labels", {{"team", "y"}}}}}}.dump(), "application/merge-patch+json");
  req("DELETE", kPods + "/w2");
  std::vector<json> events;
  kctl::http::Client c(server_->url());
  c.stream("GET", kPods + "?watch=true&resourceVersion=" + from + "&labelSelector=team%3Dy&timeoutSeconds=1", {},
           [&](std::string_view chunk) {
             std::string s(chunk);
             size_t p = 0;
             while (p < s.size()) {
               size_t e = s.find('\n', p);
               if (e == std::string::npos) e = s.size();
               if (e > p) events.push_back(parse_json(s.substr(p, e - p)));
               p = e + 1;
             }
             return true;
           });
  // after `from`: w2 added (matches), w1 relabelled into the selection (ADDED), w2 deleted
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "w2");
  EXPECT_EQ(events[1]["type"], "ADDED");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "w1");
  EXPECT_EQ(events[2]["type"], "DELETED");
  EXPECT_EQ(events[2]["object"]["metadata"]["name"], "w2");
  int64_t prev = std::stoll(from);
  for (const auto& e : events) {
    int64_t rv = std::stoll(e["object"]["metadata"]["resourceVersion"].get<std::string>());
    EXPECT_GT(rv, prev);
    prev = rv;
  }
}

TEST_F(HttpApi, WatchStreamsLiveEventsInTableForm) {
  std::vector<json> events;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    req("POST", kPods, pod("live").dump());
  });
  kctl::http::Client c(server_->url());
  auto resp = c.stream("GET", kPods + "?watch=1&fieldSelector=metadata.name%3Dlive&timeoutSeconds=3",
                       {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}},
                       [&](std::string_view chunk) {
                         events.push_back(parse_json(std::string(chunk)));
                         return false;  // one event is enough
                       });
  writer.join();
  EXPECT_EQ(kctl::http::header(resp.headers, "Transfer-Encoding"), "chunked");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["kind"], "Table");
  EXPECT_EQ(events[0]["object"]["rows"][0]["cells"][0], "live");
}

TEST_F(HttpApi, DiscoveryAndOpenApi) {
  kctl::http::Headers agg = {{"Accept",
                              "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}};
  auto r = server_->client().request("GET", "/apis", "", agg);
  EXPECT_EQ(kctl::http::header(r.headers, "Content-Type"), "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  json apis = parse_json(r.body);
  std::set<std::string> groups;
  for (const auto& g : apis["items"]) groups.insert(g["metadata"]["name"]);
  EXPECT_TRUE(groups.count("apps"));
  EXPECT_FALSE(groups.count(""));
  r = req("GET", "/api/v1");
  EXPECT_EQ(parse_json(r.body)["kind"], "APIResourceList");
  r = req("GET", "/version/");
  EXPECT_EQ(parse_json(r.body)["major"], "1");
  r = req("GET", "/openapi/v3");
  json index = parse_json(r.body);
  std::string url = index["paths"]["apis/apps/v1"]["serverRelativeURL"];
  r = req("GET", url);
  json doc = parse_json(r.body);
  json patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
  bool has_fv = false;
  for (const auto& p : patch["parameters"]) has_fv = has_fv || p["name"] == "fieldValidation";
  EXPECT_TRUE(has_fv);
  // OpenAPI v2 for kubectl 1.27-1.31, in the protobuf form they ask for
  r = server_->client().request("GET", "/openapi/v2", "",
                                {{"Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(kctl::http::header(r.headers, "Content-Type").find("protobuf"), std::string::npos);
  r = req("GET", "/openapi/v2");
  EXPECT_TRUE(parse_json(r.body)["definitions"].contains("io.k8s.api.core.v1.Pod"));
}

TEST_F(HttpApi, ServicesGetClusterIpsAndNodePortsWithoutDuplicates) {
  const std::string svcs = "/api/v1/namespaces/default/services";
  json svc = {{"metadata", {{"name", "np"}}},
              {"spec", {{"type", "NodePort"}, {"ports", json::array({{{"port", 80}}})}}}};
  auto r = req("POST", svcs, svc.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  json a = parse_json(r.body);
  EXPECT_EQ(a["spec"]["ports"][0]["targetPort"], 80);
  int node_port = a["spec"]["ports"][0]["nodePort"];
  EXPECT_GE(node_port, 30000);
  EXPECT_LE(node_port, 32767);
  // the same node port and cluster IP requested by another Service: 422
  json taken = {{"metadata", {{"name", "np2"}}},
                {"spec", {{"type", "NodePort"}, {"ports", json::array({{{"port", 80}, {"nodePort", node_port}}})}}}};
  expect_status(req("POST", svcs, taken.dump()), 422, "Invalid");
  json ip_taken = {{"metadata", {{"name", "ip2"}}},
                   {"spec", {{"clusterIP", a["spec"]["clusterIP"]}, {"ports", json::array({{{"port", 80}}})}}}};
  expect_status(req("POST", svcs, ip_taken.dump()), 422, "Invalid");
  // released on delete: now it can be taken
  req("DELETE", svcs + "/np");
  r = req("POST", svcs, taken.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  // the kubernetes Service points at the apiserver
  r = req("GET", "/api/v1/namespaces/default/endpoints/kubernetes");
  EXPECT_EQ(parse_json(r.body)["subsets"][0]["ports"][0]["port"], server_->port());
}

TEST_F(HttpApi, NamespaceDeletionTerminatesAndRefusesNewObjects) {
  auto r = req("POST", "/api/v1/namespaces", json{{"metadata", {{"name", "doomed"}}}}.dump());
  ASSERT_EQ(r.status, 201);
  r = req("DELETE", "/api/v1/namespaces/doomed");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse_json(r.body)["status"]["phase"], "Terminating");
  r = req("POST", "/api/v1/namespaces/doomed/configmaps", json{{"metadata", {{"name", "c"}}}}.dump());
  expect_status(r, 403, "Forbidden");
  expect_status(req("DELETE", "/api/v1/namespaces/default"), 403, "Forbidden");
}

TEST_F(HttpApi, GracefulPodDeletionWaitsForTheKubelet) {
  json p = pod("bound");
  p["spec"]["nodeName"] = "node1";
  ASSERT_EQ(req("POST", kPods, p.dump()).status, 201);
  auto r = req("DELETE", kPods + "/bound");
  EXPECT_EQ(r.status, 200);
  json marked = parse_json(r.body);
  EXPECT_TRUE(marked["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(marked["metadata"]["deletionGracePeriodSeconds"], 30);
  EXPECT_EQ(req("GET", kPods + "/bound").status, 200);  // still there until the kubelet confirms
  r = req("DELETE", kPods + "/bound", json{{"gracePeriodSeconds", 0}}.dump());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(req("GET", kPods + "/bound").status, 404);
}

TEST(HttpApiCompaction, WatchFromCompactedRevisionAnswersGone) {
  ApiServerProcess server({"--compaction-interval-seconds=1"});
  auto& c = server.client();
  kctl::http::Headers h = {{"Content-Type", "application/json"}};
  json p = {{"metadata", {{"name", "old"}}},
            {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
  auto r = c.request("POST", kPods, p.dump(), h);
  ASSERT_EQ(r.status, 201);
  std::string first = parse_json(r.body)["metadata"]["resourceVersion"];
  kctl::http::Headers mp = {{"Content-Type", "application/merge-patch+json"}};
  for (int i = 0; i < 3; ++i)
    c.request("PATCH", kPods + "/old", json{{"metadata", {{"labels", {{"i", std::to_string(i)}}}}}}.dump(), mp);
  // The compactor compacts to the revision it saw one interval earlier: after two intervals `first` is gone.
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));
  std::string body;
  c.stream("GET", kPods + "?watch=true&resourceVersion=" + first, {}, [&](std::string_view chunk) {
    body += chunk;
    return true;
  });
  json ev = parse_json(body.substr(0, body.find('\n')));
  EXPECT_EQ(ev["type"], "ERROR") << body;
  EXPECT_EQ(ev["object"]["code"], 410) << body;
  EXPECT_EQ(ev["object"]["reason"], "Expired") << body;
  // a watch from the current revision still works, and so does everything stored
  r = c.request("GET", kPods + "/old");
  EXPECT_EQ(parse_json(r.body)["metadata"]["labels"]["i"], "2");
}
