// Container log rotation and reading, on files in a temporary directory: the writer keeps each file within its
// size and at most max-files files; the reader reads the current file, and a follower moves on to each new file
// as the log is rotated under it without losing or repeating a line.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "daemons/kubelet/container_log.h"

namespace fs = std::filesystem;
using namespace kctl::kubelet;
using namespace std::chrono_literals;

namespace {

class ContainerLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kctl-log-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/0.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Records of one fixed size, so that a file of max_size holds a known number of them.
  static std::string record(int i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "2024-01-01T12:00:00.000000000Z stdout F line-%06d\n", i);
    return buf;
  }
  static int line_number(std::string_view line) { return std::atoi(std::string(line.substr(5)).c_str()); }
  size_t log_files() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.path().filename().string().rfind("0.log", 0) == 0;
    return n;
  }
  std::string read_all(const LogOptions& o = {}) const {
    std::string out;
    read_container_log(path_, o, [&](std::string_view l) { return out.append(l), true; }, [] { return false; });
    return out;
  }

  std::string dir_, path_;
};

}  // namespace

TEST_F(ContainerLogTest, RotatesAtTheSizeAndKeepsAtMostMaxFiles) {
  const int64_t size = int64_t(record(0).size());
  ContainerLogWriter w(path_, {10 * size, 3});
  for (int i = 0; i < 95; ++i) {
    w.write(record(i));
    ASSERT_LE(log_files(), 3u) << "after record " << i;
  }
  // 95 records, 10 to a file: the current file holds 90..94, the two rotated ones 70..79 and 80..89.
  EXPECT_EQ(int64_t(fs::file_size(path_)), 5 * size);
  auto rotated = rotated_container_logs(path_);
  ASSERT_EQ(rotated.size(), 2u);
  for (const auto& r : rotated) {
    EXPECT_EQ(int64_t(fs::file_size(r)), 10 * size) << r;
    // The kubelet's names: <file>.YYYYMMDD-hhmmss (and a counter when one second saw several rotations).
    std::string suffix = r.substr(path_.size() + 1);
    EXPECT_EQ(suffix[8], '-') << r;
  }
  std::ifstream oldest(rotated[0]), newest(rotated[1]);
  std::string first;
  std::getline(oldest, first);
  EXPECT_EQ(first + "\n", record(70));
  std::getline(newest, first);
  EXPECT_EQ(first + "\n", record(80));
  // The reader reads the current file, as the kubelet does.
  std::string text = read_all();
  EXPECT_EQ(text, "line-000090\nline-000091\nline-000092\nline-000093\nline-000094\n");
  LogOptions tail;
  tail.tail_lines = 2;
  EXPECT_EQ(read_all(tail), "line-000093\nline-000094\n");

  remove_container_log(path_);
  EXPECT_EQ(log_files(), 0u);
}

TEST_F(ContainerLogTest, WithoutAMaxSizeNothingIsRotated) {
  {
    ContainerLogWriter w(path_, {0, 2});
    for (int i = 0; i < 1000; ++i) w.write(record(i));
  }
  EXPECT_EQ(log_files(), 1u);
  EXPECT_EQ(int64_t(fs::file_size(path_)), 1000 * int64_t(record(0).size()));
}

TEST_F(ContainerLogTest, ARecordLargerThanTheMaxSizeGetsAFileOfItsOwn) {
  ContainerLogWriter w(path_, {64, 5});
  w.write(record(1));
  std::string big = "2024-01-01T12:00:00.000000000Z stdout F " + std::string(100, 'x') + "\n";
  w.write(big);
  w.write(record(2));
  EXPECT_EQ(rotated_container_logs(path_).size(), 2u);
  EXPECT_EQ(read_all(), "line-000002\n");
}

// A follower reads every line once and in order while the log is rotated under it, and stops once the container
// has stopped and everything is read. The writer waits for the follower before each rotation (a follower more
// than one rotation behind skips to the newest file, as the kubelet's does).
TEST_F(ContainerLogTest, FollowingCarriesOnAcrossRotations) {
  const int64_t size = int64_t(record(0).size());
  constexpr int kRecords = 200;
  ContainerLogWriter w(path_, {8 * size, 3});
  w.write(record(0));
  std::atomic<bool> done{false};
  std::atomic<int> last_seen{-1};
  std::vector<int> seen;
  LogOptions follow;
  follow.follow = true;
  std::thread reader([&] {
    read_container_log(path_, follow,
                       [&](std::string_view line) {
                         seen.push_back(line_number(line));
                         last_seen = seen.back();
                         return true;
                       },
                       [&] { return !done.load(); });
  });
  for (int i = 1; i < kRecords; ++i) {
    if (i % 8 == 0) {  // this record rotates the file
      auto deadline = std::chrono::steady_clock::now() + 5s;
      while (last_seen < i - 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    }
    w.write(record(i));
  }
  done = true;
  reader.join();
  ASSERT_EQ(seen.size(), size_t(kRecords));
  for (int i = 0; i < kRecords; ++i) ASSERT_EQ(seen[size_t(i)], i);
}

TEST_F(ContainerLogTest, RotatedFilesAreOrderedOldestFirst) {
  ContainerLogWriter w(path_, {int64_t(record(0).size()), 10});
  for (int i = 0; i < 6; ++i) w.write(record(i));  // one record per file: several rotations in one second
  auto rotated = rotated_container_logs(path_);
  ASSERT_EQ(rotated.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    std::ifstream in(rotated[size_t(i)]);
    std::string l;
    std::getline(in, l);
    EXPECT_EQ(l + "\n", record(i)) << rotated[size_t(i)];
  }
  // Not rotated files: other attempts' logs and a temporary file.
  std::ofstream(dir_ + "/0.log.tmp") << "x";
  std::ofstream(dir_ + "/1.log") << "x";
  EXPECT_EQ(rotated_container_logs(path_).size(), 5u);
}
