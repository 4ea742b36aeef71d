// What the kctl integration suites share: a kctl-apiserver with the real kubectl 1.33 and kctl pointed at it through
// the same kubeconfig file, and the comparison of their outputs column by column (AGE values ignored).
#pragma once

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace kctl::test {

// kctl's own binary, built beside the apiserver.
inline std::string kctl_binary() { return std::string(KCTL_BIN_DIR) + "/kctl"; }

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The cells of a table line: text separated by runs of two or more spaces (kubectl pads columns with at least 3).
inline std::vector<std::string> cells(std::string line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
  std::vector<std::string> out;
  static const std::regex kGap(" {2,}|\t");
  std::sregex_token_iterator it(line.begin(), line.end(), kGap, -1), end;
  for (; it != end; ++it) out.push_back(*it);
  return out;
}

// A cell that says how old something is ("5s", "3m2s", "<unknown>", "2m (x3 over 5m)"): its value may differ
// between two runs a moment apart.
inline bool is_age(const std::string& cell) {
  static const std::regex kAge(R"((\d+[smhdy])+( \(x\d+ over (\d+[smhdy])+\))?|<unknown>|<invalid>)");
  return std::regex_match(cell, kAge);
}

// Compares kubectl's and kctl's text the way a user reads it: line by line and column by column, with ages
// ignored and the tool's name in messages ("kubectl apply" / "kctl apply") not counted as a difference.
inline ::testing::AssertionResult same_columns(std::string expected, std::string actual) {
  auto normalize = [](std::string s) {
    s = std::regex_replace(s, std::regex(R"(\bkubectl(\s|\.1\.33|"|'|$))"), "kctl$1");
    s = std::regex_replace(s, std::regex(R"(kctl\.kubernetes\.io)"), "kubectl.kubernetes.io");
    return s;
  };
  expected = normalize(expected);
  actual = normalize(actual);
  if (expected == actual) return ::testing::AssertionSuccess();
  auto e = split_lines(expected), a = split_lines(actual);
  if (e.size() != a.size())
    return ::testing::AssertionFailure() << e.size() << " lines expected, " << a.size() << " printed\n--- kubectl:\n"
                                         << expected << "--- kctl:\n" << actual;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == a[i]) continue;
    auto ce = cells(e[i]), ca = cells(a[i]);
    bool same = ce.size() == ca.size();
    for (size_t j = 0; same && j < ce.size(); ++j)
      if (ce[j] != ca[j] && !(is_age(ce[j]) && is_age(ca[j]))) same = false;
    if (!same)
      return ::testing::AssertionFailure() << "line " << i + 1 << " differs\n  kubectl: [" << e[i] << "]\n  kctl:    ["
                                           << a[i] << "]\n--- kubectl:\n" << expected << "--- kctl:\n" << actual;
  }
  return ::testing::AssertionSuccess();
}

// kubectl's client-go logs each failed discovery attempt ("E1128 03:30:27.018102 8067 memcache.go:265] ...")
// before its error line; kctl does not log.
inline std::string without_klog(const std::string& s) {
  std::string out;
  for (const auto& line : split_lines(s))
    if (!std::regex_match(line, std::regex(R"([EIW]\d{4} \d\d:\d\d:\d\d\.\d+ .*)"))) out += line + "\n";
  return out;
}

class KctlTest : public ::testing::Test {
 protected:
  // Flags for the test's kctl-apiserver beyond the harness's own.
  virtual std::vector<std::string> server_args() { return {}; }
  void SetUp() override {
    server_ = std::make_unique<ApiServerProcess>(server_args());
    kubectl_ = std::make_unique<Kubectl>(server_->url());
    ASSERT_FALSE(kubectl_->binary().empty()) << "kubectl not found";
    dir_ = make_temp_dir("kctl");
  }

  // kctl with the kubeconfig file kubectl uses, and a private HOME.
  CmdResult kctl(const std::vector<std::string>& args, const std::string& input = "", int timeout = 60) {
    std::vector<std::string> argv = {"env", "HOME=" + dir_, kctl_binary(), "--kubeconfig=" + kubectl_->kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input, timeout);
  }
  CmdResult kubectl(const std::vector<std::string>& args, const std::string& input = "", int timeout = 60) {
    return (*kubectl_)(args, input, timeout);
  }
  static std::string joined(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += a + " ";
    return s;
  }
  // Runs both with the same arguments and expects the same exit code, stdout and stderr (column by column).
  void same(const std::vector<std::string>& args, const std::string& input = "") {
    auto k = kubectl(args, input);
    auto c = kctl(args, input);
    EXPECT_EQ(k.rc, c.rc) << joined(args) << "\nkubectl: " << k.out << k.err << "\nkctl: " << c.out << c.err;
    EXPECT_TRUE(same_columns(k.out, c.out)) << "stdout of " << joined(args);
    EXPECT_TRUE(same_columns(k.err, c.err)) << "stderr of " << joined(args);
  }
  // Both tools with only `kubeconfig` (and a private HOME): the same exit code, stdout and stderr (column by column,
  // kubectl's discovery log lines left out). Returns kctl's result.
  CmdResult same_with_kubeconfig(const std::string& kubeconfig, std::vector<std::string> args) {
    args.insert(args.begin(), "--kubeconfig=" + kubeconfig);
    std::vector<std::string> k = {"env", "HOME=" + dir_, kubectl_->binary(), "--cache-dir=" + dir_ + "/kcache"};
    std::vector<std::string> c = {"env", "HOME=" + dir_, kctl_binary()};
    k.insert(k.end(), args.begin(), args.end());
    c.insert(c.end(), args.begin(), args.end());
    auto kr = run(k), cr = run(c);
    kr.err = without_klog(kr.err);
    EXPECT_EQ(kr.rc, cr.rc) << joined(args) << "\nkubectl: " << kr.out << kr.err << "\nkctl: " << cr.out << cr.err;
    EXPECT_TRUE(same_columns(kr.out, cr.out)) << "stdout of " << joined(args);
    EXPECT_TRUE(same_columns(kr.err, cr.err)) << "stderr of " << joined(args);
    return cr;
  }
  CmdResult ok(const std::vector<std::string>& args, const std::string& input = "") {
    auto r = kctl(args, input);
    EXPECT_EQ(r.rc, 0) << "kctl " << joined(args) << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r;
  }
  std::string file(const std::string& name, const std::string& content) { return write_file(dir_, name, content); }

  std::unique_ptr<ApiServerProcess> server_;
  std::unique_ptr<Kubectl> kubectl_;
  std::string dir_;
};

// Objects of every kind the describers and printers know, for the comparisons.
inline const char* kCompareManifests = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    tier: front
  annotations:
    note: hello
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c"]
    args: ["sleep 1000"]
    ports:
    - containerPort: 8080
    env:
    - name: MODE
      value: fast
    resources:
      limits:
        cpu: 200m
        memory: 64Mi
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    emptyDir: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels:
    app: api
spec:
  replicas: 2
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: a
        image: img-a1
        ports:
        - containerPort: 80
        - containerPort: 443
        env:
        - name: XV
          value: "1"
      - name: b
        image: img-b
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc1
spec:
  replicas: 1
  template:
    metadata:
      labels:
        app: rc1
    spec:
      containers:
      - name: c
        image: nginx
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs1
spec:
  replicas: 2
  selector:
    matchLabels:
      app: rs1
  template:
    metadata:
      labels:
        app: rs1
    spec:
      containers:
      - name: c
        image: nginx:1.25
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:  # one key: kubectl describe prints a ConfigMap's data in Go's random map order
  mode: fast
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels:
    team: a
---
apiVersion: v1
kind: Node
metadata:
  name: node1
  labels:
    kubernetes.io/hostname: node1
    node-role.kubernetes.io/control-plane: ""
spec:
  podCIDR: 10.244.1.0/24
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: l1
spec:
  holderIdentity: me
  leaseDurationSeconds: 15
)";

}  // namespace kctl::test
