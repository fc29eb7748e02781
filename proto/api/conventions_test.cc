// Tests of the API conventions: arena ids and names, sizes, endpoints.
#include <cstdlib>

#include "gtest/gtest.h"
#include "proto/api/endpoint.h"
#include "proto/api/names.h"
#include "proto/api/size.h"

namespace shmpool::api {
namespace {

TEST(Names, ArenaIds) {
  EXPECT_TRUE(ValidateArenaId("default").ok());
  EXPECT_TRUE(ValidateArenaId("a-b_c.1").ok());
  EXPECT_TRUE(ValidateArenaId(std::string(63, 'a')).ok());
  EXPECT_FALSE(ValidateArenaId(std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateArenaId("").ok());
  EXPECT_FALSE(ValidateArenaId("a/b").ok());
  EXPECT_FALSE(ValidateArenaId("Big").ok());
  EXPECT_FALSE(ValidateArenaId(".hidden").ok());
  EXPECT_FALSE(ValidateArenaId("-x").ok());
  EXPECT_NE(ValidateArenaId("a/b").message().find("'/'"), std::string::npos);
}

TEST(Names, ArenaAndSessionNames) {
  EXPECT_EQ(*ParseArenaName("arenas/x"), "x");
  EXPECT_FALSE(ParseArenaName("x").ok());
  EXPECT_FALSE(ParseArenaName("arenas/-").ok());
  EXPECT_EQ(*ParseSessionName(SessionName(42)), 42u);
  EXPECT_FALSE(ParseSessionName("sessions/x").ok());
  EXPECT_EQ(ArenaIdOfSegmentFile(SegmentFileName("a.b")), "a.b");
  EXPECT_EQ(ArenaIdOfSegmentFile("shmpool..seg"), "");
  EXPECT_EQ(ArenaIdOfSegmentFile("other.seg"), "");
  EXPECT_EQ(RetiredSegmentFileName("a.b", 7), "shmpool.a.b.seg.retired-7");
  EXPECT_EQ(ArenaIdOfRetiredFile(RetiredSegmentFileName("a.b", 7)), "a.b");
  EXPECT_EQ(ArenaIdOfRetiredFile("shmpool.a.seg.retired-"), "");
  EXPECT_EQ(ArenaIdOfRetiredFile("shmpool.a.seg.retired-x"), "");
  EXPECT_EQ(ArenaIdOfRetiredFile("shmpool.a.seg"), "");
  EXPECT_EQ(ArenaIdOfSegmentFile(RetiredSegmentFileName("a", 1)), "");
}

TEST(Size, Parse) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("64MiB"), 64u << 20);
  EXPECT_EQ(*ParseSize("1GiB"), 1u << 30);
  EXPECT_EQ(*ParseSize("2g"), 2ull << 30);
  EXPECT_EQ(*ParseSize("512 KiB"), 512u << 10);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("1.5GiB").ok());
  EXPECT_FALSE(ParseSize("12XB").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("99999999999TiB").ok());
}

TEST(Size, Format) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatSize(1ull << 30), "1 GiB");
}

TEST(Endpoint, Parse) {
  EXPECT_EQ(ParseEndpoint("unix:/a/b")->address, "/a/b");
  EXPECT_EQ(ParseEndpoint("unix:///a/b")->address, "/a/b");
  EXPECT_EQ(ParseEndpoint("/a/b")->Target(), "unix:/a/b");
  EXPECT_EQ(ParseEndpoint("localhost:7000")->kind, Endpoint::kTcp);
  EXPECT_FALSE(ParseEndpoint("unix:relative").ok());
  EXPECT_FALSE(ParseEndpoint("nonsense").ok());
}

TEST(Endpoint, ClientDefault) {
  EXPECT_EQ(*ClientEndpoint("unix:/x"), "unix:/x");
  setenv("SHMPOOL_ENDPOINT", "unix:/from/env", 1);
  EXPECT_EQ(*ClientEndpoint(""), "unix:/from/env");
  unsetenv("SHMPOOL_ENDPOINT");
  absl::StatusOr<std::string> fallback = ClientEndpoint("");
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(fallback->rfind("unix:/", 0), 0u);
}

}  // namespace
}  // namespace shmpool::api
