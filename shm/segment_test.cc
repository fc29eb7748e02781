// Proves a segment is validated before it is trusted (layout.h: what a mapper checks): a
// segment made by Create opens again with the same geometry and sections, and Open refuses
// every kind of bad file (wrong magic, layout version, class-table fingerprint, tampered
// geometry or section offsets, truncated, empty, random bytes) with a FailedPrecondition
// that says what is wrong, never a crash. Also: Create refuses an existing path and bad
// geometries, and a fresh segment is sparse.
#include "shm/segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shm/layout.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using shmpool::testing::TempSegment;

// A private temporary directory under /dev/shm, removed (with its files) afterwards.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/dev/shm/shmpool-segtest-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string File(const std::string& name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
};

Geometry SmallGeometry() {
  Geometry g;
  g.capacity = 8 << 20;
  g.max_procs = 4;
  g.max_thread_caches = 8;
  g.ring_slots = 16;
  return g;
}

// Copies the file at `from` to `to` byte for byte.
void CopyFile(const std::string& from, const std::string& to) {
  const int in = open(from.c_str(), O_RDONLY);
  ASSERT_GE(in, 0);
  const int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(out, 0);
  struct stat st;
  ASSERT_EQ(fstat(in, &st), 0);
  ASSERT_EQ(ftruncate(out, st.st_size), 0);
  // Copy only the metadata that Create backed: the rest of a fresh segment is zeros.
  std::vector<char> buf(1 << 16);
  for (off_t at = 0; at < st.st_size;) {
    const ssize_t n = pread(in, buf.data(), buf.size(), at);
    ASSERT_GT(n, 0);
    ASSERT_EQ(pwrite(out, buf.data(), n, at), n);
    at += n;
  }
  close(in);
  close(out);
}

// Overwrites `len` bytes at `offset` of the file.
void Poke(const std::string& path, uint64_t offset, const void* data, size_t len) {
  const int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, data, len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
  close(fd);
}

template <typename T>
void PokeField(const std::string& path, size_t offset, T value) {
  Poke(path, offset, &value, sizeof(value));
}

// Expects Open to refuse `path` with FailedPrecondition and a message containing `what`.
void ExpectRefused(const std::string& path, const std::string& what) {
  auto s = Segment::Open(path);
  ASSERT_FALSE(s.ok()) << "opened a bad segment; wanted: " << what;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  const std::string message(s.status().message());
  EXPECT_NE(message.find(what), std::string::npos) << message << "\nwanted: " << what;
  EXPECT_NE(message.find(path), std::string::npos) << message << "\nwanted the path";
}

TEST(Segment, CreateThenOpenRoundTrip) {
  TempDir dir;
  const std::string path = dir.File("a.seg");
  const Geometry g = SmallGeometry();
  auto created = Segment::Create(path, g);
  ASSERT_TRUE(created.ok()) << created.status();
  Segment& c = **created;
  EXPECT_EQ(c.header().xmagic.load(), kMagic);
  EXPECT_EQ(c.header().layout_version, kLayoutVersion);
  EXPECT_EQ(c.header().header_bytes, sizeof(SegmentHeader));
  EXPECT_EQ(c.header().class_fingerprint, ClassFingerprint());
  EXPECT_EQ(c.data_pages(), g.capacity / kPageSize);
  EXPECT_NE(c.header().free_tag_key, 0u);
  EXPECT_EQ(c.header().free_tag_key & 0xf, 1u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), c.sections().total);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Something written through one mapping is seen through another.
  c.block(c.page_offset(3)).next = 0x1234;

  auto opened = Segment::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Segment& o = **opened;
  EXPECT_NE(o.base(), c.base());
  EXPECT_EQ(std::memcmp(&o.geometry(), &g, sizeof(g)), 0);
  EXPECT_EQ(std::memcmp(&o.sections(), &c.sections(), sizeof(Sections)), 0);
  EXPECT_EQ(o.header().free_tag_key, c.header().free_tag_key);
  EXPECT_EQ(o.free_tag(4096), c.free_tag(4096));
  EXPECT_EQ(o.block(o.page_offset(3)).next, 0x1234u);
  EXPECT_EQ(o.path(), path);
}

