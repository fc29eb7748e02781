#include "server/core/log.h"

#include "gtest/gtest.h"

namespace shmpool::server {
namespace {

std::string Logged(absl::string_view key, absl::string_view value) {
  ::testing::internal::CaptureStderr();
  LogWarning("something_happened").Kv(key, value).Kv("n", 42);
  return ::testing::internal::GetCapturedStderr();
}

TEST(Log, OneLineOfKeyValuesAfterTimeLevelAndEvent) {
  const std::string line = Logged("arena", "default");
  EXPECT_EQ(line.rfind("ts=", 0), 0u) << line;
  EXPECT_NE(line.find(" level=warning event=something_happened arena=default n=42\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
}

TEST(Log, ValuesWithSpacesQuotesOrEqualsAreQuoted) {
  EXPECT_NE(Logged("reason", "two words").find(" reason=\"two words\" "), std::string::npos);
  EXPECT_NE(Logged("reason", "a=b").find(" reason=\"a=b\" "), std::string::npos);
  EXPECT_NE(Logged("reason", "say \"hi\"").find(" reason=\"say \\\"hi\\\"\" "), std::string::npos)
      << Logged("reason", "say \"hi\"");
}

}  // namespace
}  // namespace shmpool::server
