// Compact JWS with OpenSSL's EVP API: base64url, ES256 signatures converted between OpenSSL's DER ECDSA-Sig-Value
// and JOSE's fixed-size R||S, RS256 (PKCS#1 v1.5), and the exp/nbf/iat checks of RFC 7519.
#include "api/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>

#include "api/openssl_util.h"

namespace kctl::jwt {

using api::openssl::BioPtr;
using api::openssl::Deleter;
using api::openssl::KeyPtr;
using api::openssl::X509Ptr;
using nlohmann::json;

struct Key::Impl {
  KeyPtr key;
};

namespace {

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// P-256: R and S are 32 bytes each in a JOSE signature.
constexpr size_t kEs256Half = 32;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

[[noreturn]] void fail(const std::string& what) { throw JwtError(what + ": " + api::openssl::last_error()); }

// "ES256" for an ECDSA P-256 key, "RS256" for RSA, "" for anything else.
std::string algorithm_of(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return EVP_PKEY_get_bits(key) >= 2048 ? "RS256" : "";
  if (!EVP_PKEY_is_a(key, "EC")) return "";
  char group[64] = "";
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
    ERR_clear_error();
    return "";
  }
  return std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256" ? "ES256" : "";
}

KeyPtr checked(KeyPtr key, const char* what) {
  if (!key) throw JwtError(std::string("not a PEM ") + what);
  if (algorithm_of(key.get()).empty())
    throw JwtError(std::string("the ") + what + " is neither ECDSA P-256 nor RSA of 2048 bits or more");
  return key;
}

// The public half of `key`, as a key of its own.
KeyPtr public_half(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) fail("cannot encode a public key");
  const unsigned char* p = der;
  KeyPtr out(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  if (!out) fail("cannot decode a public key");
  return out;
}

std::string pem_of(EVP_PKEY* key, bool private_key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  int ok = private_key ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                       : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) fail("cannot encode a key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

const EVP_MD* digest_of(const std::string&) { return EVP_sha256(); }  // ES256 and RS256 both hash with SHA-256

// OpenSSL's DER ECDSA-Sig-Value to JOSE's R||S.
std::string der_to_jose(const unsigned char* der, size_t len) {
  const unsigned char* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, long(len)));
  if (!sig) fail("cannot decode an ECDSA signature");
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * kEs256Half, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, int(kEs256Half)) < 0 || BN_bn2binpad(s, o + kEs256Half, int(kEs256Half)) < 0)
    fail("cannot encode an ECDSA signature");
  return out;
}

// JOSE's R||S to DER; "" when it is not 64 bytes.
std::string jose_to_der(std::string_view raw) {
  if (raw.size() != 2 * kEs256Half) return "";
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(p, int(kEs256Half), nullptr)), s(BN_bin2bn(p + kEs256Half, int(kEs256Half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) fail("cannot make an ECDSA signature");
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) fail("cannot encode an ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), size_t(len));
  OPENSSL_free(der);
  return out;
}

// The claim `name` as a NumericDate (seconds; Go's jwt package accepts fractions, so do we, truncated).
std::optional<int64_t> numeric_date(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  return it->is_number_float() ? int64_t(it->get<double>()) : it->get<int64_t>();
}

}  // namespace

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

Key::Key(std::shared_ptr<Impl> impl, bool is_private) : impl_(std::move(impl)), private_(is_private) {}

Key Key::private_from_pem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return Key(std::make_shared<Impl>(Impl{checked(std::move(key), "private key")}), true);
}

