// kctl's configuration and the verbs around it, against a real kctl-apiserver and compared with kubectl 1.33:
// `config` reading and writing kubeconfig files (KUBECONFIG with several files), one kubeconfig file used by both
// tools, --help of every verb, bash completion, and errors on stderr with kubectl's exit codes.
#include <algorithm>
#include <filesystem>
#include <regex>

#include "kctl_compare.h"

using namespace kctl::test;

namespace {

class KctlConfigTest : public KctlTest {
 protected:
  void SetUp() override {
    KctlTest::SetUp();
    // The first file is the test server's context (current); the second adds a cluster nobody listens on, with a
    // token user and a context namespace, and becomes current with `config use-context other`.
    first_ = "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: " + server_->url() +
             "\ncontexts:\n- name: s\n  context:\n    cluster: s\n    user: s\ncurrent-context: s\nusers:\n"
             "- name: s\n  user: {}\n";
    second_ = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: http://127.0.0.1:1\n"
              "    insecure-skip-tls-verify: true\ncontexts:\n- name: other\n  context:\n    cluster: other\n"
              "    user: tok\n    namespace: team\nusers:\n- name: tok\n  user:\n    token: secret-token\n";
    for (const char* tool : {"kubectl", "kctl"}) {
      std::string d = dir_ + "/" + tool;
      std::filesystem::create_directories(d);
      write_file(d, "first", first_);
      write_file(d, "second", second_);
    }
  }
  // `tool` (kubectl or kctl) with KUBECONFIG=its first:second files and nothing else.
  CmdResult with_files(const std::string& tool, const std::vector<std::string>& args) {
    std::string d = dir_ + "/" + tool;
    std::vector<std::string> argv = {"env", "HOME=" + d, "KUBECONFIG=" + d + "/first:" + d + "/second"};
    if (tool == "kubectl") {
      argv.push_back(kubectl_->binary());
      argv.push_back("--cache-dir=" + d + "/cache");
    } else {
      argv.push_back(kctl_binary());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  // Both tools on their own copies: the same output, exit code, and files left behind.
  void same_with_files(const std::vector<std::string>& args) {
    auto k = with_files("kubectl", args), c = with_files("kctl", args);
    k.err = without_klog(k.err);
    // get-clusters and get-users list a Go map: kubectl's order is random, so both are compared sorted.
    if (args.size() == 2 && (args[1] == "get-clusters" || args[1] == "get-users")) {
      for (auto* r : {&k, &c}) {
        auto lines = split_lines(r->out);
        std::sort(lines.begin(), lines.end());
        r->out.clear();
        for (const auto& l : lines) r->out += l + "\n";
      }
    }
    EXPECT_EQ(k.rc, c.rc) << joined(args) << "\nkubectl: " << k.out << k.err << "\nkctl: " << c.out << c.err;
    EXPECT_TRUE(same_columns(k.out, c.out)) << "stdout of " << joined(args);
    EXPECT_TRUE(same_columns(k.err, c.err)) << "stderr of " << joined(args);
    for (const char* f : {"first", "second"})
      EXPECT_EQ(run({"cat", dir_ + "/kubectl/" + f}).out, run({"cat", dir_ + "/kctl/" + f}).out)
          << f << " after " << joined(args);
  }

  std::string first_, second_;
};

TEST_F(KctlConfigTest, ConfigVerbsWithSeveralFilesMatchKubectl) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"config", "view"},
           {"config", "view", "--minify"},
           {"config", "view", "--raw"},
           {"config", "view", "-o", "json"},
           {"config", "view", "-o", "jsonpath={.users[*].name}"},
           {"config", "get-contexts"},
           {"config", "get-contexts", "-o", "name"},
           {"config", "get-contexts", "other"},
           {"config", "get-contexts", "nope"},
           {"config", "current-context"},
           {"config", "get-clusters"},
           {"config", "get-users"},
           {"get", "ns"},  // the current context is the test server's
           {"config", "use-context", "other"},
           {"config", "get-contexts"},
           {"config", "view", "--minify"},
           {"config", "set-context", "--current", "--namespace=ns2"},
           {"config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}"},
           {"config", "use-context", "nope"},
           {"config", "use-context", "s"},
           {"config", "set-context", "--current", "--namespace=team-b"},
           {"config", "get-contexts"},
           {"get", "pods"},  // in team-b now
           {"get", "pods", "--context=other", "--request-timeout=2s"},  // nobody listens there
           {"config", "view", "--raw"},
       })
    same_with_files(args);
}

