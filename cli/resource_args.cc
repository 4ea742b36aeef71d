// Resource arguments and manifest files, with the rules and messages of kubectl's resource.Builder.
#include "cli/resource_args.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "api/codec.h"
#include "cli/errors.h"
#include "cli/session.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::cli {

namespace {

// A manifest bigger than this is not something a person applies; kube-apiserver refuses bodies over 3 MiB anyway.
constexpr size_t kMaxManifestBytes = 64 * 1024 * 1024;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep))
    if (!part.empty()) out.push_back(part);
  return out;
}

// "all" and other categories expand to their kinds in discovery (registry) order.
std::vector<const api::KindInfo*> expand_types(const std::string& typed) {
  std::vector<const api::KindInfo*> out;
  for (const auto& t : split(typed, ',')) {
    bool category = false;
    for (const auto& k : api::Registry::builtin().kinds())
      if (std::find(k.categories.begin(), k.categories.end(), t) != k.categories.end()) {
        out.push_back(&k);
        category = true;
      }
    if (!category) out.push_back(&resolve_kind(t));
  }
  return out;
}

std::string read_all(std::istream& in, const std::string& source) {
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, size_t(in.gcount()));
    if (text.size() > kMaxManifestBytes) throw CliError("the manifest " + source + " is too large");
  }
  return text;
}

bool manifest_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".json" || ext == ".yaml" || ext == ".yml";
}

// The files a -f value stands for, in kubectl's order (a directory's entries sorted, as filepath.Walk visits them).
void expand_path(const std::string& path, bool recursive, std::vector<std::string>& out) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw CliError("the path \"" + path + "\" does not exist");
  if (!fs::is_directory(path, ec)) {
    out.push_back(path);
    return;
  }
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(path, ec)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) {
    if (fs::is_directory(e, ec)) {
      if (recursive) expand_path(e.string(), true, out);
    } else if (manifest_extension(e)) {
      out.push_back(e.string());
    }
  }
}

}  // namespace

const api::KindInfo& resolve_kind(const std::string& typed) {
  const api::KindInfo* k = api::Registry::builtin().resolve(typed);
  if (!k) throw CliError("the server doesn't have a resource type \"" + typed + "\"");
  return *k;
}

ResourceArgs parse_resource_args(const std::vector<std::string>& args) {
  ResourceArgs out;
  if (args.empty()) return out;
  bool slash_form = args[0].find('/') != std::string::npos;
  if (slash_form) {
    for (const auto& a : args) {
      auto slash = a.find('/');
      if (slash == std::string::npos)
        throw CliError("there is no need to specify a resource type as a separate argument when passing arguments in "
                       "resource/name form (e.g. 'kctl get resource/<resource_name>' instead of 'kctl get resource "
                       "resource/<resource_name>'");
      std::string name = a.substr(slash + 1);
      if (name.empty()) throw CliError("arguments in resource/name form must have a single resource and name");
      out.refs.push_back({&resolve_kind(a.substr(0, slash)), name});
    }
    out.singular = args.size() == 1;
    return out;
  }
  auto kinds = expand_types(args[0]);
  if (args.size() == 1) {
    for (const auto* k : kinds) out.refs.push_back({k, ""});
    return out;
  }
  for (const auto* k : kinds)
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i].find('/') != std::string::npos)
        throw CliError("there is no need to specify a resource type as a separate argument when passing arguments in "
                       "resource/name form (e.g. 'kctl get resource/<resource_name>' instead of 'kctl get resource "
                       "resource/<resource_name>'");
      out.refs.push_back({k, args[i]});
    }
  out.singular = kinds.size() == 1 && args.size() == 2;
  return out;
}

bool several_kinds(const std::vector<ResourceRef>& refs) {
  std::set<const api::KindInfo*> kinds;
  for (const auto& r : refs) kinds.insert(r.kind);
  return kinds.size() > 1;
}

void FilenameOptions::add_flags(FlagSet& flags, const std::string& purpose) {
  flags.add_strings("filename", 'f', &filenames, "Filename, directory, or URL to files " + purpose);
  flags.add_bool("recursive", 'R', &recursive,
                 "Process the directory used in -f, --filename recursively. Useful when you want to manage related "
                 "manifests organized within the same directory.");
}

std::string namespace_for(const api::KindInfo& kind, const json& obj, Session& session) {
  if (!kind.namespaced) return "";
  std::string ns = obj.value("/metadata/namespace"_json_pointer, std::string());
  return ns.empty() ? session.ns() : ns;
}

std::vector<Manifest> read_manifests(const FilenameOptions& files, Session& session, std::istream& in,
                                     bool fill_namespace) {
  std::vector<Manifest> out;
  for (const auto& f : files.filenames) {
    if (f.rfind("http://", 0) == 0 || f.rfind("https://", 0) == 0)
      throw CliError("reading manifests from URLs is not supported by kctl; download " + f + " first");
    std::vector<std::string> paths;
    if (f == "-") paths.push_back("-");
    else expand_path(f, files.recursive, paths);
    for (const auto& p : paths) {
      std::string source = p == "-" ? "STDIN" : p, text;
      if (p == "-") {
        text = read_all(in, source);
      } else {
        std::ifstream file(p, std::ios::binary);
        if (!file) throw CliError("open " + p + ": permission denied");
        text = read_all(file, source);
      }
      std::vector<json> docs;
      try {
        docs = api::flatten_lists(api::decode_documents(text));
      } catch (const api::StatusError& e) {
        throw CliError("error parsing " + source + ": " + e.status().message);
      }
      for (auto& obj : docs) {
        std::string api_version = obj.value("apiVersion", ""), kind = obj.value("kind", "");
        if (kind.empty()) throw CliError("unable to decode \"" + source + "\": Object 'Kind' is missing in '" + obj.dump() + "'");
        const api::KindInfo* k = api::Registry::builtin().by_api_version_kind(api_version, kind);
        Manifest m{source, std::move(obj), k, "", ""};
        m.name = m.object.value("/metadata/name"_json_pointer, std::string());
        if (!k)
          throw CliError("resource mapping not found for name: \"" + m.name + "\" namespace: \"" +
                         m.object.value("/metadata/namespace"_json_pointer, std::string()) + "\" from \"" + source +
                         "\": no matches for kind \"" + kind + "\" in version \"" + api_version +
                         "\"\nensure CRDs are installed first");
        std::string own = m.object.value("/metadata/namespace"_json_pointer, std::string());
        if (k->namespaced && session.ns_from_flag() && !own.empty() && own != session.ns())
          throw CliError("the namespace from the provided object \"" + own + "\" does not match the namespace \"" +
                         session.ns() + "\". You must pass '--namespace=" + own + "' to perform this operation.");
        m.ns = namespace_for(*k, m.object, session);
        if (fill_namespace && k->namespaced) m.object["metadata"]["namespace"] = m.ns;
        out.push_back(std::move(m));
      }
    }
  }
  return out;
}

}  // namespace kctl::cli
