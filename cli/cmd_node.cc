// Joining nodes, as kubeadm does it: `kctl token create|list|delete` keeps bootstrap tokens (Secrets
// kube-system/bootstrap-token-ID), and `kctl node join MASTER --token ID.SECRET --ca-cert-hash sha256:...` finds the
// apiserver's CA in kube-public/cluster-info, trusts it only if its public key has the pin it was given, checks the
// token against the apiserver, and writes the kubelet's bootstrap kubeconfig.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "api/bootstrap_token.h"
#include "api/codec.h"
#include "api/go_json.h"
#include "api/http.h"
#include "api/kubeconfig.h"
#include "api/pki.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/tabwriter.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

constexpr const char* kDefaultTokenGroup = "system:bootstrappers:kubeadm:default-node-token";
constexpr const char* kSecretsPath = "/api/v1/namespaces/kube-system/secrets";
constexpr const char* kClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
// Where `kctl node join` puts the kubelet's bootstrap kubeconfig (kubeadm: /etc/kubernetes/bootstrap-kubelet.conf).
constexpr const char* kDefaultBootstrapKubeconfig = "/etc/kctl/bootstrap-kubelet.conf";

bool valid_token(const std::string& t) { return api::parse_bootstrap_token(t).has_value(); }

std::string random_chars(size_t n) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;  // the kernel's random source
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kAlphabet[pick(rd)];
  return out;
}

std::string data_field(const json& secret, const char* key) { return api::secret_data(secret, key).value_or(""); }

// kubeadm's TTL column: "23h", "59m", "<forever>", "<invalid>" once past.
std::string ttl_text(const std::string& expiration) {
  if (expiration.empty()) return "<forever>";
  auto t = api::parse_rfc3339(expiration);
  if (!t) return "<invalid>";
  long left = long(t->seconds - std::time(nullptr));
  if (left <= 0) return "<invalid>";
  if (left >= 86400) return std::to_string(left / 86400) + "d";
  if (left >= 3600) return std::to_string(left / 3600) + "h";
  return std::to_string(std::max(1L, left / 60)) + "m";
}

// The cluster's server and CA (PEM) from cluster-info's kubeconfig; throws CliError.
std::pair<std::string, std::string> cluster_of(const json& cluster_info) {
  std::string text = cluster_info.value("/data/kubeconfig"_json_pointer, std::string());
  if (text.empty()) throw CliError("the cluster-info ConfigMap has no kubeconfig");
  json kc;
  try {
    kc = api::decode_yaml(text);
  } catch (const std::exception& e) {
    throw CliError(std::string("the cluster-info ConfigMap's kubeconfig cannot be read: ") + e.what());
  }
  const json& clusters = kc.value("clusters", json::array());
  if (!clusters.is_array() || clusters.empty()) throw CliError("the cluster-info ConfigMap's kubeconfig has no cluster");
  const json& c = clusters[0].value("cluster", json::object());
  auto ca = api::base64_decode(c.value("certificate-authority-data", ""));
  if (!ca || ca->empty()) throw CliError("the cluster-info ConfigMap's kubeconfig has no certificate-authority-data");
  return {c.value("server", ""), *ca};
}

// --- token -------------------------------------------------------------------------------------------------------