// The kubeconfig the other tests share is kubectl's own; here one with a token user, a context namespace and a
// second context, read by both tools, with the flags that override it.
TEST_F(KctlConfigTest, OneKubeconfigFileServesBothTools) {
  std::string kc = file("shared", "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: " +
                                      server_->url() +
                                      "\ncontexts:\n- name: team\n  context:\n    cluster: s\n    user: u\n"
                                      "    namespace: team-a\n- name: plain\n  context:\n    cluster: s\n    user: u\n"
                                      "current-context: team\nusers:\n- name: u\n  user:\n    token: abc\n");
  ok({"create", "namespace", "team-a"});
  ok({"create", "configmap", "in-team", "-n", "team-a", "--from-literal=a=b"});
  ok({"create", "configmap", "in-default", "--from-literal=a=b"});
  auto both = [&](const std::vector<std::string>& args) { return same_with_kubeconfig(kc, args); };
  EXPECT_TRUE(contains(both({"get", "cm"}).out, "in-team"));
  EXPECT_TRUE(contains(both({"get", "cm", "--context=plain"}).out, "in-default"));
  both({"get", "cm", "-n", "default"});
  both({"get", "cm", "--namespace=default", "--context=team"});
  both({"get", "cm", "--server=" + server_->url(), "--token=other"});
  both({"get", "cm", "--context=nope"});
  both({"get", "cm", "--cluster=nope"});
  both({"get", "cm", "--user=nope"});
  both({"config", "view"});
  both({"config", "current-context"});
  // Without any configuration kctl talks to http://127.0.0.1:8080 (nothing listens there in the test).
  auto r = run({"env", "HOME=" + dir_ + "/nowhere", "KUBECONFIG=", kctl_binary(), "get", "pods"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "The connection to the server 127.0.0.1:8080 was refused - did you specify the right host or port?\n");
}

// Every verb answers --help with its usage line as kubectl's (the tool's name aside) and examples; the usage line of
// the verbs both have is compared with kubectl's.
TEST_F(KctlConfigTest, HelpForEveryVerb) {
  auto usage_line = [](const std::string& help) {
    auto p = help.find("Usage:\n");
    if (p == std::string::npos) return std::string();
    auto line = help.substr(p + 7, help.find('\n', p + 7) - p - 7);
    return line;
  };
  for (const std::string verb : {"get", "describe", "create", "replace", "apply", "delete", "patch", "label",
                                 "annotate", "edit", "scale", "run", "expose", "set", "set image", "rollout", "wait", "logs", "exec",
                                 "port-forward", "api-resources", "explain", "cluster-info", "version", "config",
                                 "completion", "rollout status", "rollout history", "rollout undo", "rollout restart",
                                 "rollout pause", "rollout resume", "config view", "config use-context",
                                 "config set-context", "config get-contexts", "config current-context",
                                 "config get-clusters", "config get-users", "config delete-context",
                                 "config set-cluster"}) {
    std::vector<std::string> args;
    for (size_t p = 0, q; p <= verb.size(); p = q + 1) {
      q = verb.find(' ', p);
      if (q == std::string::npos) q = verb.size();
      args.push_back(verb.substr(p, q - p));
    }
    args.push_back("--help");
    auto c = kctl(args);
    EXPECT_EQ(c.rc, 0) << verb << ": " << c.err;
    EXPECT_TRUE(c.err.empty()) << verb << ": " << c.err;
    std::string cu = usage_line(c.out);
    EXPECT_EQ(cu.rfind("  kctl " + verb, 0), 0u) << verb << " --help:\n" << c.out;
    if (verb != "config" && verb != "rollout" && verb != "set" && verb != "completion" && verb != "cluster-info" && verb != "version" &&
        verb != "api-resources") {
      EXPECT_TRUE(contains(c.out, "Examples:\n")) << verb << " --help:\n" << c.out;
    }
    // Where kctl lacks what kubectl's usage line offers: kustomize (-k) and explain's OpenAPI v2 output.
    if (verb == "apply" || verb == "delete" || verb == "explain") continue;
    auto k = kubectl(args);
    EXPECT_EQ(k.rc, 0) << verb;
    std::string ku = usage_line(k.out);
    ku.replace(ku.find("kubectl"), 7, "kctl");
    EXPECT_EQ(ku, cu) << verb;
  }
  auto top = kctl({"--help"});
  EXPECT_EQ(top.rc, 0);
  EXPECT_TRUE(contains(top.out, "Basic Commands (Beginner):")) << top.out;
}

TEST_F(KctlConfigTest, ErrorsGoToStderrWithKubectlsExitCodes) {
  // (kubectl takes a first word it does not know for a plugin, which the test's --kubeconfig before it breaks.)
  auto r = kctl({"nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.err, "error: unknown command \"nope\" for \"kctl\"\nRun 'kctl --help' for usage.\n");
  // A verb group without its sub-verb, or a sub-verb without its argument, prints the help and fails, as kubectl
  // does (the help texts differ in their examples and in the sub-verbs kctl lacks, so only the error is compared).
  for (const auto& args : std::vector<std::vector<std::string>>{{"rollout"}, {"config"}, {"config", "use-context"}}) {
    auto k = kubectl(args), c = kctl(args);
    EXPECT_EQ(k.rc, c.rc) << joined(args);
    EXPECT_TRUE(contains(c.out, "Usage:\n")) << joined(args) << c.out;
    auto last_line = [](const std::string& s) { auto l = split_lines(s); return l.empty() ? std::string() : l.back(); };
    if (args.size() == 2) {
      EXPECT_EQ(last_line(k.err), last_line(c.err)) << joined(args);
    }
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"get", "pods", "--nope"},
           {"get", "nopes"},
           {"delete", "pod"},
           {"scale", "deploy", "x"},
           {"label", "pod"},
           {"completion"},
           {"completion", "fish2"},
           {"exec", "nope", "--", "true"},
           {"logs", "nope"},
       })
    same(args);
}

