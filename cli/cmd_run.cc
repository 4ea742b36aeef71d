// kctl run (a Pod shaped like kubectl's generator makes it, the command after "--") and kctl expose (a Service for a
// pod, replication controller, replica set, deployment or service, with its selector and ports).
#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/create_generators.h"
#include "cli/errors.h"
#include "cli/resource_args.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;

namespace {

int run_run(Invocation& inv) {
  WriteFlags w;
  std::string image, labels, restart = "Always", image_pull_policy, port, overrides, service_account;
  std::vector<std::string> env, annotations;
  bool command = false, stdin_ = false, tty = false, rm = false, attach = false, privileged = false;
  auto& f = inv.flags();
  w.add_flags(f, "kubectl-run", false);
  f.add_string("image", 0, &image, "The image for the container to run.");
  f.add_string("labels", 'l', &labels, "Comma separated labels to apply to the pod. Will override previous values.");
  f.add_strings("env", 0, &env, "Environment variables to set in the container.", false);
  f.add_strings("annotations", 0, &annotations, "Annotations to apply to the pod.", false);
  f.add_string("port", 0, &port, "The port that this container exposes.");
  f.add_string("restart", 0, &restart, "The restart policy for this Pod.  Legal values [Always, OnFailure, Never].");
  f.add_string("image-pull-policy", 0, &image_pull_policy, "The image pull policy for the container.");
  f.add_string("overrides", 0, &overrides, "An inline JSON override for the generated object.");
  f.add_string("serviceaccount", 0, &service_account, "Service account to set in the pod spec.");
  f.add_bool("command", 0, &command, "If true and extra arguments are present, use them as the 'command' field in the container, rather than the 'args' field which is the default.");
  f.add_bool("stdin", 'i', &stdin_, "Keep stdin open on the container in the pod, even if nothing is attached.");
  f.add_bool("tty", 't', &tty, "Allocate a TTY for the container in the pod.");
  f.add_bool("rm", 0, &rm, "If true, delete the pod after it exits.  Only valid when attaching to the container.");
  f.add_bool("attach", 0, &attach, "If true, wait for the Pod to start running, and then attach to the Pod.");
  f.add_bool("privileged", 0, &privileged, "If true, run the container in privileged mode.");
  if (!inv.parse()) return 0;
  if (inv.args().empty()) throw CliError("NAME is required for run");
  if (image.empty()) throw CliError("--image is required");
  if (restart != "Always" && restart != "OnFailure" && restart != "Never")
    throw CliError("invalid restart policy: " + restart);
  if (attach || rm || (stdin_ && tty))
    throw CliError("attaching to a pod (-i -t, --attach, --rm) needs the kubelet's attach stream, which kctl's cluster does not serve yet");
  const std::string& name = inv.args()[0];
  std::vector<std::string> extra(inv.args().begin() + 1, inv.args().end());
  extra.insert(extra.end(), inv.flags().after_dash().begin(), inv.flags().after_dash().end());
  json container = {{"image", image}, {"name", name}, {"resources", json::object()}};
  if (!extra.empty()) container[command ? "command" : "args"] = extra;
  if (!env.empty()) {
    json e = json::array();
    for (const auto& kv : env) {
      auto eq = kv.find('=');
      e.push_back({{"name", kv.substr(0, eq)}, {"value", eq == std::string::npos ? "" : kv.substr(eq + 1)}});
    }
    container["env"] = e;
  }
  if (!port.empty()) container["ports"] = json::array({{{"containerPort", std::stoi(port)}}});
  if (!image_pull_policy.empty()) container["imagePullPolicy"] = image_pull_policy;
  if (stdin_) container["stdin"] = true;
  if (tty) container["tty"] = true;
  if (privileged) container["securityContext"] = {{"privileged", true}};
  json meta = {{"creationTimestamp", nullptr}, {"name", name}};
  meta["labels"] = labels.empty() ? json{{"run", name}} : parse_key_values(labels, "label");
  if (!annotations.empty()) meta["annotations"] = parse_key_values([&] {
    std::string s;
    for (const auto& a : annotations) s += (s.empty() ? "" : ",") + a;
    return s;
  }(), "annotation");
  if (inv.session().ns_from_flag()) meta["namespace"] = inv.session().ns();
  json spec = {{"containers", json::array({container})}, {"dnsPolicy", "ClusterFirst"}, {"restartPolicy", restart}};
  if (!service_account.empty()) spec["serviceAccountName"] = service_account;
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}, {"status", json::object()}};
  if (!overrides.empty()) {
    json o = json::parse(overrides, nullptr, false);
    if (o.is_discarded()) throw CliError("invalid JSON for --overrides");
    pod.merge_patch(o);
  }
  return send_created(inv, pod, w);
}

