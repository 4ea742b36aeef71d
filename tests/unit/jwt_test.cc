// Compact JWS: ES256 tokens that verify with their key and with nothing else, that fail when a byte of the payload
// or signature changes, RS256 verification of a key made by the openssl tool, and the time claims.
#include "api/jwt.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>

using namespace kctl::jwt;
using nlohmann::json;

namespace {

json claims(int64_t exp) {
  int64_t now = std::time(nullptr);
  return {{"iss", "https://kubernetes.default.svc.cluster.local"}, {"sub", "system:serviceaccount:default:default"},
          {"aud", {"https://kubernetes.default.svc.cluster.local"}}, {"iat", now}, {"nbf", now}, {"exp", exp}};
}

// Replaces the character at `pos` of `s` with another base64url character.
std::string flip(std::string s, size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

}  // namespace

TEST(Jwt, Base64UrlRoundTripsWithoutPadding) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xfb\xff\xfe", 3)}) {
    std::string e = base64url_encode(s);
    EXPECT_EQ(e.find_first_of("=+/"), std::string::npos) << e;
    ASSERT_TRUE(base64url_decode(e)) << e;
    EXPECT_EQ(*base64url_decode(e), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("Zm9v="));  // padding
  EXPECT_FALSE(base64url_decode("Zm+v"));   // the standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9vY"));  // a length no encoding has
}

TEST(Jwt, Es256SignsAndVerifies) {
  Key key = Key::generate_es256();
  EXPECT_EQ(key.algorithm(), "ES256");
  std::string token = sign(claims(std::time(nullptr) + 600), key);
  auto parsed = parse(token);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->header["alg"], "ES256");
  EXPECT_EQ(parsed->header["kid"], key.key_id());
  EXPECT_EQ(parsed->claims["sub"], "system:serviceaccount:default:default");
  // R||S: 64 bytes, 86 base64url characters.
  EXPECT_EQ(token.size() - token.rfind('.') - 1, 86u);
  EXPECT_TRUE(verify_signature(token, key));
  // The public half alone, as --service-account-key-file gives it.
  auto pub = Key::public_from_pem(key.public_pem());
  ASSERT_EQ(pub.size(), 1u);
  EXPECT_FALSE(pub[0].has_private());
  EXPECT_EQ(pub[0].key_id(), key.key_id());
  EXPECT_TRUE(verify_signature(token, pub[0]));
  // A private key file read as a verification key gives its public half.
  EXPECT_TRUE(verify_signature(token, Key::public_from_pem(key.private_pem())[0]));
  EXPECT_TRUE(verify_signature(token, Key::private_from_pem(key.private_pem())));
}

TEST(Jwt, TamperedTokensDoNotVerify) {
  Key key = Key::generate_es256();
  std::string token = sign(claims(std::time(nullptr) + 600), key);
  size_t first = token.find('.'), last = token.rfind('.');
  // Another payload with the same signature.
  json other = claims(std::time(nullptr) + 600);
  other["sub"] = "system:serviceaccount:kube-system:admin";
  std::string swapped = token.substr(0, first + 1) + base64url_encode(other.dump()) + token.substr(last);
  EXPECT_TRUE(parse(swapped));
  EXPECT_FALSE(verify_signature(swapped, key));
  EXPECT_FALSE(verify_signature(flip(token, first + 5), key));  // a payload byte
  EXPECT_FALSE(verify_signature(flip(token, last + 5), key));   // a signature byte
  EXPECT_FALSE(verify_signature(token.substr(0, last + 1), key));  // no signature
  // alg "none" and a header naming another algorithm are refused whatever the signature.
  std::string none = base64url_encode(R"({"alg":"none"})") + token.substr(first, last - first) + ".";
  EXPECT_FALSE(verify_signature(none, key));
  std::string hs = base64url_encode(R"({"alg":"HS256"})") + token.substr(first);
  EXPECT_FALSE(verify_signature(hs, key));
}

TEST(Jwt, AnotherKeyDoesNotVerify) {
  Key key = Key::generate_es256(), other = Key::generate_es256();
  std::string token = sign(claims(std::time(nullptr) + 600), key);
  EXPECT_FALSE(verify_signature(token, other));
  EXPECT_NE(key.key_id(), other.key_id());
}

TEST(Jwt, NotAJwtIsNotParsed) {
  EXPECT_FALSE(parse(""));
  EXPECT_FALSE(parse("abcdef0123456789"));  // a static token
  EXPECT_FALSE(parse("a.b"));
  EXPECT_FALSE(parse("a.b.c.d"));
  EXPECT_FALSE(parse(base64url_encode("[]") + "." + base64url_encode("{}") + ".AA"));
  EXPECT_FALSE(parse(std::string(kMaxTokenBytes + 1, 'a')));
}

TEST(Jwt, TimeClaims) {
  int64_t now = 1'700'000'000;
  json c = {{"exp", now + 10}, {"nbf", now}, {"iat", now}};
  EXPECT_EQ(time_problem(c, now, 0), "");
  EXPECT_EQ(time_problem(c, now + 11, 0), "token is expired (exp)");
  EXPECT_EQ(time_problem(c, now + 11, 60), "");  // within the leeway
  EXPECT_EQ(time_problem(c, now + 71, 60), "token is expired (exp)");
  EXPECT_EQ(time_problem(c, now - 100, 60), "token not valid yet (nbf)");
  EXPECT_EQ(time_problem({{"nbf", now}}, now, 60), "token is expired (exp)");  // no exp: refused
}

TEST(Jwt, Rs256FromTheOpensslTool) {
  auto dir = std::filesystem::temp_directory_path() / ("kctl-jwt-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string key = (dir / "rsa.key").string();
  if (std::system(("openssl genrsa -out " + key + " 2048 2>/dev/null").c_str()) != 0) GTEST_SKIP() << "no openssl";
  std::ifstream in(key);
  std::stringstream pem;
  pem << in.rdbuf();
  Key rsa = Key::private_from_pem(pem.str());
  EXPECT_EQ(rsa.algorithm(), "RS256");
  std::string token = sign(claims(std::time(nullptr) + 600), rsa);
  EXPECT_EQ(parse(token)->header["alg"], "RS256");
  auto pub = Key::public_from_pem(rsa.public_pem());
  EXPECT_TRUE(verify_signature(token, pub[0]));
  EXPECT_FALSE(verify_signature(flip(token, token.find('.') + 3), pub[0]));
  EXPECT_FALSE(verify_signature(token, Key::generate_es256()));
  std::filesystem::remove_all(dir);
}

TEST(Jwt, BadKeysAreRefused) {
  EXPECT_THROW(Key::private_from_pem("not a key"), JwtError);
  EXPECT_THROW(Key::public_from_pem(""), JwtError);
  EXPECT_THROW(Key::public_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), JwtError);
}