std::vector<Key> Key::public_from_pem(const std::string& pem) {
  std::vector<Key> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ERR_clear_error();
      break;
    }
    std::string type = name;
    const unsigned char* p = data;
    KeyPtr key;
    bool is_private = false;
    if (type == "PUBLIC KEY") {
      key.reset(d2i_PUBKEY(nullptr, &p, len));
    } else if (type == "RSA PUBLIC KEY") {
      key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len));
    } else if (type == "CERTIFICATE") {
      X509Ptr cert(d2i_X509(nullptr, &p, len));
      if (cert) key.reset(X509_get_pubkey(cert.get()));
    } else if (type == "PRIVATE KEY" || type == "EC PRIVATE KEY" || type == "RSA PRIVATE KEY") {
      key.reset(d2i_AutoPrivateKey(nullptr, &p, len));
      is_private = true;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (type == "EC PARAMETERS") continue;  // what `openssl ecparam -genkey` writes before the key
    ERR_clear_error();
    if (!key) throw JwtError("cannot read the PEM block \"" + type + "\" as a key");
    key = checked(std::move(key), "public key");
    if (is_private) key = public_half(key.get());
    out.push_back(Key(std::make_shared<Impl>(Impl{std::move(key)}), false));
  }
  if (out.empty()) throw JwtError("no PEM public key, certificate or private key in it");
  return out;
}

Key Key::generate_es256() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("cannot generate an ECDSA P-256 key");
  return Key(std::make_shared<Impl>(Impl{std::move(key)}), true);
}

std::string Key::algorithm() const { return algorithm_of(impl_->key.get()); }

std::string Key::public_pem() const { return pem_of(impl_->key.get(), false); }

std::string Key::private_pem() const {
  if (!private_) throw JwtError("a public key has no private half");
  return pem_of(impl_->key.get(), true);
}

std::string Key::key_id() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(impl_->key.get(), &der);
  if (len <= 0) fail("cannot encode a public key");
  std::array<unsigned char, SHA256_DIGEST_LENGTH> hash{};
  SHA256(der, size_t(len), hash.data());
  OPENSSL_free(der);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

std::string sign(const json& claims, const Key& key) {
  if (!key.has_private()) throw JwtError("cannot sign with a public key");
  std::string alg = key.algorithm();
  json header = {{"alg", alg}, {"kid", key.key_id()}};
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest_of(alg), nullptr, key.impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    fail("cannot sign a token");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    fail("cannot sign a token");
  sig.resize(len);
  if (alg == "ES256") sig = der_to_jose(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  return input + "." + base64url_encode(sig);
}

std::optional<Token> parse(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  size_t a = token.find('.');
  size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) return std::nullopt;
  auto header = base64url_decode(token.substr(0, a)), claims = base64url_decode(token.substr(a + 1, b - a - 1));
  if (!header || !claims || !base64url_decode(token.substr(b + 1))) return std::nullopt;
  Token out;
  out.header = json::parse(*header, nullptr, false);
  out.claims = json::parse(*claims, nullptr, false);
  if (!out.header.is_object() || !out.claims.is_object()) return std::nullopt;
  return out;
}

bool verify_signature(std::string_view token, const Key& key) {
  auto parsed = parse(token);
  if (!parsed) return false;
  std::string alg = key.algorithm();
  if (parsed->header.value("alg", json()) != alg) return false;
  size_t dot = token.rfind('.');
  std::string_view input = token.substr(0, dot);
  std::string sig = *base64url_decode(token.substr(dot + 1));
  if (alg == "ES256") {
    sig = jose_to_der(sig);
    if (sig.empty()) return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, digest_of(alg), nullptr, key.impl_->key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string time_problem(const json& claims, int64_t now, int64_t leeway) {
  auto exp = numeric_date(claims, "exp"), nbf = numeric_date(claims, "nbf"), iat = numeric_date(claims, "iat");
  // The messages of go-jose's jwt.Claims.Validate, which kube-apiserver's ServiceAccount authenticator reports.
  if (!exp || now - leeway > *exp) return "token is expired (exp)";
  if (nbf && now + leeway < *nbf) return "token not valid yet (nbf)";
  if (iat && now + leeway < *iat) return "token issued in the future (iat)";
  return "";
}

}  // namespace kctl::jwt
