// Loading, merging, resolving and writing kubeconfig files with clientcmd's rules, so one file (or one KUBECONFIG)
// serves kctl and kubectl alike.
#include "api/kubeconfig.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/codec.h"
#include "api/go_json.h"
#include "api/status.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::api {

namespace {

const char* const kLists[] = {"clusters", "users", "contexts"};
const char* const kEntryKey[] = {"cluster", "user", "context"};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, size_t(in.gcount()));
    if (text.size() > kMaxKubeconfigBytes) throw ConfigError("the kubeconfig file \"" + path + "\" is too large");
  }
  return text;
}

json read_config_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) return nullptr;
  try {
    json doc = api::decode_yaml(*text);
    if (!doc.is_null() && !doc.is_object()) throw ConfigError("error loading config file \"" + path + "\": not a kubeconfig");
    return doc.is_null() ? json::object() : doc;
  } catch (const api::StatusError& e) {
    throw ConfigError("error loading config file \"" + path + "\": " + e.status().message);
  }
}

std::string home_dir() {
  const char* h = std::getenv("HOME");
  return h ? h : "/";
}

std::string absolute_from(const std::string& path, const std::string& origin) {
  if (path.empty() || path[0] == '/' || origin.empty()) return path;
  return (fs::absolute(fs::path(origin)).parent_path() / path).lexically_normal().string();
}

// The path-valued fields of a cluster or user entry, which clientcmd resolves against the file's directory.
void resolve_paths(json& value, const std::string& origin) {
  for (const char* key : {"certificate-authority", "client-certificate", "client-key", "tokenFile"})
    if (value.contains(key) && value[key].is_string())
      value[key] = absolute_from(value[key].get<std::string>(), origin);
}

std::string str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

const Kubeconfig::Named* Kubeconfig::lookup(const std::vector<Named>& list, const std::string& name) {
  for (const auto& n : list)
    if (n.name == name) return &n;
  return nullptr;
}

std::string Kubeconfig::default_file() const {
  if (explicit_file && !precedence.empty()) return precedence[0];
  for (const auto& f : precedence)
    if (fs::exists(f)) return f;
  return precedence.empty() ? home_dir() + "/.kube/config" : precedence[0];
}

Kubeconfig load_kubeconfig(const std::string& explicit_path) {
  Kubeconfig config;
  if (!explicit_path.empty()) {
    if (!fs::exists(explicit_path)) throw ConfigError("stat " + explicit_path + ": no such file or directory");
    config.precedence = {explicit_path};
    config.explicit_file = true;
  } else if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::stringstream ss(env);
    std::string part;
    while (std::getline(ss, part, ':'))
      if (!part.empty() && std::find(config.precedence.begin(), config.precedence.end(), part) == config.precedence.end())
        config.precedence.push_back(part);
  } else {
    config.precedence = {home_dir() + "/.kube/config"};
  }
  for (const auto& path : config.precedence) {
    json doc = read_config_file(path);
    if (doc.is_null()) continue;
    std::vector<Kubeconfig::Named>* lists[] = {&config.clusters, &config.users, &config.contexts};
    for (int l = 0; l < 3; ++l) {
      if (!doc.contains(kLists[l]) || !doc[kLists[l]].is_array()) continue;
      for (const auto& e : doc[kLists[l]]) {
        std::string name = e.is_object() ? str(e, "name") : "";
        if (name.empty() || Kubeconfig::lookup(*lists[l], name)) continue;  // the first file to name it wins
        json value = e.contains(kEntryKey[l]) && e[kEntryKey[l]].is_object() ? e[kEntryKey[l]] : json::object();
        resolve_paths(value, path);
        lists[l]->push_back({name, value, path});
      }
    }
    if (config.current_context.empty()) config.current_context = str(doc, "current-context");
  }
  return config;
}