int run_token_create(Invocation& inv) {
  std::string ttl = "24h0m0s", description;
  std::vector<std::string> groups = {kDefaultTokenGroup};
  bool print_join = false;
  inv.flags().add_string("ttl", 0, &ttl, "The duration before the token is automatically deleted (e.g. 1s, 2m, 3h). "
                                         "If set to '0', the token will never expire");
  inv.flags().add_string("description", 0, &description, "A human friendly description of how this token is used.");
  inv.flags().add_strings("groups", 0, &groups, "Extra groups that this token will authenticate as when used for "
                                                "authentication. Must match \"\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z\"");
  inv.flags().add_bool("print-join-command", 0, &print_join,
                       "Instead of printing only the token, print the full 'kctl node join' command using the token.");
  std::string join_file;
  inv.flags().add_string("join-command-file", 0, &join_file,
                         "With --print-join-command: also write the command to this file (0600; it holds the token).");
  if (!inv.parse()) return 0;
  if (inv.args().size() > 1) throw UsageError("accepts at most 1 arg(s), received " + std::to_string(inv.args().size()));
  std::string token = inv.args().empty() ? random_chars(6) + "." + random_chars(16) : inv.args()[0];
  if (!valid_token(token))
    throw CliError("the bootstrap token \"" + token + "\" was not of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
  auto seconds = api::parse_duration(ttl);
  if (!seconds || *seconds < 0) throw CliError("invalid argument \"" + ttl + "\" for \"--ttl\" flag: not a duration");
  for (const auto& g : groups)
    if (g.rfind("system:bootstrappers:", 0) != 0)
      throw CliError("group \"" + g + "\" is not of the form system:bootstrappers:NAME");
  std::string id = token.substr(0, 6), secret = token.substr(7);
  json data = {{"token-id", api::base64_encode(id)},
               {"token-secret", api::base64_encode(secret)},
               {"usage-bootstrap-authentication", api::base64_encode("true")},
               {"usage-bootstrap-signing", api::base64_encode("true")}};
  if (*seconds > 0)
    data["expiration"] =
        api::base64_encode(api::format_rfc3339(std::time(nullptr) + int64_t(*seconds), 0, false).value_or(""));
  if (!description.empty()) data["description"] = api::base64_encode(description);
  std::string joined;
  for (const auto& g : groups) joined += (joined.empty() ? "" : ",") + g;
  if (!joined.empty()) data["auth-extra-groups"] = api::base64_encode(joined);
  json obj = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", api::kBootstrapTokenSecretPrefix + id}, {"namespace", "kube-system"}}},
              {"type", api::kBootstrapTokenSecretType},
              {"data", data}};
  RestClient& rest = inv.session().rest();
  // The join command needs the cluster's CA pin, so look first: no token is made for a command that cannot be
  // printed.
  std::string join;
  if (print_join) {
    auto [server, ca] = cluster_of(rest.call("GET", kClusterInfoPath));
    std::string host = server.rfind("https://", 0) == 0 ? server.substr(8) : server;
    join = "kctl node join " + host + " --token " + token + " --ca-cert-hash " + pki::public_key_pin(ca);
  }
  rest.call("POST", kSecretsPath, obj.dump(), "application/json");
  if (print_join && !join_file.empty()) {
    try {
      pki::write_file(join_file, join + "\n", 0600);
    } catch (const std::exception& e) {
      throw CliError("the token was made, but " + join_file + " could not be written: " + e.what());
    }
  }
  inv.out() << (print_join ? join : token) << "\n";
  return 0;
}

int run_token_list(Invocation& inv) {
  if (!inv.parse()) return 0;
  json list = inv.session().rest().call("GET", std::string(kSecretsPath) + "?fieldSelector=" +
                                                   http::url_encode(std::string("type=") + api::kBootstrapTokenSecretType));
  TabWriter tw(inv.out());
  auto row = [&tw](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) tw << cells[i] << (i + 1 < cells.size() ? "\t" : "\n");
  };
  row({"TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"});
  for (const auto& s : list.value("items", json::array())) {
    std::string id = data_field(s, "token-id"), secret = data_field(s, "token-secret");
    if (id.empty() || secret.empty()) continue;
    std::string expiration = data_field(s, "expiration"), usages;
    for (const char* u : {"authentication", "signing"})
      if (data_field(s, (std::string("usage-bootstrap-") + u).c_str()) == "true")
        usages += (usages.empty() ? "" : ",") + std::string(u);
    std::string description = data_field(s, "description"), groups = data_field(s, "auth-extra-groups");
    row({id + "." + secret, ttl_text(expiration), expiration.empty() ? "<never>" : expiration,
            usages.empty() ? "<none>" : usages, description.empty() ? "<none>" : description, groups});
  }
  tw.flush();
  return 0;
}

int run_token_delete(Invocation& inv) {
  if (!inv.parse()) return 0;
  if (inv.args().empty()) throw UsageError("missing subcommand; 'token delete' is missing token of form \"[a-z0-9]{6}\" or \"[a-z0-9]{6}.[a-z0-9]{16}\"");
  RestClient& rest = inv.session().rest();
  for (const auto& arg : inv.args()) {
    std::string id = arg.substr(0, arg.find('.'));
    if (!api::is_bootstrap_token_id(id)) throw CliError("given token didn't match pattern \"[a-z0-9]{6}\" or \"[a-z0-9]{6}.[a-z0-9]{16}\"");
    rest.call("DELETE", std::string(kSecretsPath) + "/" + api::kBootstrapTokenSecretPrefix + id);
    inv.out() << "bootstrap token \"" << id << "\" deleted\n";
  }
  return 0;
}

