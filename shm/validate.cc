#include "shm/validate.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "shm/atomics.h"
#include "shm/slab_lists.h"
#include "shm/transfer_ring.h"

namespace shmpool::shm {
namespace {

// Reads a word of a free block. A block in one of this process's own thread caches is
// poisoned under ASan (sanitizer.h); the walker reads it as the allocator, not as the
// application, so the read is not instrumented (and changes no poisoning).
__attribute__((no_sanitize("address"))) uint64_t FreeBlockWord(const uint64_t& word) {
  return word;
}

class Validator {
 public:
  explicit Validator(const Segment& seg)
      : seg_(seg),
        frontier_(static_cast<uint32_t>(
            std::min<uint64_t>(seg.header().heap.frontier, seg.data_pages()))),
        // One bit per 16 bytes of the pages in use, not of the capacity (up to 16 TiB).
        seen_((uint64_t{frontier_} << kPageShift) / kMinBlock) {}

  ValidationReport Run() {
    if (seg_.header().heap.frontier > seg_.data_pages())
      Error("frontier %d is past the %d data pages", seg_.header().heap.frontier,
            seg_.data_pages());
    WalkRuns();
    WalkBuckets();
    for (uint32_t c = 1; c < kNumClasses; ++c) CheckClass(c);
    WalkCaches();
    CheckBalance();
    return std::move(report_);
  }

 private:
  template <typename... Args>
  void Error(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
    if (report_.errors.size() < 100) report_.errors.push_back(absl::StrFormat(fmt, args...));
  }

  // Page map: runs cover [0, frontier) exactly; every page of a slab or large run names its
  // run; free runs are marked at both ends and never adjacent.
  void WalkRuns() {
    const PageHeapState& h = seg_.header().heap;
    uint64_t free_pages = 0, retained = 0, large_bytes = 0;
    bool prev_free = false;
    for (uint32_t p = 0; p < frontier_;) {
      const uint64_t e = LoadRelaxed(seg_.page_entry(p));
      const RunMeta& r = seg_.run(p);
      const uint32_t pages = r.pages;  // read once: the segment may change under the walk
      const PageKind kind = PageEntry::KindOf(e);
      if (PageEntry::StartOf(e) != p || pages == 0 || uint64_t{p} + pages > frontier_) {
        Error("page %d: not the start of a run (entry %#x, pages %d)", p, e, pages);
        return;
      }
      ++report_.runs;
      if (kind == kPageFree) {
        if (prev_free) Error("free run at page %d follows another free run (not coalesced)", p);
        const uint64_t last = LoadRelaxed(seg_.page_entry(p + pages - 1));
        if (PageEntry::KindOf(last) != kPageFree || PageEntry::StartOf(last) != p)
          Error("free run at page %d: last page does not point back", p);
        for (uint32_t q = p; q < p + pages; ++q)
          if (PageEntry::KindOf(LoadRelaxed(seg_.page_entry(q))) != kPageFree)
            Error("free run at page %d: page %d is not marked free", p, q);
        if (r.backed_pages > pages) Error("free run at page %d: backed > pages", p);
        free_pages += pages;
        retained += pages - std::min(r.backed_pages, pages);
        free_runs_.push_back(p);
      } else if (kind == kPageSlab || kind == kPageLarge || kind == kPagePool) {
        const uint32_t cls =
            kind == kPagePool ? PageEntry::PoolSlotOf(e) : PageEntry::SlabClassOf(e);
        if (kind == kPagePool && (cls >= kMaxPools || seg_.header().pools[cls].run_start != p))
          Error("pool run at page %d: slot %d does not name it", p, cls);
        const bool bad_slab =
            kind == kPageSlab && (cls == 0 || cls >= kNumClasses || pages != Class(cls).slab_pages);
        if (bad_slab) Error("slab at page %d: class %d with %d pages", p, cls, pages);
        // A slab's pages are live or parked (slab_park.h); any other run's all equal.
        const uint64_t live = kind == kPageSlab ? PageEntry::Make(cls, kind, p) : e;
        const uint64_t parked = kind == kPageSlab ? PageEntry::MakeParked(cls, p) : e;
        for (uint32_t q = p; q < p + pages; ++q) {
          const uint64_t qe = LoadRelaxed(seg_.page_entry(q));
          if (qe != live && qe != parked) Error("run at page %d: page %d disagrees", p, q);
        }
        if (kind == kPageLarge) large_bytes += uint64_t{pages} << kPageShift;
        if (kind == kPageSlab && !bad_slab) slabs_.push_back(p);  // only these are walked
      } else {
        Error("page %d below the frontier has kind %d", p, int{kind});
      }
      prev_free = kind == kPageFree;
      p += pages;
    }
    if (free_pages != LoadRelaxed(h.xfree_pages))
      Error("free pages: counted %d, counter says %d", free_pages, LoadRelaxed(h.xfree_pages));
    if (retained != LoadRelaxed(h.xretained_pages))
      Error("retained pages: counted %d, counter says %d", retained,
            LoadRelaxed(h.xretained_pages));
    const uint64_t large = LoadRelaxed(h.xlarge_pages) << kPageShift;
    if (large_bytes != large)
      Error("large runs hold %d bytes, counter says %d", large_bytes, large);
  }

