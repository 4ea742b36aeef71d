// ImageStore: importing a root filesystem directory, a tarball, a `docker save` archive and an OCI layout with
// whiteouts; names, lookups by short reference and id, removal.
#include "daemons/kubelet/image_store.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "daemons/common/process.h"

namespace fs = std::filesystem;
using kctl::kubelet::ImageStore;
using nlohmann::json;

namespace {

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kctl-images-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p;
  }
  void tar(const fs::path& src, const fs::path& out) {
    auto r = kctl::run_process({"tar", "-cf", out.string(), "-C", src.string(), "."});
    ASSERT_TRUE(r.ok()) << r.err;
  }
  fs::path dir_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_F(ImageStoreTest, NormalizesReferencesLikeKubernetes) {
  EXPECT_EQ(ImageStore::normalize("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(ImageStore::normalize("kctl/busybox:1.0"), "docker.io/kctl/busybox:1.0");
  EXPECT_EQ(ImageStore::normalize("registry.local:5000/app"), "registry.local:5000/app:latest");
  EXPECT_EQ(ImageStore::normalize("quay.io/x/y@sha256:abc"), "quay.io/x/y@sha256:abc");
}

TEST_F(ImageStoreTest, ImportsADirectoryAndATarball) {
  file(dir_ / "src/bin/hello", "#!/bin/sh\necho hi\n");
  ImageStore store((dir_ / "store").string());
  auto img = store.import("kctl/hello:1", (dir_ / "src").string());
  EXPECT_EQ(slurp(fs::path(img.rootfs) / "bin/hello"), "#!/bin/sh\necho hi\n");
  EXPECT_TRUE(fs::is_directory(fs::path(img.rootfs) / "usr"));  // nspawn needs it
  ASSERT_TRUE(store.find("kctl/hello:1"));
  EXPECT_FALSE(store.find("kctl/hello:2"));
  EXPECT_EQ(store.find(img.id.substr(7, 12))->id, img.id);
  tar(dir_ / "src", dir_ / "src.tar");
  auto same = store.import("kctl/hello:tarred", (dir_ / "src.tar").string());
  EXPECT_EQ(store.list().size(), 1u + (same.id != img.id ? 1u : 0u));
  // survives a reload
  ImageStore again((dir_ / "store").string());
  EXPECT_TRUE(again.find("docker.io/kctl/hello:1"));
  EXPECT_TRUE(again.remove("kctl/hello:1"));
  EXPECT_FALSE(again.find("kctl/hello:1"));
  EXPECT_THROW(again.import("x", (dir_ / "missing").string()), std::runtime_error);
}

TEST_F(ImageStoreTest, DockerSaveArchiveAppliesLayersAndWhiteouts) {
  file(dir_ / "l1/etc/keep", "keep");
  file(dir_ / "l1/etc/gone", "gone");
  file(dir_ / "l1/opaque/old", "old");
  file(dir_ / "l2/etc/.wh.gone", "");
  file(dir_ / "l2/etc/new", "new");
  file(dir_ / "l2/opaque/.wh..wh..opq", "");
  file(dir_ / "l2/opaque/fresh", "fresh");
  fs::create_directories(dir_ / "save");
  tar(dir_ / "l1", dir_ / "save/l1.tar");
  tar(dir_ / "l2", dir_ / "save/l2.tar");
  file(dir_ / "save/config.json",
       json{{"config", {{"Entrypoint", {"/bin/sh"}}, {"Cmd", {"-c", "true"}}, {"Env", {"A=1"}}, {"WorkingDir", "/w"}}}}.dump());
  file(dir_ / "save/manifest.json",
       json::array({{{"Config", "config.json"}, {"RepoTags", {"x:1"}}, {"Layers", {"l1.tar", "l2.tar"}}}}).dump());
  tar(dir_ / "save", dir_ / "image.tar");
  ImageStore store((dir_ / "store").string());
  auto img = store.import("x:1", (dir_ / "image.tar").string());
  fs::path r(img.rootfs);
  EXPECT_TRUE(fs::exists(r / "etc/keep"));
  EXPECT_TRUE(fs::exists(r / "etc/new"));
  EXPECT_FALSE(fs::exists(r / "etc/gone"));
  EXPECT_FALSE(fs::exists(r / "opaque/old"));
  EXPECT_TRUE(fs::exists(r / "opaque/fresh"));
  EXPECT_FALSE(fs::exists(r / "opaque/.wh..wh..opq"));
  EXPECT_EQ(img.config.entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(img.config.env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(img.config.working_dir, "/w");
}

TEST_F(ImageStoreTest, OciLayout) {
  file(dir_ / "l1/srv/data", "v1");
  fs::create_directories(dir_ / "oci/blobs/sha256");
  tar(dir_ / "l1", dir_ / "oci/blobs/sha256/layer1");
  file(dir_ / "oci/blobs/sha256/cfg", json{{"config", {{"Cmd", {"/srv/run"}}}}}.dump());
  file(dir_ / "oci/blobs/sha256/man",
       json{{"config", {{"digest", "sha256:cfg"}}}, {"layers", json::array({{{"digest", "sha256:layer1"}}})}}.dump());
  file(dir_ / "oci/index.json", json{{"manifests", json::array({{{"digest", "sha256:man"}}})}}.dump());
  file(dir_ / "oci/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  ImageStore store((dir_ / "store").string());
  auto img = store.import("oci/app:2", (dir_ / "oci").string());
  EXPECT_EQ(slurp(fs::path(img.rootfs) / "srv/data"), "v1");
  EXPECT_EQ(img.config.cmd, std::vector<std::string>{"/srv/run"});
}
