// TempSegment: a segment file in a private temporary directory, removed afterwards.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "shm/segment.h"

namespace shmpool::testing {

class TempSegment {
 public:
  // Fails the test (EXPECT) if Create fails, unless `expect_ok` is false; segment() is
  // null then, and status() says why.
  explicit TempSegment(uint64_t capacity, shm::Geometry g = {}, bool expect_ok = true) {
    char tmpl[] = "/dev/shm/shmpool-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/arena.seg";
    g.capacity = capacity;
    auto s = shm::Segment::Create(path_, g);
    status_ = s.status();
    if (s.ok()) segment_ = std::shared_ptr<shm::Segment>(std::move(*s));
    if (expect_ok) {
      EXPECT_TRUE(s.ok()) << s.status();
    }
  }
  ~TempSegment() {
    segment_.reset();
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }
  std::shared_ptr<shm::Segment> segment() const { return segment_; }
  const absl::Status& status() const { return status_; }

 private:
  std::string dir_, path_;
  std::shared_ptr<shm::Segment> segment_;
  absl::Status status_;
};

}  // namespace shmpool::testing