  void WalkBuckets() {
    const PageHeapState& h = seg_.header().heap;
    uint64_t listed = 0;
    for (uint32_t b = 0; b < kFreeRunBuckets; ++b) {
      uint32_t prev = 0;
      for (uint32_t i = h.buckets[b]; i; i = seg_.run(i - 1).next) {
        const RunMeta& r = seg_.run(i - 1);
        const uint32_t want = std::min(r.pages, kFreeRunBuckets) - 1;
        if (PageEntry::KindOf(LoadRelaxed(seg_.page_entry(i - 1))) != kPageFree || want != b)
          Error("bucket %d lists page %d, which is not a free run of that length", b, i - 1);
        if (r.prev != prev) Error("bucket %d: page %d has a wrong back link", b, i - 1);
        prev = i;
        if (++listed > free_runs_.size()) {
          Error("bucket lists are longer than the free runs (a cycle?)");
          return;
        }
      }
    }
    if (listed != free_runs_.size())
      Error("%d free runs, but the buckets list %d", free_runs_.size(), listed);
  }

  // Marks one free block as found; checks it is a block start of `cls` and carries its tag.
  bool Visit(uint64_t off, uint32_t cls, const char* where) {
    const Sections& s = seg_.sections();
    // Only pages below the frontier have page-map entries backed by the file.
    if (off < s.data || off >= seg_.page_offset(frontier_)) {
      Error("%s: block offset %#x is outside the pages in use", where, off);
      return false;
    }
    const uint64_t e = LoadRelaxed(seg_.page_entry(seg_.page_of(off)));
    const uint64_t in_slab = off - seg_.page_offset(PageEntry::StartOf(e));
    if (PageEntry::KindOf(e) != kPageSlab || PageEntry::ClassOf(e) != cls ||
        in_slab % Class(cls).size != 0) {
      Error("%s: %#x is not a block of class %d", where, off, cls);
      return false;
    }
    const uint64_t bit = (off - s.data) / kMinBlock;
    if (seen_[bit]) {
      Error("%s: block %#x is reachable twice", where, off);
      return false;
    }
    seen_[bit] = true;
    if (FreeBlockWord(seg_.block(off).tag) != seg_.free_tag(off))
      Error("%s: free block %#x has no tag", where, off);
    ++report_.free_blocks;
    ++free_[cls];
    return true;
  }

  uint64_t WalkChain(uint64_t head, uint32_t cls, uint64_t limit, const char* where) {
    uint64_t n = 0;
    for (uint64_t b = head; b; b = FreeBlockWord(seg_.block(b).next)) {
      if (++n > limit || !Visit(b, cls, where)) {
        if (n > limit) Error("%s: chain longer than %d", where, limit);
        break;
      }
    }
    return n;
  }

