// Authentication of HTTPS requests: client certificates, static and pluggable bearer tokens, legacy basic auth.
#include "daemons/apiserver/authn.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "api/go_json.h"
#include "api/status.h"

namespace kctl::apiserver {

namespace {

// One CSV record as Go's encoding/csv reads it: fields split on commas, a field may be quoted with "" and then hold
// commas and doubled quotes. Returns false for a quote left open.
bool split_csv(const std::string& line, std::vector<std::string>& fields) {
  fields.clear();
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(cur);
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) return false;
  fields.push_back(cur);
  return true;
}

api::StatusError unauthorized() { return api::StatusError(api::Status::unauthorized("Unauthorized")); }

}  // namespace

UserInfo with_authenticated_group(UserInfo user) {
  if (!user.in_group(kSystemAuthenticated)) user.groups.push_back(kSystemAuthenticated);
  return user;
}

std::vector<StaticCredential> read_credential_file(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--" + flag + ": cannot read " + path);
  std::vector<StaticCredential> out;
  std::string line;
  std::vector<std::string> f;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::string where = "--" + flag + " " + path + " line " + std::to_string(n) + ": ";
    if (!split_csv(line, f)) throw std::runtime_error(where + "a quoted field is not closed");
    if (f.size() < 3)
      throw std::runtime_error(where + "must have at least 3 columns (secret, user name, user uid), found " +
                               std::to_string(f.size()));
    if (f[0].empty()) throw std::runtime_error(where + "the first column (the secret) is empty");
    if (f[1].empty()) throw std::runtime_error(where + "the user name is empty");
    StaticCredential c;
    c.secret = f[0];
    c.user.name = f[1];
    c.user.uid = f[2];
    if (f.size() > 3) {
      std::stringstream groups(f[3]);
      for (std::string g; std::getline(groups, g, ',');)
        if (!g.empty()) c.user.groups.push_back(g);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Authenticator::Authenticator(const AuthnOptions& options) {
  if (!options.token_auth_file.empty())
    for (auto& c : read_credential_file(options.token_auth_file, "token-auth-file"))
      tokens_[c.secret] = std::move(c.user);  // a repeated token: the last line wins, as kube-apiserver's
  if (!options.basic_auth_file.empty())
    for (auto& c : read_credential_file(options.basic_auth_file, "basic-auth-file")) {
      std::string name = c.user.name;
      basic_[name] = std::move(c);
    }
}

void Authenticator::add_token_source(TokenSource source) { token_sources_.push_back(std::move(source)); }

std::optional<UserInfo> Authenticator::authenticate(const http::Request& req) const {
  if (!req.peer.common_name.empty()) {
    UserInfo u;
    u.name = req.peer.common_name;
    u.groups = req.peer.organizations;
    return with_authenticated_group(std::move(u));
  }
  std::string auth = http::header(req.headers, "Authorization");
  if (auth.empty()) return std::nullopt;
  auto scheme_is = [&](std::string_view scheme) {
    return auth.size() > scheme.size() && http::iequals(auth.substr(0, scheme.size()), scheme) &&
           auth[scheme.size()] == ' ';
  };
  if (scheme_is("Bearer")) {
    std::string token = auth.substr(7);
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (token.empty()) throw unauthorized();
    if (auto it = tokens_.find(token); it != tokens_.end()) return with_authenticated_group(it->second);
    for (const auto& source : token_sources_)
      if (auto user = source(token)) return with_authenticated_group(std::move(*user));
    throw unauthorized();
  }
  if (scheme_is("Basic")) {
    if (basic_.empty()) throw unauthorized();
    auto decoded = api::base64_decode(auth.substr(6));
    if (!decoded) throw unauthorized();
    auto colon = decoded->find(':');
    if (colon == std::string::npos) throw unauthorized();
    auto it = basic_.find(decoded->substr(0, colon));
    if (it == basic_.end() || it->second.secret != decoded->substr(colon + 1)) throw unauthorized();
    return with_authenticated_group(it->second.user);
  }
  throw unauthorized();
}

}  // namespace kctl::apiserver
