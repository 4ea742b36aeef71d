// Authentication: who an HTTPS request comes from, as kube-apiserver decides it. In order, the first that knows the
// request decides:
//   1. the TLS client certificate (verified against --client-ca-file during the handshake): CN is the user, each O a
//      group;
//   2. `Authorization: Bearer TOKEN`: the static tokens of --token-auth-file, then every other token source added with
//      add_token_source() (ServiceAccount JWTs, bootstrap tokens);
//   3. `Authorization: Basic ...` against --basic-auth-file (legacy, off unless the flag is given).
// Every authenticated user is also in group system:authenticated. Credentials that are present but wrong are a 401;
// no credentials at all is "anonymous", which the caller admits only on the public paths.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/http.h"
#include "daemons/apiserver/auth.h"

namespace kctl::apiserver {

struct AuthnOptions {
  std::string token_auth_file;  // --token-auth-file: token,user,uid[,"group1,group2"]
  std::string basic_auth_file;  // --basic-auth-file: password,user,uid[,"group1,group2"]
};

// One line of a token or basic-auth file: the secret (token or password) and who it stands for.
struct StaticCredential {
  std::string secret;
  UserInfo user;
};

// Reads a kube-apiserver credential CSV (--token-auth-file, --basic-auth-file): at least three columns (secret, user
// name, uid) and an optional fourth, a comma-separated group list; empty lines are skipped. Throws std::runtime_error
// naming the file, line and problem.
std::vector<StaticCredential> read_credential_file(const std::string& path, const std::string& flag);

class Authenticator {
 public:
  // A source of bearer tokens: nullopt when the token is not one of its own (the next source is asked); throws
  // api::StatusError(401) for a token of its own that is no longer good (expired, revoked).
  using TokenSource = std::function<std::optional<UserInfo>(const std::string& token)>;

  // Reads the files; throws std::runtime_error when one cannot be read or is malformed.
  explicit Authenticator(const AuthnOptions& options);

  void add_token_source(TokenSource source);

  // The request's user; nullopt when it carries no credentials at all. Throws api::StatusError(401) when it carries
  // credentials that do not authenticate.
  std::optional<UserInfo> authenticate(const http::Request& req) const;

  bool basic_auth_enabled() const { return !basic_.empty(); }

 private:
  std::map<std::string, UserInfo> tokens_;              // token -> user
  std::map<std::string, StaticCredential> basic_;       // user name -> password and user
  std::vector<TokenSource> token_sources_;
};

// Adds system:authenticated to an authenticated user's groups (once).
UserInfo with_authenticated_group(UserInfo user);

}  // namespace kctl::apiserver
