#include "ctl/json.h"

#include <cmath>

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "shmpool/v1/arena.pb.h"
#include "shmpool/v1/session.pb.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::ctl {
namespace {

TEST(ToJson, SixtyFourBitIntegersAreNumbersAndZerosArePrinted) {
  v1::Arena a;
  a.set_name("arenas/t1");
  a.set_capacity_bytes(18446744073709551615ull);
  a.set_generation(1ull << 60);
  const std::string j = ToJson(a);
  EXPECT_NE(j.find("\"capacity_bytes\":18446744073709551615,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"generation\":1152921504606846976,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"quota_bytes\":0,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"adopted\":false,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"retired_segments\":[]"), std::string::npos) << j;
  // Unset optional and message fields are left out.
  EXPECT_EQ(j.find("owner_uid"), std::string::npos) << j;
  EXPECT_EQ(j.find("quarantine"), std::string::npos) << j;
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
}

TEST(ToJson, OptionalFieldsSetToZeroArePrinted) {
  v1::Arena a;
  a.set_owner_uid(0);
  EXPECT_NE(ToJson(a).find("\"owner_uid\":0"), std::string::npos) << ToJson(a);
}

TEST(ToJson, RepeatedMessagesAndFieldOrder) {
  v1::Arena a;
  for (uint64_t g : {3, 4}) {
    v1::RetiredSegment* r = a.add_retired_segments();
    r->set_generation(g);
    r->set_path("p" + std::to_string(g));
  }
  const std::string j = ToJson(a);
  EXPECT_NE(j.find("\"retired_segments\":[{\"generation\":3,\"path\":\"p3\","), std::string::npos)
      << j;
  EXPECT_NE(j.find("},{\"generation\":4,\"path\":\"p4\","), std::string::npos) << j;
  EXPECT_LT(j.find("\"name\""), j.find("\"capacity_bytes\""));  // the .proto's order
}

TEST(ToJson, EnumsByNameTimestampsAsRfc3339NegativeNumbers) {
  v1::Session s;
  s.set_state(v1::Session::LIVE);
  s.set_proc_index(-1);
  *s.mutable_attach_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(86400);
  const std::string j = ToJson(s);
  EXPECT_NE(j.find("\"state\":\"LIVE\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"proc_index\":-1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"attach_time\":\"1970-01-02T00:00:00Z\""), std::string::npos) << j;
}

TEST(ToJson, DurationsAsSecondsAndNonFiniteDoublesAsNull) {
  v1::WatchStatsRequest w;
  w.mutable_interval()->set_seconds(2);
  w.mutable_interval()->set_nanos(500000000);
  EXPECT_NE(ToJson(w).find("\"interval\":2.5"), std::string::npos) << ToJson(w);
  v1::SegmentCell c;
  c.set_slab_fill(std::nan(""));
  EXPECT_NE(ToJson(c).find("\"slab_fill\":null"), std::string::npos) << ToJson(c);
  c.set_slab_fill(0.25);
  EXPECT_NE(ToJson(c).find("\"slab_fill\":0.25"), std::string::npos) << ToJson(c);
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("l1\nl2\tx"), "\"l1\\nl2\\tx\"");
  EXPECT_EQ(JsonString("\x1b[2J\x07"), "\"\\u001b[2J\\u0007\"");
  EXPECT_EQ(JsonString(std::string("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 as is
}

TEST(ToJson, StringFieldsAreEscaped) {
  v1::Session s;
  s.set_client_name("evil\x1b]0;title\x07");
  EXPECT_NE(ToJson(s).find("\"client_name\":\"evil\\u001b]0;title\\u0007\""), std::string::npos)
      << ToJson(s);
}

}  // namespace
}  // namespace shmpool::ctl