TEST(Segment, CreateHonoursTheMode) {
  TempDir dir;
  const std::string path = dir.File("m.seg");
  auto s = Segment::Create(path, SmallGeometry(), 0640);
  ASSERT_TRUE(s.ok()) << s.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(Segment, FromFdTakesTheDescriptor) {
  TempSegment ts(4 << 20);
  const int fd = open(ts.path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto s = Segment::FromFd(fd, ts.path());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->fd(), fd);
  EXPECT_EQ((*s)->data_pages(), (4u << 20) / kPageSize);
}

TEST(Segment, CreateRefusesAnExistingPath) {
  TempSegment ts(4 << 20);
  auto s = Segment::Create(ts.path(), SmallGeometry());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAlreadyExists) << s.status();
  // The existing segment is untouched.
  auto o = Segment::Open(ts.path());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ((*o)->geometry().capacity, 4u << 20);
}

TEST(Segment, OpenOfAMissingFileIsNotFound) {
  TempDir dir;
  auto s = Segment::Open(dir.File("missing.seg"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound) << s.status();
}

TEST(Segment, BadGeometriesAreInvalidArguments) {
  TempDir dir;
  struct Case {
    const char* what;
    Geometry g;
  };
  std::vector<Case> cases;
  auto with = [](auto edit) {
    Geometry g = SmallGeometry();
    edit(g);
    return g;
  };
  cases.push_back({"capacity 0", with([](Geometry& g) { g.capacity = 0; })});
  cases.push_back({"capacity not a page multiple", with([](Geometry& g) { g.capacity = 4097; })});
  cases.push_back({"capacity above the limit", with([](Geometry& g) { g.capacity = 1ull << 45; })});
  cases.push_back({"max_procs 0", with([](Geometry& g) { g.max_procs = 0; })});
  cases.push_back({"max_procs huge", with([](Geometry& g) { g.max_procs = 1u << 25; })});
  cases.push_back(
      {"max_thread_caches huge", with([](Geometry& g) { g.max_thread_caches = 1u << 25; })});
  cases.push_back({"ring_slots 0", with([](Geometry& g) { g.ring_slots = 0; })});
  cases.push_back({"ring_slots 1", with([](Geometry& g) { g.ring_slots = 1; })});
  cases.push_back({"ring_slots 48", with([](Geometry& g) { g.ring_slots = 48; })});
  cases.push_back({"ring_slots 2^17", with([](Geometry& g) { g.ring_slots = 1u << 17; })});
  for (const Case& c : cases) {
    const std::string path = dir.File("bad.seg");
    auto s = Segment::Create(path, c.g);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.what << s.status();
    EXPECT_NE(access(path.c_str(), F_OK), 0) << c.what << ": left a file behind";
  }
}

// Page indices are stored in 32 bits, plus one so that 0 is null: a geometry whose pages
// do not all have such an index must be refused rather than wrap.
TEST(Segment, CapacityWhosePagesOverflowAnIndexIsRefused) {
  TempDir dir;
  Geometry g = SmallGeometry();
  g.capacity = uint64_t{1} << 44;  // 2^32 pages: the last index + 1 is 2^32
  auto s = Segment::Create(dir.File("big.seg"), g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
}

TEST(Segment, FreshSegmentIsSparse) {
  TempSegment ts(uint64_t{1} << 30);
  const uint64_t resident = ts.segment()->ResidentBytes();
  // Header, process records, cache owners, class records and rings: about 140 KiB.
  EXPECT_LT(resident, 1u << 20) << resident;
  EXPECT_GE(ts.segment()->sections().total, uint64_t{1} << 30);
}

class SegmentOpenRefuses : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Segment::Create(good_, SmallGeometry());
    ASSERT_TRUE(s.ok()) << s.status();
    total_ = (*s)->sections().total;
    ASSERT_TRUE(Segment::Open(good_).ok());
    CopyFile(good_, bad_);
  }

  TempDir dir_;
  const std::string good_ = dir_.File("good.seg");
  const std::string bad_ = dir_.File("bad.seg");
  uint64_t total_ = 0;
};

