// What api/tls.cc and api/pki.cc both need of OpenSSL: owning pointers, the last error as text, and reading a
// PEM file of bounded size.
#pragma once

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace kctl::api::openssl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;

// The reason of OpenSSL's last error (and the error queue cleared).
std::string last_error();

// A PEM certificate or key is a few KiB; anything bigger is not one.
enum class PemRead { Ok, CannotOpen, TooLarge };
// Reads `path` into `out`; CannotOpen leaves errno set.
PemRead read_pem_file(const std::string& path, std::string& out);

}  // namespace kctl::api::openssl