  // Parked pages and blocks of a slab (slab_park.h): checks that no listed block touches a
  // parked page and that the slab's counts agree. Returns its parked blocks.
  uint64_t CheckParking(uint32_t cls, uint32_t slab, uint64_t* parked_pages) {
    const SizeClassInfo& info = Class(cls);
    const RunMeta& r = seg_.run(slab);
    const uint32_t slab_pages = info.slab_pages;  // what WalkRuns found in r.pages
    std::vector<bool> page_parked(slab_pages);
    uint32_t pages = 0;
    for (uint32_t i = 0; i < slab_pages; ++i)
      if (PageEntry::Parked(LoadRelaxed(seg_.page_entry(slab + i)))) page_parked[i] = true, ++pages;
    *parked_pages += pages;
    if (r.backed_pages != slab_pages - pages)
      Error("slab at page %d: %d pages parked, backed_pages %d of %d", slab, pages, r.backed_pages,
            slab_pages);
    if (pages == 0) {
      if (r.parked != 0) Error("slab at page %d: no page parked, parked %d", slab, r.parked);
      return 0;
    }
    auto touches = [&](uint64_t k) {
      for (uint64_t q = k * info.size >> kPageShift; q <= ((k + 1) * info.size - 1) >> kPageShift;
           ++q)
        if (page_parked[q]) return true;
      return false;
    };
    uint64_t blocks = 0;
    for (uint64_t k = 0; k < info.blocks; ++k) blocks += touches(k) ? 1 : 0;
    if (blocks != r.parked)
      Error("slab at page %d: %d blocks parked, parked says %d", slab, blocks, r.parked);
    const uint64_t first = seg_.page_offset(slab);
    uint32_t steps = 0;
    for (uint64_t b = r.free_head; b && steps++ < info.blocks; b = seg_.block(b).next) {
      if (b < first || (b - first) / info.size >= info.blocks) {
        Error("slab at page %d: listed block %#x is outside the slab", slab, b);
        break;
      }
      if (touches((b - first) / info.size))
        Error("slab at page %d: listed block %#x touches a parked page", slab, b);
    }
    return blocks;
  }

  // Checks one list of slabs (slab_lists.h): each member's state belongs on it.
  uint64_t CheckList(uint32_t cls, SlabList list, uint64_t nslabs) {
    uint64_t listed = 0;
    for (uint32_t i = HeadOf(seg_.central(cls), list); i; i = seg_.run(i - 1).next) {
      if (ListFor(seg_.run(i - 1), Class(cls)) != list)
        Error("class %d: slab at page %d is on list %d, not its own", cls, i - 1, list);
      if (++listed > nslabs) {
        Error("class %d: list %d longer than its slabs", cls, list);
        break;
      }
    }
    return listed;
  }

  void CheckClass(uint32_t cls) {
    const ClassCentral& c = seg_.central(cls);
    const SizeClassInfo& info = Class(cls);
    uint64_t nslabs = 0, free_blocks = 0, on_partial = 0, on_parked = 0;
    uint64_t parked_pages = 0, parked_blocks = 0;
    for (uint32_t p : slabs_) {
      if (PageEntry::SlabClassOf(LoadRelaxed(seg_.page_entry(p))) != cls) continue;
      const RunMeta& r = seg_.run(p);
      ++nslabs;
      const uint64_t n = WalkChain(r.free_head, cls, info.blocks, "slab");
      if (n != r.free_count)
        Error("slab at page %d: %d free blocks, free_count %d", p, n, r.free_count);
      const uint64_t parked = CheckParking(cls, p, &parked_pages);
      parked_blocks += parked;
      if (r.free_count + parked > info.blocks)
        Error("slab at page %d: %d free and %d parked of %d blocks", p, r.free_count, parked,
              info.blocks);
      free_blocks += r.free_count + parked;
      if (r.free_count)
        ++on_partial;
      else if (parked)
        ++on_parked;
    }
    uint64_t listed = 0;
    for (SlabList list = 0; list < kNoList; ++list) listed += CheckList(cls, list, nslabs);
    if (listed != on_partial + on_parked)
      Error("class %d: %d slabs have free or parked blocks, %d listed", cls, on_partial + on_parked,
            listed);
    if (parked_pages != LoadRelaxed(c.xparked_pages))
      Error("class %d: %d parked pages, counter says %d", cls, parked_pages,
            LoadRelaxed(c.xparked_pages));
    if (parked_blocks != LoadRelaxed(c.xparked_blocks))
      Error("class %d: %d parked blocks, counter says %d", cls, parked_blocks,
            LoadRelaxed(c.xparked_blocks));
    if (nslabs != LoadRelaxed(c.xnslabs))
      Error("class %d: %d slabs, counter says %d", cls, nslabs, LoadRelaxed(c.xnslabs));
    if (free_blocks != LoadRelaxed(c.xfree_in_slabs))
      Error("class %d: %d blocks free in slabs, counter says %d", cls, free_blocks,
            LoadRelaxed(c.xfree_in_slabs));
    used_[cls] = nslabs * info.blocks - free_blocks;
    // The ring: cells [deq, enq) hold full batches.
    const uint64_t enq = LoadRelaxed(c.xenq), deq = LoadRelaxed(c.xdeq);
    const uint64_t slots = seg_.geometry().ring_slots;
    if (enq < deq || enq - deq > slots) Error("class %d: ring positions %d..%d", cls, deq, enq);
    for (uint64_t pos = deq; pos < enq && pos - deq <= slots; ++pos) {
      const RingCell& cell = seg_.ring(cls)[pos & (slots - 1)];
      if (LoadRelaxed(cell.xseq) != pos + 1)
        Error("class %d: ring cell %d not published", cls, pos);
      const uint64_t n = WalkChain(LoadRelaxed(cell.xbatch), cls, info.batch, "ring");
      if (n != info.batch) Error("class %d: ring batch of %d blocks, not %d", cls, n, info.batch);
      in_caches_[cls] += n;
    }
    // The cells before deq that no later push has reached are released, for the push at
    // their position + slots: one still claimed by a pop would hold the ring full there
    // (at most `slots` cells, once the positions are sane).
    if (enq >= deq && enq - deq <= slots)
      for (uint64_t pos = enq - std::min(enq, slots); pos < deq; ++pos)
        if (LoadRelaxed(seg_.ring(cls)[pos & (slots - 1)].xseq) != pos + slots)
          Error("class %d: ring cell %d claimed by a pop, not released", cls, pos);
  }

