// The objects `kctl create <kind> NAME` makes, shaped like kubectl's generators (labels app=NAME, the container
// named after its image, creationTimestamp null and empty status as kubectl sends them).
#include "cli/create_generators.h"

#include <fstream>
#include <sstream>

#include "api/go_json.h"
#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

std::string container_name_for_image(const std::string& image) {
  std::string name = image.substr(image.rfind('/') == std::string::npos ? 0 : image.rfind('/') + 1);
  name = name.substr(0, name.find('@'));
  name = name.substr(0, name.find(':'));
  return name;
}

json parse_key_values(const std::string& text, const std::string& what) {
  json out = json::object();
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0) throw CliError("invalid " + what + " " + part + ": expected key=value");
    out[part.substr(0, eq)] = part.substr(eq + 1);
  }
  return out;
}

int send_created(Invocation& inv, const json& obj, const WriteFlags& w) {
  OperationPrinter printer(w);
  if (w.dry_run_mode() == DryRun::Client) {
    printer.print(inv.out(), obj, "created");
    printer.finish(inv.out());
    return 0;
  }
  const api::KindInfo* kind = api::Registry::builtin().by_api_version_kind(obj.value("apiVersion", ""), obj.value("kind", ""));
  if (!kind) throw CliError("unknown kind " + obj.value("kind", ""));
  std::string ns = namespace_for(*kind, obj, inv.session());
  json created = inv.session().rest().call("POST", api::collection_path(*kind, ns) + w.query(false), obj.dump(), "application/json");
  printer.print(inv.out(), created, "created");
  printer.finish(inv.out());
  return 0;
}

namespace {

json meta(const std::string& name) { return {{"name", name}, {"creationTimestamp", nullptr}}; }

// --from-literal=k=v and --from-file=[key=]path into a data map (base64 for secrets).
json data_from(const std::vector<std::string>& literals, const std::vector<std::string>& files, bool base64) {
  json data = json::object();
  auto put = [&](const std::string& k, const std::string& v) {
    if (data.contains(k)) throw CliError("cannot add key " + k + ", another key by that name already exists in data");
    data[k] = base64 ? api::base64_encode(v) : v;
  };
  for (const auto& l : literals) {
    auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0) throw CliError("invalid literal source " + l + ", expected key=value");
    put(l.substr(0, eq), l.substr(eq + 1));
  }
  for (const auto& f : files) {
    auto eq = f.find('=');
    std::string path = eq == std::string::npos ? f : f.substr(eq + 1);
    std::string key = eq == std::string::npos ? path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1) : f.substr(0, eq);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CliError("error reading " + path + ": no such file or directory");
    std::stringstream ss;
    ss << in.rdbuf();
    put(key, ss.str());
  }
  return data;
}

}  // namespace

int run_create_generator(Invocation& inv, const std::string& what) {
  WriteFlags w;
  std::string image, type_unused;
  int64_t replicas = 1, port = -1;
  std::vector<std::string> literals, files, tcp;
  std::string node_port_unused, cluster_ip;
  auto& f = inv.flags();
  w.add_flags(f, "kubectl-create", what != "namespace" && what != "ns", true);
  if (what == "deployment" || what == "deploy") {
    f.add_string("image", 0, &image, "Image names to run. A deployment can have multiple images set for multi-container pod.");
    f.add_int("replicas", 'r', &replicas, "Number of replicas to create. Default is 1.");
    f.add_int("port", 0, &port, "The containerPort that this deployment exposes.");
  } else if (what == "configmap" || what == "cm" || what == "secret") {
    f.add_strings("from-literal", 0, &literals, "Specify a key and literal value to insert (i.e. mykey=somevalue)", false);
    f.add_strings("from-file", 0, &files, "Key file can be specified using its file path, in which case file basename will be used as configmap key, or optionally with a key and file path.");
  } else if (what == "service" || what == "svc") {
    f.add_strings("tcp", 0, &tcp, "Port pairs can be specified as '<port>:<targetPort>'.");
    f.add_string("clusterip", 0, &cluster_ip, "Assign your own ClusterIP or set to 'None' for a 'headless' service (no loadbalancing).");
  } else if (what != "namespace" && what != "ns" && what != "serviceaccount" && what != "sa") {
    throw UsageError("unknown command \"" + what + "\" for \"kctl create\"");
  }
  if (!inv.parse()) return 0;
  std::vector<std::string> args(inv.args().begin() + 1, inv.args().end());  // args()[0] is `what`
  std::string sub;
  if ((what == "secret" || what == "service" || what == "svc") && !args.empty()) {
    sub = args[0];
    args.erase(args.begin());
  }
  if (args.size() != 1) throw CliError("exactly one NAME is required, got " + std::to_string(args.size()));
  const std::string& name = args[0];
  json obj;
  if (what == "namespace" || what == "ns") {
    obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", meta(name)}, {"spec", json::object()}, {"status", json::object()}};
  } else if (what == "serviceaccount" || what == "sa") {
    obj = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", meta(name)}};
  } else if (what == "configmap" || what == "cm") {
    obj = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", meta(name)}, {"data", data_from(literals, files, false)}};
  } else if (what == "secret") {
    if (sub != "generic") throw UsageError("kctl create secret supports only the generic type");
    obj = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", meta(name)}, {"data", data_from(literals, files, true)}, {"type", "Opaque"}};
  } else if (what == "deployment" || what == "deploy") {
    if (image.empty()) throw CliError("required flag(s) \"image\" not set");
    json labels = {{"app", name}};
    json container = {{"image", image}, {"name", container_name_for_image(image)}, {"resources", json::object()}};
    if (port >= 0) container["ports"] = json::array({{{"containerPort", port}}});
    json m = meta(name);
    m["labels"] = labels;
    obj = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", m},
           {"spec", {{"replicas", replicas}, {"selector", {{"matchLabels", labels}}}, {"strategy", json::object()},
                     {"template", {{"metadata", {{"creationTimestamp", nullptr}, {"labels", labels}}},
                                   {"spec", {{"containers", json::array({container})}}}}}}},
           {"status", json::object()}};
  } else {
    if (sub != "clusterip" && sub != "nodeport") throw UsageError("kctl create service supports clusterip and nodeport");
    json ports = json::array();
    for (const auto& t : tcp) {
      auto colon = t.find(':');
      int p = std::stoi(t.substr(0, colon));
      std::string target = colon == std::string::npos ? t : t.substr(colon + 1);
      json tp = target.find_first_not_of("0123456789") == std::string::npos ? json(std::stoi(target)) : json(target);
      ports.push_back({{"name", std::to_string(p) + "-" + target}, {"port", p}, {"protocol", "TCP"}, {"targetPort", tp}});
    }
    json m = meta(name);
    m["labels"] = {{"app", name}};
    json spec = {{"ports", ports}, {"selector", {{"app", name}}}, {"type", sub == "nodeport" ? "NodePort" : "ClusterIP"}};
    if (!cluster_ip.empty()) spec["clusterIP"] = cluster_ip;
    obj = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", m}, {"spec", spec}, {"status", {{"loadBalancer", json::object()}}}};
  }
  if (inv.session().ns_from_flag() && obj["kind"] != "Namespace") obj["metadata"]["namespace"] = inv.session().ns();
  return send_created(inv, obj, w);
}

}  // namespace kctl::cli
