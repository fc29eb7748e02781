// Pins the segment format of layout.h: the size, alignment and every field offset of each
// struct that lives in a segment, the page-map entry encoding, the section offsets that
// ComputeSections gives for fixed geometries, the class-table fingerprint and the layout
// version. Any change to the format fails here: if it is intended, bump kLayoutVersion
// (layout.h says when) and update the numbers below in the same change.
#include "shm/layout.h"

#include <cstddef>
#include <cstdint>

#include "gtest/gtest.h"

namespace shmpool::shm {
namespace {

TEST(Layout, Constants) {
  EXPECT_EQ(kLayoutVersion, 7u);
  EXPECT_EQ(kMagic, 0x4c4f4f504d485353ull);  // "SSHMPOOL" read as a little-endian word
  EXPECT_EQ(kNumClasses, 41u);
  EXPECT_EQ(kFreeRunBuckets, 128u);
  EXPECT_EQ(kPartialBuckets, 4u);
  EXPECT_EQ(kCacheLine, 64u);
  EXPECT_EQ(kPageSize, 4096u);
  EXPECT_EQ(ClassFingerprint(), 0x95270dd3d4f341b7ull);
  EXPECT_EQ(kCacheNeverUsed, 0u);  // a fresh (zero) owners section means "never used"
  EXPECT_EQ(kCacheFree, 1u);
  EXPECT_EQ(CacheOwnerOf(0), 2u);
  EXPECT_EQ(kMaxPools, 64u);
  EXPECT_EQ(kMaxPurgers, 4u);
}

// Every atomic in a segment is lock-free (a lock would live in one process).
TEST(Layout, AtomicsAreLockFree) {
  EXPECT_TRUE(std::atomic<uint64_t>::is_always_lock_free);
  EXPECT_TRUE(std::atomic<uint32_t>::is_always_lock_free);
}

TEST(Layout, PageEntryEncoding) {
  const uint64_t e = PageEntry::Make(37, kPageSlab, 0xfedcba98u);
  EXPECT_EQ(e, 0xfedcba98ull << 12 | uint64_t{kPageSlab} << 8 | 37);
  EXPECT_EQ(PageEntry::ClassOf(e), 37u);
  EXPECT_EQ(PageEntry::KindOf(e), kPageSlab);
  EXPECT_EQ(PageEntry::StartOf(e), 0xfedcba98u);
  EXPECT_EQ(PageEntry::StartBytes(e), 0xfedcba98ull << 12);
  EXPECT_EQ(PageEntry::Make(0, kPageUnused, 0), 0u);  // zero-filled page map: all unused
  EXPECT_EQ(int{kPageUnused}, 0);
  EXPECT_EQ(int{kPageFree}, 1);
  EXPECT_EQ(int{kPageSlab}, 2);
  EXPECT_EQ(int{kPageLarge}, 3);
  EXPECT_EQ(int{kPagePool}, 4);
  EXPECT_EQ(PageEntry::StartOf(PageEntry::Make(kNumClasses - 1, kPageLarge, ~uint32_t{0})),
            ~uint32_t{0});
  // Pool and parked pages carry class 0 for free()'s fast path, their slot or class in aux.
  const uint64_t pool = PageEntry::MakePool(kMaxPools - 1, 0xfedcba98u);
  EXPECT_EQ(PageEntry::ClassOf(pool), 0u);
  EXPECT_EQ(PageEntry::KindOf(pool), kPagePool);
  EXPECT_EQ(PageEntry::PoolSlotOf(pool), kMaxPools - 1);
  EXPECT_EQ(PageEntry::StartOf(pool), 0xfedcba98u);
  EXPECT_EQ(PageEntry::StartBytes(pool), 0xfedcba98ull << 12);
  EXPECT_FALSE(PageEntry::Parked(pool));
  const uint64_t parked = PageEntry::MakeParked(kNumClasses - 1, 0xfedcba98u);
  EXPECT_EQ(parked, uint64_t{kNumClasses - 1} << 56 | 0xfedcba98ull << 12 | 1u << 11 |
                        uint64_t{kPageSlab} << 8);
  EXPECT_EQ(PageEntry::ClassOf(parked), 0u);
  EXPECT_EQ(PageEntry::KindOf(parked), kPageSlab);
  EXPECT_TRUE(PageEntry::Parked(parked));
  EXPECT_EQ(PageEntry::SlabClassOf(parked), kNumClasses - 1);
  EXPECT_EQ(PageEntry::SlabClassOf(e), 37u);
  EXPECT_EQ(PageEntry::StartOf(parked), 0xfedcba98u);
}

#define SHMPOOL_PIN_SIZE(T, size, align) \
  EXPECT_EQ(sizeof(T), size##u);         \
  EXPECT_EQ(alignof(T), align##u)
#define SHMPOOL_PIN_FIELD(T, field, offset) \
  EXPECT_EQ(offsetof(T, field), offset##u) << #T "." #field

TEST(Layout, Geometry) {
  SHMPOOL_PIN_SIZE(Geometry, 24, 8);
  SHMPOOL_PIN_FIELD(Geometry, capacity, 0);
  SHMPOOL_PIN_FIELD(Geometry, max_procs, 8);
  SHMPOOL_PIN_FIELD(Geometry, max_thread_caches, 12);
  SHMPOOL_PIN_FIELD(Geometry, ring_slots, 16);
  SHMPOOL_PIN_FIELD(Geometry, reserved, 20);
}

TEST(Layout, Sections) {
  SHMPOOL_PIN_SIZE(Sections, 80, 8);
  SHMPOOL_PIN_FIELD(Sections, procs, 0);
  SHMPOOL_PIN_FIELD(Sections, owners, 8);
  SHMPOOL_PIN_FIELD(Sections, classes, 16);
  SHMPOOL_PIN_FIELD(Sections, rings, 24);
  SHMPOOL_PIN_FIELD(Sections, caches, 32);
  SHMPOOL_PIN_FIELD(Sections, pagemap, 40);
  SHMPOOL_PIN_FIELD(Sections, runs, 48);
  SHMPOOL_PIN_FIELD(Sections, data, 56);
  SHMPOOL_PIN_FIELD(Sections, total, 64);
  SHMPOOL_PIN_FIELD(Sections, pages, 72);
}

TEST(Layout, RunMeta) {
  SHMPOOL_PIN_SIZE(RunMeta, 32, 8);
  SHMPOOL_PIN_FIELD(RunMeta, pages, 0);
  SHMPOOL_PIN_FIELD(RunMeta, prev, 4);
  SHMPOOL_PIN_FIELD(RunMeta, next, 8);
  SHMPOOL_PIN_FIELD(RunMeta, free_count, 12);
  SHMPOOL_PIN_FIELD(RunMeta, free_head, 16);
  SHMPOOL_PIN_FIELD(RunMeta, backed_pages, 24);
  SHMPOOL_PIN_FIELD(RunMeta, parked, 28);
}

TEST(Layout, FreeBlock) {
  SHMPOOL_PIN_SIZE(FreeBlock, 16, 8);
  SHMPOOL_PIN_FIELD(FreeBlock, next, 0);
  SHMPOOL_PIN_FIELD(FreeBlock, tag, 8);
}

TEST(Layout, PageHeapState) {
  SHMPOOL_PIN_SIZE(PageHeapState, 704, 64);
  SHMPOOL_PIN_FIELD(PageHeapState, mutex, 0);
  SHMPOOL_PIN_FIELD(PageHeapState, frontier, 40);
  SHMPOOL_PIN_FIELD(PageHeapState, backed_frontier, 44);
  SHMPOOL_PIN_FIELD(PageHeapState, buckets, 48);
  SHMPOOL_PIN_FIELD(PageHeapState, journal_op, 560);
  SHMPOOL_PIN_FIELD(PageHeapState, journal_start, 564);
  SHMPOOL_PIN_FIELD(PageHeapState, journal_pages, 568);
  SHMPOOL_PIN_FIELD(PageHeapState, journal_reserved, 572);
  SHMPOOL_PIN_FIELD(PageHeapState, xfree_pages, 576);
  SHMPOOL_PIN_FIELD(PageHeapState, xretained_pages, 584);
  SHMPOOL_PIN_FIELD(PageHeapState, xlarge_pages, 592);
  SHMPOOL_PIN_FIELD(PageHeapState, xfrontier_pages, 640);
}

TEST(Layout, ArenaCounters) {
  SHMPOOL_PIN_SIZE(ArenaCounters, 120, 8);
  SHMPOOL_PIN_FIELD(ArenaCounters, xinvalid_frees, 0);
  SHMPOOL_PIN_FIELD(ArenaCounters, xdouble_frees, 8);
  SHMPOOL_PIN_FIELD(ArenaCounters, xlarge_nmalloc, 16);
  SHMPOOL_PIN_FIELD(ArenaCounters, xlarge_nfree, 24);
  SHMPOOL_PIN_FIELD(ArenaCounters, xlarge_requested, 32);
  SHMPOOL_PIN_FIELD(ArenaCounters, xlarge_handed_out, 40);
  SHMPOOL_PIN_FIELD(ArenaCounters, xpurge_count, 48);
  SHMPOOL_PIN_FIELD(ArenaCounters, xpurged_bytes, 56);
  SHMPOOL_PIN_FIELD(ArenaCounters, xpurge_ns, 64);
  SHMPOOL_PIN_FIELD(ArenaCounters, xfailed_allocs, 72);
  SHMPOOL_PIN_FIELD(ArenaCounters, xreclaimed_procs, 80);
  SHMPOOL_PIN_FIELD(ArenaCounters, xpurges_by_reason, 88);
  SHMPOOL_PIN_FIELD(ArenaCounters, xlast_purge_unix_ns, 112);
}

TEST(Layout, TenantState) {
  SHMPOOL_PIN_SIZE(TenantState, 16, 8);
  SHMPOOL_PIN_FIELD(TenantState, xquota_bytes, 0);
  SHMPOOL_PIN_FIELD(TenantState, xquota_refusals, 8);
}

TEST(Layout, PoolSlot) {
  SHMPOOL_PIN_SIZE(PoolSlot, 32, 4);
  SHMPOOL_PIN_FIELD(PoolSlot, xstate, 0);
  SHMPOOL_PIN_FIELD(PoolSlot, run_start, 4);
  SHMPOOL_PIN_FIELD(PoolSlot, name, 8);
}

TEST(Layout, SegmentHeader) {
  SHMPOOL_PIN_SIZE(SegmentHeader, 3520, 64);
  SHMPOOL_PIN_FIELD(SegmentHeader, xmagic, 0);
  SHMPOOL_PIN_FIELD(SegmentHeader, layout_version, 8);
  SHMPOOL_PIN_FIELD(SegmentHeader, header_bytes, 12);
  SHMPOOL_PIN_FIELD(SegmentHeader, class_fingerprint, 16);
  SHMPOOL_PIN_FIELD(SegmentHeader, geometry, 24);
  SHMPOOL_PIN_FIELD(SegmentHeader, sections, 48);
  SHMPOOL_PIN_FIELD(SegmentHeader, free_tag_key, 128);
  SHMPOOL_PIN_FIELD(SegmentHeader, created_unix_ns, 136);
  SHMPOOL_PIN_FIELD(SegmentHeader, heap, 192);
  SHMPOOL_PIN_FIELD(SegmentHeader, counters, 896);
  SHMPOOL_PIN_FIELD(SegmentHeader, tenant, 1024);
  SHMPOOL_PIN_FIELD(SegmentHeader, pools, 1088);
  SHMPOOL_PIN_FIELD(SegmentHeader, generation, 3136);
  SHMPOOL_PIN_FIELD(SegmentHeader, purgers, 3200);
  SHMPOOL_PIN_FIELD(SegmentHeader, reclaim, 3456);
  SHMPOOL_PIN_SIZE(GenerationState, 24, 8);
  SHMPOOL_PIN_FIELD(GenerationState, number, 0);
  SHMPOOL_PIN_FIELD(GenerationState, xretired_by, 8);
  SHMPOOL_PIN_FIELD(GenerationState, xstale_frees, 16);
}

TEST(Layout, ProcRecord) {
  SHMPOOL_PIN_SIZE(ProcRecord, 768, 64);
  SHMPOOL_PIN_FIELD(ProcRecord, xword, 0);
  SHMPOOL_PIN_FIELD(ProcRecord, pid, 8);
  SHMPOOL_PIN_FIELD(ProcRecord, start_time, 16);
  SHMPOOL_PIN_FIELD(ProcRecord, attach_unix_ns, 24);
  SHMPOOL_PIN_FIELD(ProcRecord, name, 32);
  SHMPOOL_PIN_FIELD(ProcRecord, outside, 64);
  SHMPOOL_PIN_FIELD(ProcRecord, xlarge_nmalloc, 720);
  SHMPOOL_PIN_FIELD(ProcRecord, xlarge_nfree, 728);
  SHMPOOL_PIN_FIELD(ProcRecord, xlarge_malloc_bytes, 736);
  SHMPOOL_PIN_FIELD(ProcRecord, xlarge_free_bytes, 744);
}

TEST(Layout, Bin) {
  SHMPOOL_PIN_SIZE(Bin, 32, 8);
  SHMPOOL_PIN_FIELD(Bin, xlist, 0);
  SHMPOOL_PIN_FIELD(Bin, xops, 8);
  SHMPOOL_PIN_FIELD(Bin, xrequested, 16);
  SHMPOOL_PIN_FIELD(Bin, reserved, 24);
  EXPECT_EQ(Bin::kCountMask, 0xffu);
  EXPECT_EQ(Bin::kNmallocShift, 8u);
}

TEST(Layout, BinCold) {
  SHMPOOL_PIN_SIZE(BinCold, 24, 8);
  SHMPOOL_PIN_FIELD(BinCold, xspare, 0);
  SHMPOOL_PIN_FIELD(BinCold, xrefilled, 8);
  SHMPOOL_PIN_FIELD(BinCold, xdrained, 16);
}

TEST(Layout, BinBase) {
  SHMPOOL_PIN_SIZE(BinBase, 16, 8);
  SHMPOOL_PIN_FIELD(BinBase, xnmalloc, 0);
  SHMPOOL_PIN_FIELD(BinBase, xnfree, 8);
}

TEST(Layout, Transit) {
  SHMPOOL_PIN_SIZE(Transit, 24, 8);
  SHMPOOL_PIN_FIELD(Transit, xbatch, 0);
  SHMPOOL_PIN_FIELD(Transit, xpos, 8);
  SHMPOOL_PIN_FIELD(Transit, xop, 16);
  SHMPOOL_PIN_FIELD(Transit, xcls, 20);
}

TEST(Layout, PurgerRecord) {
  SHMPOOL_PIN_SIZE(PurgerRecord, 64, 64);
  SHMPOOL_PIN_FIELD(PurgerRecord, xowner, 0);
  SHMPOOL_PIN_FIELD(PurgerRecord, transit, 8);
  EXPECT_EQ(PurgerRecord::Owner(4194303, 5), uint64_t{5} << 22 | 4194303);
  EXPECT_EQ(PurgerRecord::PidOf(PurgerRecord::Owner(1234, 99)), 1234u);
  EXPECT_EQ(PurgerRecord::StartTimeOf(PurgerRecord::Owner(1234, 99)), 99u);
}

TEST(Layout, ThreadCache) {
  SHMPOOL_PIN_SIZE(ThreadCache, 3072, 64);
  SHMPOOL_PIN_FIELD(ThreadCache, xtid, 0);
  SHMPOOL_PIN_FIELD(ThreadCache, transit, 8);
  SHMPOOL_PIN_FIELD(ThreadCache, xflush_seen, 32);
  SHMPOOL_PIN_FIELD(ThreadCache, bins, 64);
  SHMPOOL_PIN_FIELD(ThreadCache, cold, 1376);
  SHMPOOL_PIN_FIELD(ThreadCache, xbase_attach_ns, 2360);
  SHMPOOL_PIN_FIELD(ThreadCache, base, 2368);
}

TEST(Layout, ClassCentral) {
  SHMPOOL_PIN_SIZE(ClassCentral, 320, 64);
  SHMPOOL_PIN_FIELD(ClassCentral, xenq, 0);
  SHMPOOL_PIN_FIELD(ClassCentral, xdeq, 64);
  SHMPOOL_PIN_FIELD(ClassCentral, mutex, 128);
  SHMPOOL_PIN_FIELD(ClassCentral, partial_heads, 168);
  SHMPOOL_PIN_FIELD(ClassCentral, parked_head, 184);
  SHMPOOL_PIN_FIELD(ClassCentral, holder_transit, 192);
  SHMPOOL_PIN_FIELD(ClassCentral, xnslabs, 200);
  SHMPOOL_PIN_FIELD(ClassCentral, xfree_in_slabs, 208);
  SHMPOOL_PIN_FIELD(ClassCentral, xnmalloc, 216);
  SHMPOOL_PIN_FIELD(ClassCentral, xnfree, 224);
  SHMPOOL_PIN_FIELD(ClassCentral, xrequested, 232);
  SHMPOOL_PIN_FIELD(ClassCentral, xslabs_created, 240);
  SHMPOOL_PIN_FIELD(ClassCentral, xslabs_released, 248);
  SHMPOOL_PIN_FIELD(ClassCentral, transit, 256);
  SHMPOOL_PIN_FIELD(ClassCentral, xparked_pages, 280);
  SHMPOOL_PIN_FIELD(ClassCentral, xparked_blocks, 288);
}

TEST(Layout, RingCell) {
  SHMPOOL_PIN_SIZE(RingCell, 16, 8);
  SHMPOOL_PIN_FIELD(RingCell, xseq, 0);
  SHMPOOL_PIN_FIELD(RingCell, xbatch, 8);
}

// Sections of a small fixed geometry and of the default geometry at 1 GiB.
TEST(Layout, SectionsOfFixedGeometries) {
  {
    Geometry g;
    g.capacity = uint64_t{64} << 20;
    g.max_procs = 8;
    g.max_thread_caches = 16;
    g.ring_slots = 8;
    const Sections s = ComputeSections(g);
    EXPECT_EQ(s.procs, 4096ull);
    EXPECT_EQ(s.owners, 12288ull);
    EXPECT_EQ(s.classes, 16384ull);
    EXPECT_EQ(s.rings, 32768ull);
    EXPECT_EQ(s.caches, 40960ull);
    EXPECT_EQ(s.pagemap, 90112ull);
    EXPECT_EQ(s.runs, 221184ull);
    EXPECT_EQ(s.data, 745472ull);
    EXPECT_EQ(s.total, 67854336ull);
    EXPECT_EQ(s.pages, 16384ull);
  }
  {
    Geometry g;
    g.capacity = uint64_t{1} << 30;  // default max_procs 1024, thread caches 4096, 64 slots
    const Sections s = ComputeSections(g);
    EXPECT_EQ(s.procs, 4096ull);
    EXPECT_EQ(s.owners, 790528ull);
    EXPECT_EQ(s.classes, 806912ull);
    EXPECT_EQ(s.rings, 823296ull);
    EXPECT_EQ(s.caches, 868352ull);
    EXPECT_EQ(s.pagemap, 13451264ull);
    EXPECT_EQ(s.runs, 15548416ull);
    EXPECT_EQ(s.data, 23937024ull);
    EXPECT_EQ(s.total, 1097678848ull);
    EXPECT_EQ(s.pages, 262144ull);
  }
}

TEST(Layout, DefaultGeometry) {
  const Geometry g;
  EXPECT_EQ(g.capacity, 0u);
  EXPECT_EQ(g.max_procs, 1024u);
  EXPECT_EQ(g.max_thread_caches, 4096u);
  EXPECT_EQ(g.ring_slots, 64u);
}

// Sections are page-aligned, in the documented order, and the data is last.
TEST(Layout, SectionsArePageAlignedAndOrdered) {
  for (uint64_t cap : {uint64_t{4096}, uint64_t{1} << 20, uint64_t{3} << 30, uint64_t{1} << 40}) {
    for (uint32_t procs : {1u, 7u, 1024u, 100000u}) {
      Geometry g;
      g.capacity = cap;
      g.max_procs = procs;
      g.max_thread_caches = procs * 3;
      const Sections s = ComputeSections(g);
      const uint64_t order[] = {s.procs,   s.owners, s.classes, s.rings, s.caches,
                                s.pagemap, s.runs,   s.data,    s.total};
      EXPECT_GE(s.procs, sizeof(SegmentHeader));
      for (size_t i = 0; i < std::size(order); ++i) {
        EXPECT_EQ(order[i] % kPageSize, 0u) << i;
        if (i) {
          EXPECT_LE(order[i - 1], order[i]) << i;
        }
      }
      EXPECT_EQ(s.pages, cap / kPageSize);
      EXPECT_EQ(s.total, s.data + cap);
      EXPECT_GE(s.owners - s.procs, uint64_t{procs} * sizeof(ProcRecord));
      EXPECT_GE(s.pagemap - s.caches, uint64_t{g.max_thread_caches} * sizeof(ThreadCache));
      EXPECT_GE(s.runs - s.pagemap, s.pages * sizeof(uint64_t));
      EXPECT_GE(s.data - s.runs, s.pages * sizeof(RunMeta));
    }
  }
}

}  // namespace
}  // namespace shmpool::shm