TEST_F(SegmentOpenRefuses, BadMagic) {
  PokeField<uint64_t>(bad_, offsetof(SegmentHeader, xmagic), 0x1122334455667788ull);
  ExpectRefused(bad_, "not a shmpool segment");
}

TEST_F(SegmentOpenRefuses, ZeroMagicOfAHalfCreatedSegment) {
  PokeField<uint64_t>(bad_, offsetof(SegmentHeader, xmagic), 0);
  ExpectRefused(bad_, "not a shmpool segment");
}

TEST_F(SegmentOpenRefuses, WrongLayoutVersion) {
  PokeField<uint32_t>(bad_, offsetof(SegmentHeader, layout_version), kLayoutVersion + 1);
  ExpectRefused(bad_, "layout version");
}

TEST_F(SegmentOpenRefuses, WrongClassFingerprint) {
  PokeField<uint64_t>(bad_, offsetof(SegmentHeader, class_fingerprint), ClassFingerprint() ^ 1);
  ExpectRefused(bad_, "another layout");
}

TEST_F(SegmentOpenRefuses, WrongHeaderSize) {
  PokeField<uint32_t>(bad_, offsetof(SegmentHeader, header_bytes), sizeof(SegmentHeader) + 64);
  ExpectRefused(bad_, "another layout");
}

TEST_F(SegmentOpenRefuses, TamperedCapacity) {
  // A bigger capacity moves every section after the page map: the offsets disagree.
  PokeField<uint64_t>(bad_, offsetof(SegmentHeader, geometry) + offsetof(Geometry, capacity),
                      16 << 20);
  ExpectRefused(bad_, "section offsets");
}

TEST_F(SegmentOpenRefuses, TamperedMaxProcs) {
  // 100 records need two pages where 4 needed one: every later section moves.
  PokeField<uint32_t>(bad_, offsetof(SegmentHeader, geometry) + offsetof(Geometry, max_procs), 100);
  ExpectRefused(bad_, "section offsets");
}

TEST_F(SegmentOpenRefuses, InvalidGeometry) {
  PokeField<uint32_t>(bad_, offsetof(SegmentHeader, geometry) + offsetof(Geometry, ring_slots), 12);
  ExpectRefused(bad_, "segment geometry");
}

TEST_F(SegmentOpenRefuses, TamperedSectionOffset) {
  PokeField<uint64_t>(bad_, offsetof(SegmentHeader, sections) + offsetof(Sections, data), 4096);
  ExpectRefused(bad_, "section offsets");
}

TEST_F(SegmentOpenRefuses, ConsistentlyTamperedGeometryAndSectionsButWrongSize) {
  // Geometry and sections agree with each other, but not with the file's size.
  Geometry g = SmallGeometry();
  g.capacity = 16 << 20;
  const Sections s = ComputeSections(g);
  PokeField(bad_, offsetof(SegmentHeader, geometry), g);
  PokeField(bad_, offsetof(SegmentHeader, sections), s);
  ExpectRefused(bad_, "its geometry needs");
}

TEST_F(SegmentOpenRefuses, FrontierOutOfRange) {
  PokeField<uint32_t>(bad_, offsetof(SegmentHeader, heap) + offsetof(PageHeapState, frontier),
                      (8 << 20) / kPageSize + 1);
  ExpectRefused(bad_, "frontier");
}