RestConfig resolve_config(const Kubeconfig& config, const ConfigOverrides& o) {
  RestConfig rc;
  rc.context = o.context.empty() ? config.current_context : o.context;
  json ctx = json::object();
  if (!rc.context.empty()) {
    const auto* c = config.context(rc.context);
    if (c) ctx = c->value;
    else if (!o.context.empty())
      throw ConfigError("Error in configuration: context was not found for specified context: " + rc.context);
    else if (o.cluster.empty() && o.server.empty())
      throw ConfigError("Error in configuration: context was not found for specified context: " + rc.context);
  }
  std::string cluster_name = o.cluster.empty() ? str(ctx, "cluster") : o.cluster;
  std::string user_name = o.user.empty() ? str(ctx, "user") : o.user;
  json cluster = json::object(), user = json::object();
  if (!cluster_name.empty()) {
    const auto* c = config.cluster(cluster_name);
    // Worded as client-go's: a --cluster that names nothing has no server; a context's missing cluster fails
    // the configuration's validation.
    if (!c && o.server.empty() && !o.cluster.empty())
      throw ConfigError("no server found for cluster \"" + cluster_name + "\"");
    if (!c && o.server.empty())
      throw ConfigError("Error in configuration: cluster \"" + cluster_name + "\" not found in kubeconfig");
    if (c) cluster = c->value;
  }
  if (!user_name.empty()) {
    if (const auto* u = config.user(user_name)) user = u->value;
    else if (!o.user.empty()) throw ConfigError("auth info \"" + user_name + "\" does not exist");
  }
  rc.server = o.server.empty() ? str(cluster, "server") : o.server;
  rc.certificate_authority = str(cluster, "certificate-authority");
  rc.certificate_authority_data = str(cluster, "certificate-authority-data");
  rc.insecure_skip_tls_verify = cluster.value("insecure-skip-tls-verify", false);
  // As client-go: --insecure-skip-tls-verify clears the kubeconfig's CA, and --certificate-authority its
  // insecure-skip-tls-verify and CA data (else a kubeconfig with a CA could never be used insecurely).
  if (o.insecure_skip_tls_verify || !o.certificate_authority.empty()) {
    rc.insecure_skip_tls_verify = o.insecure_skip_tls_verify;
    rc.certificate_authority = o.certificate_authority;
    rc.certificate_authority_data.clear();
  }
  rc.tls_server_name = o.tls_server_name.empty() ? str(cluster, "tls-server-name") : o.tls_server_name;
  rc.client_certificate = o.client_certificate.empty() ? str(user, "client-certificate") : o.client_certificate;
  rc.client_certificate_data = o.client_certificate.empty() ? str(user, "client-certificate-data") : "";
  rc.client_key = o.client_key.empty() ? str(user, "client-key") : o.client_key;
  rc.client_key_data = o.client_key.empty() ? str(user, "client-key-data") : "";
  rc.token = o.token.empty() ? str(user, "token") : o.token;
  if (rc.token.empty() && o.token.empty() && !str(user, "tokenFile").empty()) {
    auto t = read_file(str(user, "tokenFile"));
    if (!t) throw ConfigError("open " + str(user, "tokenFile") + ": no such file or directory");
    rc.token = *t;
    while (!rc.token.empty() && (rc.token.back() == '\n' || rc.token.back() == '\r')) rc.token.pop_back();
  }
  if (rc.server.empty()) {
    rc.server = kDefaultServer;
  } else if (rc.server.find("://") == std::string::npos) {
    // client-go's DefaultServerURL: https when TLS is configured, http otherwise
    bool tls = !rc.certificate_authority.empty() || !rc.certificate_authority_data.empty() ||
               !rc.client_certificate.empty() || !rc.client_certificate_data.empty() || rc.insecure_skip_tls_verify;
    rc.server = (tls ? "https://" : "http://") + rc.server;
  }
  while (rc.server.size() > 8 && rc.server.back() == '/') rc.server.pop_back();
  // client-go's validation of the files a cluster and a user name, in its words.
  auto readable = [](const std::string& what, const std::string& path, const std::string& owner) {
    if (path.empty() || ::access(path.c_str(), R_OK) == 0) return;
    std::string why = std::strerror(errno);
    if (!why.empty()) why[0] = char(std::tolower(why[0]));  // Go's syscall error texts are lower case
    throw ConfigError("unable to read " + what + " " + path + " for " + owner + " due to open " + path + ": " + why);
  };
  readable("certificate-authority", rc.certificate_authority, cluster_name);
  readable("client-cert", rc.client_certificate, user_name);
  readable("client-key", rc.client_key, user_name);
  if (!o.namespace_.empty()) {
    rc.namespace_ = o.namespace_;
    rc.namespace_from_flag = true;
  } else if (!str(ctx, "namespace").empty()) {
    rc.namespace_ = str(ctx, "namespace");
  }
  return rc;
}

json view_config(const Kubeconfig& config, bool raw, bool minify, const std::string& context) {
  std::string ctx_name = context.empty() ? config.current_context : context;
  const auto* ctx = config.context(ctx_name);
  if (minify && !ctx) throw ConfigError("current-context must exist in order to minify");
  json out = {{"apiVersion", "v1"}, {"kind", "Config"}, {"preferences", json::object()},
              {"current-context", minify ? ctx_name : config.current_context}};
  const std::vector<Kubeconfig::Named>* lists[] = {&config.clusters, &config.users, &config.contexts};
  for (int l = 0; l < 3; ++l) {
    std::vector<const Kubeconfig::Named*> entries;
    for (const auto& n : *lists[l]) {
      if (minify) {
        bool used = l == 2 ? n.name == ctx_name : n.name == str(ctx->value, kEntryKey[l]);
        if (!used) continue;
      }
      entries.push_back(&n);
    }
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->name < b->name; });
    if (entries.empty()) {
      out[kLists[l]] = nullptr;
      continue;
    }
    json arr = json::array();
    for (const auto* n : entries) {
      json value = n->value;
      // v1 Context always has cluster and user, Cluster always has server (no omitempty)
      if (l == 2) for (const char* key : {"cluster", "user"}) if (!value.contains(key)) value[key] = "";
      if (l == 0 && !value.contains("server")) value["server"] = "";
      if (!raw) {
        for (const char* key : {"certificate-authority-data", "client-certificate-data", "client-key-data"})
          if (value.contains(key) && !str(value, key).empty()) value[key] = "DATA+OMITTED";
        if (!str(value, "token").empty()) value["token"] = "REDACTED";
      }
      arr.push_back({{"name", n->name}, {kEntryKey[l], value}});
    }
    out[kLists[l]] = arr;
  }
  return out;
}