std::vector<CommandInfo> token_subcommands() {
  return {
      {"create", "", "Create bootstrap tokens on the server",
       "Create a bootstrap token (ID.SECRET) that a joining node presents to the apiserver to ask for its client "
       "certificate. Without an argument a random token is made.",
       "token create [token]", "  # A token valid for 2 hours, printed as the command a worker runs\n"
                               "  kctl token create --ttl 2h --print-join-command",
       run_token_create},
      {"list", "", "List bootstrap tokens on the server", "List the bootstrap tokens on the server.", "token list",
       "  kctl token list", run_token_list},
      {"delete", "", "Delete bootstrap tokens on the server",
       "Delete bootstrap tokens: a node can no longer join with them.", "token delete [token-value] ...",
       "  kctl token delete abcdef", run_token_delete},
  };
}

// --- node join ---------------------------------------------------------------------------------------------------

// Where `kctl node join` without arguments finds what it needs, as a booted worker has it (docs/install.md): the
// kernel command line (kctl.master= kctl.token= kctl.ca-cert-hash=), the systemd credential kctl.join, or
// /etc/kctl/join.conf (KCTL_MASTER=, KCTL_TOKEN=, KCTL_CA_CERT_HASH=, the environment file its unit reads, so also
// the environment). The first place that names a setting wins.
struct JoinSettings {
  std::string master, token, ca_cert_hash;
};

// KEY=VALUE lines (comments and blank lines skipped, quotes around a value removed) into `out` where still unset.
void read_join_lines(const std::string& text, char separator, JoinSettings& out) {
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, separator)) {
    while (!item.empty() && (item.back() == '\r' || item.back() == ' ' || item.back() == '\n')) item.pop_back();
    auto eq = item.find('=');
    if (item.empty() || item[0] == '#' || eq == std::string::npos) continue;
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    std::string* target = nullptr;
    if (key == "kctl.master" || key == "KCTL_MASTER") target = &out.master;
    if (key == "kctl.token" || key == "KCTL_TOKEN") target = &out.token;
    if (key == "kctl.ca-cert-hash" || key == "KCTL_CA_CERT_HASH") target = &out.ca_cert_hash;
    if (target && target->empty()) *target = value;
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  return ss.str();
}

JoinSettings system_join_settings(const std::string& join_conf) {
  JoinSettings s;
  // In a container the kernel's command line is the host's: there, as systemd has it, PID 1's arguments stand for it
  // (systemd-nspawn -b ... -- kctl.master=...).
  if (std::filesystem::exists("/run/systemd/container")) read_join_lines(read_text("/proc/1/cmdline"), '\0', s);
  else read_join_lines(read_text("/proc/cmdline"), ' ', s);
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY"))
    read_join_lines(read_text(std::string(creds) + "/kctl.join"), '\n', s);
  read_join_lines(read_text("/run/credentials/@system/kctl.join"), '\n', s);  // the system's (systemd 251+)
  read_join_lines(read_text(join_conf), '\n', s);
  for (auto [env, target] : {std::pair{"KCTL_MASTER", &s.master}, {"KCTL_TOKEN", &s.token}, {"KCTL_CA_CERT_HASH", &s.ca_cert_hash}})
    if (const char* v = std::getenv(env); v && target->empty()) *target = v;
  return s;
}

// A client for MASTER: without verification for the first look at cluster-info (what is read is only trusted
// after the pin matches), with the CA afterwards.
RestClient master_client(const std::string& server, const std::string& ca_pem, const std::string& token, Invocation& inv) {
  api::RestConfig c;
  c.server = server;
  c.token = token;
  if (ca_pem.empty()) c.insecure_skip_tls_verify = true;
  else c.certificate_authority_data = api::base64_encode(ca_pem);
  return RestClient(c, inv.err(), 30);
}