// The bash completion script loads in bash and completes verbs, sub-verbs, resource types and flags.
TEST_F(KctlConfigTest, BashCompletion) {
  auto r = ok({"completion", "bash"});
  std::string script = file("completion.bash", r.out);
  EXPECT_EQ(run({"bash", "-n", script}).rc, 0);
  // Completes COMP_WORDS as bash would for "kctl <words>" with the cursor on the last word.
  auto complete = [&](const std::string& line) {
    std::string prog = "source " + script + "\nCOMP_WORDS=(" + line + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]}-1))\n" +
                       "COMP_LINE='" + line + "'\nCOMP_POINT=${#COMP_LINE}\n" +
                       "fn=$(complete -p kctl | sed -E 's/.*-F ([^ ]+).*/\\1/')\n$fn kctl\necho \"${COMPREPLY[*]}\"\n";
    return run({"env", "HOME=" + dir_, "PATH=" + std::string(KCTL_BIN_DIR) + ":/usr/bin:/bin", "bash", "-c", prog}).out;
  };
  EXPECT_TRUE(contains(complete("kctl ge"), "get")) << complete("kctl ge");
  EXPECT_TRUE(contains(complete("kctl get po"), "pods")) << complete("kctl get po");
  EXPECT_TRUE(contains(complete("kctl rollout st"), "status")) << complete("kctl rollout st");
  EXPECT_TRUE(contains(complete("kctl get pods --all-n"), "--all-namespaces")) << complete("kctl get pods --all-n");
}

}  // namespace