// The selector a Service for `obj` uses (expose's polymorphic SelectorsForObject).
json selector_of(const json& obj, const std::string& kind) {
  if (kind == "Pod") return obj.value("/metadata/labels"_json_pointer, json::object());
  if (kind == "ReplicationController" || kind == "Service") return obj.value("/spec/selector"_json_pointer, json::object());
  if (obj.contains("spec") && obj["spec"].contains("selector")) {
    const json& sel = obj["spec"]["selector"];
    if (sel.contains("matchExpressions") && !sel["matchExpressions"].empty())
      throw CliError("couldn't convert expressions - \"" + sel["matchExpressions"].dump() + "\" to map-based selector format");
    return sel.value("matchLabels", json::object());
  }
  return json::object();
}

// The container ports of the object's pod template (or the pod, or the service's ports).
std::vector<std::pair<int, std::string>> ports_of(const json& obj, const std::string& kind) {
  std::vector<std::pair<int, std::string>> out;
  if (kind == "Service") {
    for (const auto& p : obj.value("/spec/ports"_json_pointer, json::array())) out.push_back({p.value("port", 0), p.value("protocol", "TCP")});
    return out;
  }
  const json spec = kind == "Pod" ? obj.value("spec", json::object()) : obj.value("/spec/template/spec"_json_pointer, json::object());
  for (const auto& c : spec.value("containers", json::array()))
    for (const auto& p : c.value("ports", json::array())) out.push_back({p.value("containerPort", 0), p.value("protocol", "TCP")});
  return out;
}

int run_expose(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  std::string port, protocol, target_port, name, type, selector, labels, external_ip, cluster_ip, session_affinity;
  auto& f = inv.flags();
  files.add_flags(f, "identifying the resource to expose a service");
  w.add_flags(f, "kubectl-expose", false);
  f.add_string("port", 0, &port, "The port that the service should serve on. Copied from the resource being exposed, if unspecified");
  f.add_string("protocol", 0, &protocol, "The network protocol for the service to be created. Default is 'TCP'.");
  f.add_string("target-port", 0, &target_port, "Name or number for the port on the container that the service should direct traffic to. Optional.");
  f.add_string("name", 0, &name, "The name for the newly created object.");
  f.add_string("type", 0, &type, "Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName. Default is 'ClusterIP'.");
  f.add_string("selector", 0, &selector, "A label selector to use for this service. Only equality-based selector requirements are supported.");
  f.add_string("labels", 'l', &labels, "Labels to apply to the service created by this call.");
  f.add_string("external-ip", 0, &external_ip, "Additional external IP address (not managed by Kubernetes) to accept for the service.");
  f.add_string("cluster-ip", 0, &cluster_ip, "ClusterIP to be assigned to the service. Leave empty to auto-allocate, or set to 'None' to create a headless service.");
  f.add_string("session-affinity", 0, &session_affinity, "If non-empty, set the session affinity for the service to this; legal values: 'None', 'ClientIP'");
  if (!inv.parse()) return 0;
  std::vector<std::pair<const api::KindInfo*, std::string>> targets;
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false)) targets.push_back({m.kind, m.name});
  } else {
    ResourceArgs ra = parse_resource_args(inv.args());
    for (const auto& r : ra.refs) targets.push_back({r.kind, r.name});
  }
  if (targets.empty() || targets[0].second.empty()) throw CliError("You must provide one or more resources by argument or filename.");
  ErrorList errors;
  for (const auto& [kind, obj_name] : targets) {
    try {
      static const char* kExposable[] = {"Pod", "ReplicationController", "ReplicaSet", "Deployment", "Service"};
      if (std::find(std::begin(kExposable), std::end(kExposable), kind->kind) == std::end(kExposable))
        throw CliError("cannot expose a " + kind->kind);
      std::string ns = kind->namespaced ? inv.session().ns() : "";
      json obj = inv.session().rest().call("GET", api::object_path(*kind, ns, obj_name));
      json sel = selector.empty() ? selector_of(obj, kind->kind) : parse_key_values(selector, "selector");
      if (sel.empty()) throw CliError("couldn't retrieve selectors via --selector flag or introspection: the " + kind->kind + " has no selector");
      json ports = json::array();
      if (!port.empty()) {
        json p = {{"port", std::stoi(port)}, {"protocol", protocol.empty() ? "TCP" : protocol}};
        p["targetPort"] = target_port.empty() ? json(std::stoi(port))
                          : target_port.find_first_not_of("0123456789") == std::string::npos ? json(std::stoi(target_port)) : json(target_port);
        ports.push_back(p);
      } else {
        auto found = ports_of(obj, kind->kind);
        if (found.empty()) throw CliError("couldn't find port via --port flag or introspection");
        for (size_t i = 0; i < found.size(); ++i) {
          json p = {{"port", found[i].first}, {"protocol", protocol.empty() ? found[i].second : protocol}};
          if (found.size() > 1) p["name"] = "port-" + std::to_string(i + 1);
          p["targetPort"] = target_port.empty() ? json(found[i].first) : json(target_port);
          ports.push_back(p);
        }
      }
      json meta = {{"creationTimestamp", nullptr}, {"name", name.empty() ? obj_name : name}};
      json obj_labels = obj.value("/metadata/labels"_json_pointer, json::object());
      if (!labels.empty()) meta["labels"] = parse_key_values(labels, "label");
      else if (!obj_labels.empty()) meta["labels"] = obj_labels;
      if (!ns.empty() && inv.session().ns_from_flag()) meta["namespace"] = ns;
      json spec = {{"ports", ports}, {"selector", sel}};
      if (!type.empty()) spec["type"] = type;
      if (!external_ip.empty()) spec["externalIPs"] = json::array({external_ip});
      if (!cluster_ip.empty()) spec["clusterIP"] = cluster_ip;
      if (!session_affinity.empty()) spec["sessionAffinity"] = session_affinity;
      json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", meta}, {"spec", spec}, {"status", {{"loadBalancer", json::object()}}}};
      OperationPrinter printer(w);
      if (w.dry_run_mode() == DryRun::Client) {
        printer.print(inv.out(), svc, "exposed");
      } else {
        json created = inv.session().rest().call("POST", api::collection_path(resolve_kind("services"), ns) + w.query(false),
                                                 svc.dump(), "application/json");
        printer.print(inv.out(), created, "exposed");
      }
      printer.finish(inv.out());
    } catch (const std::exception&) {
      errors.add_current();
    }
  }
  return errors.report(inv.err());
}

}  // namespace

