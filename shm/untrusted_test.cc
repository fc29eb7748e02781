// UntrustedScope: a failing SHMPOOL_CHECK throws SegmentFault(kCorrupt) naming the check,
// its file and line inside a scope, and aborts outside one; scopes nest.
#include "shm/untrusted.h"

#include <string>

#include "gtest/gtest.h"
#include "shm/check.h"

namespace shmpool::shm {
namespace {

using std::chrono::milliseconds;

TEST(UntrustedScope, FailedCheckThrowsWithExpressionFileAndLine) {
  UntrustedScope scope(milliseconds(100));
  const int line = __LINE__ + 2;
  try {
    SHMPOOL_CHECK(1 + 1 == 3);
    FAIL() << "no SegmentFault";
  } catch (const SegmentFault& f) {
    EXPECT_EQ(f.kind(), SegmentFault::Kind::kCorrupt);
    EXPECT_NE(std::string(f.what()).find("check failed: 1 + 1 == 3 ("), std::string::npos)
        << f.what();
    EXPECT_NE(std::string(f.what()).find("untrusted_test.cc:" + std::to_string(line) + ")"),
              std::string::npos)
        << f.what();
  }
}

TEST(UntrustedScopeDeathTest, FailedCheckOutsideAScopeAborts) {
  EXPECT_FALSE(UntrustedScope::Active());
  EXPECT_DEATH(SHMPOOL_CHECK(1 + 1 == 3), "check failed: 1 \\+ 1 == 3 at .*untrusted_test.cc");
}

TEST(UntrustedScopeDeathTest, FailedCheckAfterTheScopeEndedAborts) {
  { UntrustedScope scope(milliseconds(100)); }
  EXPECT_DEATH(SHMPOOL_CHECK(false), "check failed");
}

TEST(UntrustedScope, NestsWithTheInnermostDeadline) {
  EXPECT_FALSE(UntrustedScope::Active());
  {
    UntrustedScope outer(milliseconds(300));
    EXPECT_EQ(UntrustedScope::LockDeadline(), milliseconds(300));
    {
      UntrustedScope inner(milliseconds(20));
      EXPECT_TRUE(UntrustedScope::Active());
      EXPECT_EQ(UntrustedScope::LockDeadline(), milliseconds(20));
    }
    EXPECT_TRUE(UntrustedScope::Active());
    EXPECT_EQ(UntrustedScope::LockDeadline(), milliseconds(300));
    EXPECT_THROW(SHMPOOL_CHECK(false), SegmentFault);
  }
  EXPECT_FALSE(UntrustedScope::Active());
}

}  // namespace
}  // namespace shmpool::shm