TEST_F(SegmentOpenRefuses, TruncatedFile) {
  ASSERT_EQ(truncate(bad_.c_str(), static_cast<off_t>(total_ - kPageSize)), 0);
  ExpectRefused(bad_, "its geometry needs");
}

TEST_F(SegmentOpenRefuses, FileTruncatedToLessThanAPage) {
  ASSERT_EQ(truncate(bad_.c_str(), 100), 0);
  ExpectRefused(bad_, "too small");
}

TEST_F(SegmentOpenRefuses, ExtendedFile) {
  ASSERT_EQ(truncate(bad_.c_str(), static_cast<off_t>(total_ + kPageSize)), 0);
  ExpectRefused(bad_, "its geometry needs");
}

TEST_F(SegmentOpenRefuses, EmptyFile) {
  ASSERT_EQ(truncate(bad_.c_str(), 0), 0);
  ExpectRefused(bad_, "too small");
}

TEST_F(SegmentOpenRefuses, RandomBytes) {
  std::mt19937_64 rng(42);
  for (uint64_t size : {uint64_t{kPageSize}, uint64_t{3 * kPageSize + 17}, total_}) {
    ASSERT_EQ(truncate(bad_.c_str(), 0), 0);
    std::vector<uint64_t> junk((size + 7) / 8);
    for (uint64_t& w : junk) w = rng();
    Poke(bad_, 0, junk.data(), size);
    ASSERT_EQ(truncate(bad_.c_str(), static_cast<off_t>(size)), 0);
    ExpectRefused(bad_, "not a shmpool segment");
  }
}

TEST_F(SegmentOpenRefuses, RandomBytesBehindAValidPreamble) {
  // Magic, version, header size and fingerprint are right, the geometry, sections and page
  // heap are garbage: the later checks must still catch it.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint64_t> junk(kPageSize / 8);
    for (uint64_t& w : junk) w = rng();
    if (round % 2) junk[offsetof(SegmentHeader, geometry) / 8] = (rng() % 4096 + 1) * kPageSize;
    char* h = reinterpret_cast<char*>(junk.data());
    const uint32_t version = kLayoutVersion, header_bytes = sizeof(SegmentHeader);
    const uint64_t fingerprint = ClassFingerprint();
    std::memcpy(h + offsetof(SegmentHeader, xmagic), &kMagic, 8);
    std::memcpy(h + offsetof(SegmentHeader, layout_version), &version, 4);
    std::memcpy(h + offsetof(SegmentHeader, header_bytes), &header_bytes, 4);
    std::memcpy(h + offsetof(SegmentHeader, class_fingerprint), &fingerprint, 8);
    Poke(bad_, 0, junk.data(), kPageSize);
    auto s = Segment::Open(bad_);
    ASSERT_FALSE(s.ok()) << "round " << round;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  }
}

TEST_F(SegmentOpenRefuses, ADirectory) {
  auto s = Segment::Open("/dev/shm");
  ASSERT_FALSE(s.ok());
}

TEST(Segment, ValidateImageRefusesAShortBuffer) {
  alignas(64) char buf[64] = {};
  absl::Status st = Segment::ValidateImage(buf, sizeof(buf));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

TEST(Segment, BackAndPunchHoleChangeResidentBytes) {
  TempSegment ts(64 << 20);
  Segment& s = *ts.segment();
  const uint64_t before = s.ResidentBytes();
  const uint64_t at = s.page_offset(100);
  ASSERT_TRUE(s.Back(at, 8 << 20));
  EXPECT_GE(s.ResidentBytes(), before + (8 << 20));
  std::memset(s.base() + at, 0x5a, 8 << 20);
  ASSERT_TRUE(s.PunchHole(at, 8 << 20));
  EXPECT_LE(s.ResidentBytes(), before);
  EXPECT_EQ(s.base()[at], 0);  // a punched page reads as zeros
  EXPECT_EQ(s.base()[at + (8 << 20) - 1], 0);
}

}  // namespace
}  // namespace shmpool::shm
