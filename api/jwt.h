// JSON Web Tokens as compact JWS (RFC 7515/7519) with OpenSSL's C API: ES256 (ECDSA P-256, the signature as raw
// R||S) and RS256, signed and verified. ServiceAccount tokens are these, as kube-apiserver issues them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::jwt {

// A key that cannot be read or used, or a token that cannot be signed.
class JwtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// base64url without padding (RFC 7515 section 2); decoding refuses padding and other alphabets.
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);

// An ECDSA P-256 (ES256) or RSA (RS256) key, private or public only. Copies share the key.
class Key {
 public:
  // The first private key in a PEM text (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
  static Key private_from_pem(const std::string& pem);
  // Every key in a PEM text as kube-apiserver's --service-account-key-file reads it: public keys, certificates (their
  // public key) and private keys (their public half). Throws JwtError when there is none, or one of another type.
  static std::vector<Key> public_from_pem(const std::string& pem);
  // A new ECDSA P-256 key.
  static Key generate_es256();

  std::string algorithm() const;  // "ES256" or "RS256"
  bool has_private() const { return private_; }
  // The public key as PEM (SubjectPublicKeyInfo) and the private key as PEM (PKCS#8).
  std::string public_pem() const;
  std::string private_pem() const;
  // kube-apiserver's "kid": base64url(SHA-256(DER SubjectPublicKeyInfo)), so a verifier can pick the key.
  std::string key_id() const;

  struct Impl;

 private:
  Key(std::shared_ptr<Impl> impl, bool is_private);
  std::shared_ptr<Impl> impl_;
  bool private_ = false;
  friend std::string sign(const nlohmann::json&, const Key&);
  friend bool verify_signature(std::string_view, const Key&);
};

// header.payload.signature with header {"alg": key.algorithm(), "kid": key.key_id()}. Throws JwtError.
std::string sign(const nlohmann::json& claims, const Key& key);

// A compact JWS split and decoded, not yet verified.
struct Token {
  nlohmann::json header, claims;
};

// Tokens bigger than this are not ours (a bound ServiceAccount token is under 2 KiB).
inline constexpr size_t kMaxTokenBytes = 64 * 1024;

// The header and claims of a compact JWS: three base64url parts, the first two JSON objects. nullopt when `token`
// is not one (a token of another kind, for another authenticator).
std::optional<Token> parse(std::string_view token);
// Whether the signature of `token` verifies with `key` for the header's "alg" (which must be the key's: no "none",
// no algorithm confusion).
bool verify_signature(std::string_view token, const Key& key);

// Why the time claims refuse `claims` at `now` (seconds since the epoch), allowing `leeway` seconds of clock skew:
// "token is expired (exp)", "token not valid yet (nbf)", "token issued in the future (iat)"; "" when they accept it.
// A token without exp is refused.
std::string time_problem(const nlohmann::json& claims, int64_t now, int64_t leeway);

}  // namespace kctl::jwt
