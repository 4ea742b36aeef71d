// The fixture of the unit suites that need a real store behind an ObjectService (the authorizers, RBAC escalation):
// a SQLite file in a directory of its own per test, the Service allocator, ObjectService with the default
// namespaces; torn down (and the directory removed) after each test, after what the suite built on top of it.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "api/registry.h"
#include "daemons/apiserver/object_service.h"
#include "daemons/apiserver/service_allocator.h"
#include "daemons/apiserver/sqlite_store.h"

namespace kctl::test {

class ObjectServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kctl-objects-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    apiserver::SqliteStoreOptions o;
    o.path = (dir_ / "state.db").string();
    o.sync = apiserver::SyncMode::Normal;
    store_ = std::make_unique<apiserver::SqliteStore>(o);
    allocator_ = std::make_unique<apiserver::ServiceAllocator>("10.96.0.0/12", 30000, 32767);
    objects_ = std::make_unique<apiserver::ObjectService>(*store_, api::Registry::builtin(), *allocator_);
    objects_->bootstrap("127.0.0.1", 6443);
  }
  // Suites that hold more (authorizers over the store) drop it first, then call this.
  void TearDown() override {
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void create_namespaces(std::initializer_list<const char*> names) {
    for (const char* ns : names)
      objects_->create(*api::Registry::builtin().by_kind("", "Namespace"), "",
                       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}, {});
  }

  std::filesystem::path dir_;
  std::unique_ptr<apiserver::SqliteStore> store_;
  std::unique_ptr<apiserver::ServiceAllocator> allocator_;
  std::unique_ptr<apiserver::ObjectService> objects_;
};

}  // namespace kctl::test