int run_node_join(Invocation& inv) {
  std::string token, out_path = kDefaultBootstrapKubeconfig;
  std::vector<std::string> pins;
  bool unsafe = false;
  inv.flags().add_strings("ca-cert-hash", 0, &pins,
                          "The pin of the cluster's CA, \"sha256:HEX\" (the SHA-256 of its public key, as "
                          "`kctl token create --print-join-command` prints it).");
  inv.flags().add_strings("discovery-token-ca-cert-hash", 0, &pins, "kubeadm's name for --ca-cert-hash.");
  inv.flags().add_bool("discovery-token-unsafe-skip-ca-verification", 0, &unsafe,
                       "Trust whatever CA cluster-info names, without a --ca-cert-hash (anyone between this node and "
                       "the master could then impersonate the master).");
  inv.flags().add_string("bootstrap-kubeconfig", 0, &out_path,
                         "Where to write the kubelet's bootstrap kubeconfig (its --bootstrap-kubeconfig).");
  std::string join_conf = "/etc/kctl/join.conf", flags_dir = "/var/lib/kctl";
  inv.flags().add_string("join-config", 0, &join_conf,
                         "Without HOST[:PORT]: the file with KCTL_MASTER=, KCTL_TOKEN=, KCTL_CA_CERT_HASH= (after the kernel "
                         "command line's kctl.master=, kctl.token=, kctl.ca-cert-hash= and the credential kctl.join).");
  inv.flags().add_string("flags-dir", 0, &flags_dir,
                         "Where the kubelet's and the proxy's flags for this node go (kubelet/flags.env, proxy/flags.env, "
                         "read by their units).");
  if (!inv.parse()) return 0;
  // kctl's global --token (a bearer token for the API) is the bootstrap token here, as kubeadm join's --token.
  token = inv.session().options().overrides.token;
  if (inv.args().size() > 1) throw UsageError("node join takes the master's address, HOST[:PORT]");
  std::string master;
  if (inv.args().empty()) {
    JoinSettings js = system_join_settings(join_conf);
    if (js.master.empty())
      throw CliError("no master to join: give HOST[:PORT], or kctl.master= on the kernel command line, the credential "
                     "kctl.join, or KCTL_MASTER= in " + join_conf);
    master = js.master;
    if (token.empty()) token = js.token;
    if (pins.empty() && !js.ca_cert_hash.empty()) pins.push_back(js.ca_cert_hash);
  } else {
    master = inv.args()[0];
  }
  if (!valid_token(token)) throw CliError("--token must be a bootstrap token of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
  if (pins.empty() && !unsafe)
    throw CliError("--ca-cert-hash is required to trust the master (or --discovery-token-unsafe-skip-ca-verification)");
  for (const auto& p : pins)
    if (p.rfind("sha256:", 0) != 0 || p.size() != 7 + 64)
      throw CliError("--ca-cert-hash \"" + p + "\" is not of the form sha256:<64 hex digits>");
  if (master.rfind("https://", 0) != 0) master = "https://" + master;
  if (master.find(':', 8) == std::string::npos) master += ":6443";

  // 1. cluster-info without trusting anything yet, 2. the CA it names must have one of the pins.
  auto [server, ca] = cluster_of(master_client(master, "", "", inv).call("GET", kClusterInfoPath));
  std::string pin;
  try {
    pin = pki::public_key_pin(ca);
  } catch (const pki::PkiError& e) {
    throw CliError(std::string("the cluster-info ConfigMap's CA is not a certificate: ") + e.what());
  }
  if (!pins.empty() && std::find(pins.begin(), pins.end(), pin) == pins.end())
    throw CliError("cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"" + pin +
                   "\" are pinned");
  if (server.empty()) server = master;
  // 3. The master again, now over TLS checked against that CA, with the token: it must be known there.
  json review = master_client(server, ca, token, inv)
                    .call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          json{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}}.dump(),
                          "application/json");
  std::string user = review.value("/status/userInfo/username"_json_pointer, std::string());

  // 4. The kubelet's bootstrap kubeconfig, with kubeadm's names.
  std::string kc = api::single_kubeconfig("kubernetes", {{"certificate-authority-data", api::base64_encode(ca)}, {"server", server}},
                                         "tls-bootstrap-token-user", {{"token", token}},
                                         "tls-bootstrap-token-user@kubernetes");
  try {
    if (auto dir = std::filesystem::path(out_path).parent_path(); !dir.empty()) std::filesystem::create_directories(dir);
    pki::write_file(out_path, kc, 0600);
  } catch (const std::exception& e) {
    throw CliError("cannot write " + out_path + ": " + e.what());
  }
  // 5. The flags the node's units add (kubeadm's kubeadm-flags.env): the kubelet bootstraps its certificate and the
  // proxy then uses the kubelet's kubeconfig (system:node:NAME may read Services and their endpoints).
  std::string kubelet_kubeconfig = (std::filesystem::path(flags_dir) / "kubelet" / "kubeconfig").string();
  std::string kubelet_env = (std::filesystem::path(flags_dir) / "kubelet" / "flags.env").string();
  std::string proxy_env = (std::filesystem::path(flags_dir) / "proxy" / "flags.env").string();
  // The cluster CA beside the bootstrap kubeconfig (kubeadm's /etc/kubernetes/pki/ca.crt): the kubelet takes calls
  // only from certificates it signed (the apiserver's).
  std::string ca_file = (std::filesystem::path(out_path).parent_path() / "pki" / "ca.crt").string();
  try {
    for (const auto& f : {kubelet_env, proxy_env, ca_file}) std::filesystem::create_directories(std::filesystem::path(f).parent_path());
    pki::write_file(ca_file, ca, 0644);
    pki::write_file(kubelet_env, "KCTL_KUBELET_ARGS=\"--bootstrap-kubeconfig=" + out_path + " --kubeconfig=" +
                                     kubelet_kubeconfig + " --client-ca-file=" + ca_file + "\"\n", 0644);
    pki::write_file(proxy_env, "KCTL_PROXY_ARGS=\"--kubeconfig=" + kubelet_kubeconfig + "\"\n", 0644);
  } catch (const std::exception& e) {
    throw CliError(std::string("cannot write the node's flags: ") + e.what());
  }
  inv.out() << "[discovery] the master's CA " << pin << " is pinned; the API server is " << server << "\n"
            << "[discovery] the token authenticates as " << user << "\n"
            << "[kubelet] wrote the bootstrap kubeconfig " << out_path << " and " << kubelet_env << "\n"
            << "[proxy] wrote " << proxy_env << "\n\n"
            << "This node can join the cluster: `systemctl start kctl-worker.target` (or kctl-kubelet "
            << "--bootstrap-kubeconfig=" << out_path << " --kubeconfig=" << kubelet_kubeconfig << ").\n"
            << "The kubelet asks for its client certificate and shows up in `kctl get nodes` on the master.\n";
  return 0;
}