CommandInfo run_command() {
  return {"run", "Basic Commands (Beginner)", "Run a particular image on the cluster",
          "Create and run a particular image in a pod.",
          "run NAME --image=image [--env=\"key=value\"] [--port=port] [--dry-run=server|client] [--overrides=inline-json] [--command] -- [COMMAND] [args...] [options]",
          "  # Start a nginx pod\n  kctl run nginx --image=nginx\n\n"
          "  # Start a hazelcast pod and let the container expose port 5701\n  kctl run hazelcast --image=hazelcast/hazelcast --port=5701\n\n"
          "  # Start a hazelcast pod and set environment variables \"DNS_DOMAIN=cluster\" and \"POD_NAMESPACE=default\" in the container\n"
          "  kctl run hazelcast --image=hazelcast/hazelcast --env=\"DNS_DOMAIN=cluster\" --env=\"POD_NAMESPACE=default\"\n\n"
          "  # Dry run; print the corresponding API objects without creating them\n  kctl run nginx --image=nginx --dry-run=client -o yaml\n\n"
          "  # Start the nginx pod using the default command, but use custom arguments (arg1 .. argN) for that command\n"
          "  kctl run nginx --image=nginx -- <arg1> <arg2> ... <argN>\n\n"
          "  # Start the nginx pod using a different command and custom arguments\n  kctl run nginx --image=nginx --command -- <cmd> <arg1> ... <argN>",
          run_run};
}

CommandInfo expose_command() {
  return {"expose", "Basic Commands (Beginner)",
          "Take a replication controller, service, deployment or pod and expose it as a new Kubernetes service",
          "Expose a resource as a new Kubernetes service.\n\n Looks up a deployment, service, replica set, replication "
          "controller or pod by name and uses the selector for that resource as the selector for a new service on "
          "the specified port. A deployment or replica set will be exposed as a service only if its selector is "
          "convertible to a selector that service supports, i.e. when the selector contains only the matchLabels "
          "component.",
          "expose (-f FILENAME | TYPE NAME) [--port=port] [--protocol=TCP|UDP|SCTP] [--target-port=number-or-name] [--name=name] [--external-ip=external-ip-of-service] [--type=type] [options]",
          "  # Create a service for a replicated nginx, which serves on port 80 and connects to the containers on port 8000\n"
          "  kctl expose rc nginx --port=80 --target-port=8000\n\n"
          "  # Create a service for a pod valid-pod, which serves on port 444 with the name \"frontend\"\n"
          "  kctl expose pod valid-pod --port=444 --name=frontend\n\n"
          "  # Create a service for an nginx deployment, which serves on port 80 and connects to the containers on port 8000\n"
          "  kctl expose deployment nginx --port=80 --target-port=8000",
          run_expose};
}

}  // namespace kctl::cli
