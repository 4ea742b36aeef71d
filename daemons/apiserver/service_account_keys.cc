// The apiserver's ServiceAccount token plumbing: its keys (flags, or DATA_DIR/pki/sa.key made at the first start),
// the issuer and authenticator built from them, and the TokenReview endpoint.
#include <ctime>
#include <filesystem>

#include "api/pki.h"
#include "daemons/apiserver/apiserver.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace

void ApiServer::use_service_account_keys() {
  std::string signing_file = options_.service_account_signing_key_file;
  std::vector<std::string> key_files = split_list(options_.service_account_key_file);
  // Made even when HTTPS is off: tokens are signed and checked whatever the transport.
  if (signing_file.empty() && key_files.empty()) {
    pki::ClusterPkiFiles files((std::filesystem::path(options_.data_dir) / "pki").string());
    try {
      for (auto& change : pki::ensure_service_account_key(files)) pki_changes_.push_back(std::move(change));
    } catch (const pki::PkiError& e) {
      throw std::runtime_error(std::string("cannot set up the ServiceAccount key in ") + files.dir + ": " + e.what());
    }
    signing_file = files.sa_key;
    key_files = {files.sa_pub};
  }
  if (signing_file.empty())
    throw std::runtime_error("--service-account-key-file is given without --service-account-signing-key-file: "
                             "the apiserver could verify ServiceAccount tokens but not issue any");
  std::vector<std::string> issuers = split_list(options_.service_account_issuer);
  if (issuers.empty()) throw std::runtime_error("--service-account-issuer is empty");
  std::vector<std::string> audiences = split_list(options_.api_audiences);
  if (audiences.empty()) audiences = issuers;
  try {
    jwt::Key signing = jwt::Key::private_from_pem(pki::read_pem(signing_file));
    std::vector<jwt::Key> keys;
    for (const auto& f : key_files)
      for (auto& k : jwt::Key::public_from_pem(pki::read_pem(f))) keys.push_back(std::move(k));
    if (key_files.empty()) keys = jwt::Key::public_from_pem(signing.public_pem());
    token_issuer_ = std::make_unique<ServiceAccountTokenIssuer>(signing, issuers.front(), audiences,
                                                                object_getter(*objects_));
    token_authenticator_ =
        std::make_unique<ServiceAccountTokenAuthenticator>(std::move(keys), issuers, audiences, object_getter(*objects_));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot use the ServiceAccount keys: ") + e.what());
  }
  objects_->set_token_issuer(token_issuer_.get());
}


}  // namespace kctl::apiserver