std::vector<CommandInfo> node_subcommands() {
  return {{"join", "", "Join this machine to a cluster as a worker",
           "Find the master's API server and CA from its public cluster-info, trust the CA only when its public key has "
           "the given pin, check the bootstrap token, and write the kubelet's bootstrap kubeconfig. The kubelet then "
           "asks for its own client certificate (a CertificateSigningRequest the controller manager approves and "
           "signs).",
           "node join [HOST[:PORT] --token ID.SECRET --ca-cert-hash sha256:HEX] [options]",
           "  kctl node join 10.0.0.1:6443 --token abcdef.0123456789abcdef --ca-cert-hash sha256:1234...",
           run_node_join}};
}

}  // namespace

CommandInfo token_command() {
  CommandInfo c{"token", "Cluster Management Commands", "Manage bootstrap tokens",
                "Manage the bootstrap tokens with which nodes join the cluster (Secrets kube-system/bootstrap-token-ID).",
                "token SUBCOMMAND [options]", "  kctl token create --print-join-command", nullptr};
  c.subcommands = token_subcommands;
  return c;
}

CommandInfo node_command() {
  CommandInfo c{"node", "Cluster Management Commands", "Join this machine to a cluster",
                "Commands run on a machine that is to become a node of a cluster.", "node SUBCOMMAND [options]",
                "  kctl node join 10.0.0.1:6443 --token abcdef.0123456789abcdef --ca-cert-hash sha256:1234...", nullptr};
  c.subcommands = node_subcommands;
  return c;
}

}  // namespace kctl::cli