  void WalkCaches() {
    for (uint32_t i = 0; i < kMaxPurgers; ++i)
      if (const uint32_t op = LoadRelaxed(seg_.header().purgers[i].transit.xop))
        Error("purger %d: a batch is in transit (op %d)", i, op);
    const Geometry& g = seg_.geometry();
    for (uint32_t t = 0; t < g.max_thread_caches; ++t) {
      if (LoadAcquire(seg_.cache_owner(t)) == kCacheNeverUsed) continue;  // may be unbacked
      const ThreadCache& tc = seg_.cache(t);
      if (LoadRelaxed(tc.transit.xop) != Transit::kNone)
        Error("cache %d: a batch is in transit (op %d)", t, LoadRelaxed(tc.transit.xop));
      if (LoadRelaxed(tc.bins[0].xlist) != 0)  // malloc's fast path relies on it (layout.h)
        Error("cache %d: the bin of class 0 holds a list", t);
      for (uint32_t c = 1; c < kNumClasses; ++c) {
        const Bin& b = tc.bins[c];
        const uint64_t n = WalkChain(LoadRelaxed(b.xlist), c, Class(c).batch, "cache list");
        if (n != b.count())
          Error("cache %d class %d: list of %d blocks, count %d", t, c, n, b.count());
        in_caches_[c] += n;
        if (const uint64_t spare = LoadRelaxed(tc.cold[c].xspare)) {
          const uint64_t m = WalkChain(spare, c, Class(c).batch, "cache spare");
          if (m != Class(c).batch) Error("cache %d class %d: spare of %d blocks", t, c, m);
          in_caches_[c] += m;
        }
        nmalloc_[c] += b.nmalloc();
        nfree_[c] += tc.nfree(c);
      }
    }
  }

  // The cumulative counters agree with the lists unless a process died: its last counter
  // updates may be lost with it (stats derive `allocated` from the lists instead).
  void CheckBalance() {
    if (LoadRelaxed(seg_.header().counters.xreclaimed_procs) != 0) return;
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      const ClassCentral& cc = seg_.central(c);
      const uint64_t nmalloc = nmalloc_[c] + LoadRelaxed(cc.xnmalloc);
      const uint64_t nfree = nfree_[c] + LoadRelaxed(cc.xnfree);
      const int64_t allocated = static_cast<int64_t>(nmalloc - nfree);
      if (static_cast<int64_t>(used_[c]) != static_cast<int64_t>(in_caches_[c]) + allocated)
        Error("class %d: %d blocks used in slabs, but %d cached + %d allocated", c, used_[c],
              in_caches_[c], allocated);
    }
  }

  const Segment& seg_;
  ValidationReport report_;
  const uint32_t frontier_;
  std::vector<bool> seen_;
  std::vector<uint32_t> free_runs_, slabs_;
  uint64_t free_[kNumClasses] = {}, used_[kNumClasses] = {}, in_caches_[kNumClasses] = {};
  uint64_t nmalloc_[kNumClasses] = {}, nfree_[kNumClasses] = {};
};

}  // namespace

std::string ValidationReport::ToString() const {
  if (errors.empty()) return absl::StrFormat("ok: %d runs, %d free blocks", runs, free_blocks);
  return absl::StrJoin(errors, "\n");
}

ValidationReport Validate(const Segment& seg) { return Validator(seg).Run(); }

}  // namespace shmpool::shm
