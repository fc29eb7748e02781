#include "server/core/peer_table.h"

#include "gtest/gtest.h"

namespace shmpool::server {
namespace {

TEST(PeerTable, AUnixConnectionIsLocalWithItsRecordedCredentials) {
  PeerTable t;
  t.Record(12, 345, 1000, 100);
  const PeerCredentials p = t.Lookup("fd:12");
  EXPECT_TRUE(p.local);
  EXPECT_EQ(p.pid, 345);
  EXPECT_EQ(p.uid, 1000u);
  EXPECT_EQ(p.gid, 100u);
  EXPECT_EQ(p.address, "fd:12");
}

TEST(PeerTable, ARecordedFdNumberReusedIsOverwritten) {
  PeerTable t;
  t.Record(12, 345, 1000, 100);
  t.Record(12, 678, 2000, 200);
  EXPECT_EQ(t.Lookup("fd:12").pid, 678);
  EXPECT_EQ(t.Lookup("fd:12").uid, 2000u);
}

TEST(PeerTable, UnknownFdsAndTcpPeersAreRemote) {
  PeerTable t;
  t.Record(12, 345, 1000, 100);
  for (const char* peer : {"fd:13", "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "fd:", "fd:x12"}) {
    const PeerCredentials p = t.Lookup(peer);
    EXPECT_FALSE(p.local) << peer;
    EXPECT_EQ(p.uid, 0u) << peer;
    EXPECT_EQ(p.address, peer);
  }
}

}  // namespace
}  // namespace shmpool::server