namespace {

json file_doc(const std::string& path) {
  json doc = read_config_file(path);
  if (doc.is_null() || !doc.is_object()) doc = json::object();
  if (!doc.contains("apiVersion")) doc["apiVersion"] = "v1";
  if (!doc.contains("kind")) doc["kind"] = "Config";
  if (!doc.contains("preferences")) doc["preferences"] = json::object();
  for (const char* l : kLists)
    if (!doc.contains(l) || !doc[l].is_array()) doc[l] = nullptr;
  if (!doc.contains("current-context")) doc["current-context"] = "";
  return doc;
}

void write_doc(const std::string& path, const json& doc) {
  std::error_code ec;
  fs::create_directories(fs::absolute(path).parent_path(), ec);
  std::string tmp = path + ".kctl-tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << api::encode_yaml(doc);
    if (!out) throw ConfigError("cannot write " + path);
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(tmp, path, ec);
  if (ec) throw ConfigError("cannot write " + path + ": " + ec.message());
}

}  // namespace

void write_current_context(const Kubeconfig& config, const std::string& name) {
  std::string path = config.default_file();
  json doc = file_doc(path);
  doc["current-context"] = name;
  write_doc(path, doc);
}

void write_entry(const Kubeconfig& config, const std::string& list, const std::string& name, const json& value) {
  int l = list == "clusters" ? 0 : list == "users" ? 1 : 2;
  const std::vector<Kubeconfig::Named>* lists[] = {&config.clusters, &config.users, &config.contexts};
  const auto* existing = Kubeconfig::lookup(*lists[l], name);
  std::string path = existing ? existing->origin : config.default_file();
  json doc = file_doc(path);
  json arr = json::array();
  bool replaced = false;
  if (doc[list].is_array())
    for (const auto& e : doc[list]) {
      if (e.is_object() && str(e, "name") == name) {
        if (!value.is_null()) arr.push_back({{"name", name}, {kEntryKey[l], value}});
        replaced = true;
      } else {
        arr.push_back(e);
      }
    }
  if (!replaced && !value.is_null()) arr.push_back({{"name", name}, {kEntryKey[l], value}});
  std::stable_sort(arr.begin(), arr.end(), [](const json& a, const json& b) { return str(a, "name") < str(b, "name"); });
  doc[list] = arr.empty() ? json(nullptr) : arr;
  write_doc(path, doc);
}

http::TlsClientOptions tls_client_options(const RestConfig& c) {
  auto decode = [](const std::string& b64, const char* field) {
    if (b64.empty()) return std::string();
    auto pem = base64_decode(b64);
    if (!pem) throw ConfigError(std::string("error loading config: ") + field + ": illegal base64 data");
    return *pem;
  };
  http::TlsClientOptions o;
  o.ca_file = c.certificate_authority;
  o.ca_data = decode(c.certificate_authority_data, "certificate-authority-data");
  o.cert_file = c.client_certificate;
  o.cert_data = decode(c.client_certificate_data, "client-certificate-data");
  o.key_file = c.client_key;
  o.key_data = decode(c.client_key_data, "client-key-data");
  o.server_name = c.tls_server_name;
  o.insecure_skip_verify = c.insecure_skip_tls_verify;
  return o;
}

ClientConfig load_client_config(const std::string& path) {
  RestConfig rc = resolve_config(load_kubeconfig(path), ConfigOverrides{});
  return ClientConfig{rc.server, rc.token, tls_client_options(rc)};
}

std::string single_kubeconfig(const std::string& cluster_name, const nlohmann::json& cluster,
                              const std::string& user_name, const nlohmann::json& user,
                              const std::string& context_name, const std::string& ns) {
  nlohmann::json context = {{"cluster", cluster_name}, {"user", user_name}};
  if (!ns.empty()) context["namespace"] = ns;
  nlohmann::json config = {{"apiVersion", "v1"},
                           {"kind", "Config"},
                           {"clusters", {{{"name", cluster_name}, {"cluster", cluster}}}},
                           {"contexts", {{{"name", context_name}, {"context", context}}}},
                           {"current-context", context_name},
                           {"preferences", nlohmann::json::object()},
                           {"users", {{{"name", user_name}, {"user", user}}}}};
  return encode_yaml(config);
}

}  // namespace kctl::api
