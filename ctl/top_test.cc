#include "ctl/top.h"

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <deque>
#include <functional>
#include <sstream>

#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace shmpool::ctl {
namespace {

using google::protobuf::util::TimeUtil;

v1::GetStatsResponse Update(int64_t second, uint64_t nmalloc) {
  v1::GetStatsResponse r;
  *r.mutable_read_time() = TimeUtil::SecondsToTimestamp(second);
  for (const char* name : {"arenas/default", "arenas/t1"}) {
    v1::ArenaStats* s = r.add_arenas();
    s->set_name(name);
    s->set_allocated_bytes(1 << 20);
    s->set_nmalloc(nmalloc);
  }
  return r;
}

// Hands out its updates, then either ends with `end` or, when `wait`, blocks until
// cancelled. `on_wait` runs once before it blocks (after top set up its keyboard).
class FakeFeed : public StatsFeed {
 public:
  std::deque<v1::GetStatsResponse> updates;
  bool wait = false;
  grpc::Status end = grpc::Status::OK;
  std::function<void()> on_wait = [] {};

  bool Read(v1::GetStatsResponse* frame) override {
    absl::MutexLock lock(&mu_);
    if (!updates.empty()) {
      *frame = updates.front();
      updates.pop_front();
      return true;
    }
    if (wait && !cancelled_) {
      on_wait();
      mu_.Await(absl::Condition(&cancelled_));
    }
    return false;
  }
  void Cancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  grpc::Status Finish() override {
    absl::MutexLock lock(&mu_);
    return cancelled_ ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled") : end;
  }
  bool cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

 private:
  absl::Mutex mu_;
  bool cancelled_ = false;
};

// A pipe as top's keyboard: nothing typed unless the test writes to keys[1].
class TopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pipe2(keys_, O_CLOEXEC), 0); }
  void TearDown() override {
    close(keys_[0]);
    close(keys_[1]);
  }
  int Run(FakeFeed& feed, bool json, int64_t iterations, size_t width = 200) {
    const TopScreen screen{keys_[0], [width] { return width; }, &out_, false};
    ::testing::internal::CaptureStderr();
    const int rc = RunTop(feed, screen, json, iterations);
    err_ = ::testing::internal::GetCapturedStderr();
    return rc;
  }

  int keys_[2] = {-1, -1};
  std::ostringstream out_;
  std::string err_;
};

TEST_F(TopTest, QQuits) {
  FakeFeed feed;
  feed.updates = {Update(1, 10)};
  feed.wait = true;
  feed.on_wait = [this] { ASSERT_EQ(write(keys_[1], "q", 1), 1); };
  EXPECT_EQ(Run(feed, false, 0), 0) << err_;
  EXPECT_TRUE(feed.cancelled());
  EXPECT_EQ(err_, "");
  EXPECT_NE(out_.str().find("default"), std::string::npos) << out_.str();
}

TEST_F(TopTest, QQuitsFromATerminalInKeyboardModeRestoredAfter) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  auto lflag = [slave] {
    struct termios t {};
    EXPECT_EQ(tcgetattr(slave, &t), 0);
    return t.c_lflag;
  };
  const tcflag_t before = lflag();
  ASSERT_NE(before & ICANON, 0u);
  tcflag_t during = before;
  FakeFeed feed;
  feed.updates = {Update(1, 10)};
  feed.wait = true;
  feed.on_wait = [&] {
    during = lflag();
    ASSERT_EQ(write(master, "q", 1), 1);  // one key, no Enter
  };
  const TopScreen screen{slave, [] { return size_t{200}; }, &out_, true};
  EXPECT_EQ(RunTop(feed, screen, false, 0), 0);
  EXPECT_EQ(during & (ICANON | ECHO), 0u);
  EXPECT_EQ(lflag(), before);
  EXPECT_EQ(out_.str().rfind("\033[H\033[2J", 0), 0u);  // redrawn from the top
  close(slave);
  close(master);
}

TEST_F(TopTest, AStreamTheDaemonEndsExitsOneWithAMessage) {
  FakeFeed feed;
  feed.updates = {Update(1, 10)};
  EXPECT_EQ(Run(feed, false, 0), 1);
  EXPECT_EQ(err_, "shmpoolctl: top: the daemon ended the stats stream (it stopped?)\n");
}

TEST_F(TopTest, AFailedStreamExitsOneWithItsStatus) {
  FakeFeed feed;
  feed.end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "socket closed");
  EXPECT_EQ(Run(feed, false, 0), 1);
  EXPECT_EQ(err_, "shmpoolctl: UNAVAILABLE: socket closed\n");
}

TEST_F(TopTest, IterationsStopTheStream) {
  FakeFeed feed;
  feed.updates = {Update(1, 10), Update(2, 30), Update(3, 60)};
  EXPECT_EQ(Run(feed, true, 2), 0) << err_;
  EXPECT_TRUE(feed.cancelled());
  const std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  EXPECT_EQ(lines[0].rfind("{\"arenas\":[", 0), 0u) << lines[0];
}

TEST(TopView, RatesSinceThePreviousUpdate) {
  TopView view;
  const std::string first = view.Frame(Update(1, 100), 200);
  const std::string second = view.Frame(Update(3, 500), 200);
  EXPECT_NE(first.find(" - "), std::string::npos) << first;      // no rate yet
  EXPECT_NE(second.find(" 200 "), std::string::npos) << second;  // 400 mallocs in 2 s
}

TEST(TopView, FitsTheWidthLeavingColumnsOut) {
  for (size_t width : {20, 40, 64, 79}) {
    TopView view;
    const std::string frame = view.Frame(Update(1, 100), width);
    for (absl::string_view line : absl::StrSplit(frame, '\n'))
      EXPECT_LE(line.size(), width) << "width " << width << ": " << line;
    EXPECT_NE(frame.find("ARENA"), std::string::npos) << frame;
    if (width >= 40) {
      EXPECT_NE(frame.find("columns hidden"), std::string::npos) << frame;
    }
    EXPECT_EQ(frame.find("PURGES"), std::string::npos) << frame;
  }
  TopView wide;
  const std::string frame = wide.Frame(Update(1, 100), 200);
  EXPECT_NE(frame.find("PURGES"), std::string::npos) << frame;
  EXPECT_EQ(frame.find("hidden"), std::string::npos) << frame;
}

}  // namespace
}  // namespace shmpool::ctl
