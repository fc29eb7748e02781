#include "shm/slab_map.h"

#include <algorithm>
#include <atomic>
#include <bit>

#include "shm/atomics.h"

namespace shmpool::shm {
namespace {

template <typename T>
T Peek(T& field) {
  return std::atomic_ref<T>(field).load(std::memory_order_relaxed);
}

// Calls fn(run) for each run below the frontier, in page order, without storing them.
template <typename Fn>
void ForEachRun(const Segment& seg, uint64_t frontier, Fn fn) {
  for (uint64_t p = 0; p < frontier;) {
    const uint64_t e = LoadRelaxed(seg.page_entry(p));
    RunMeta& r = seg.run(p);
    MapRun run;
    run.first_page = static_cast<uint32_t>(p);
    uint32_t pages = Peek(r.pages);
    if (pages == 0 || p + pages > frontier || PageEntry::StartOf(e) != p) pages = 1;
    run.pages = pages;
    const PageKind kind = PageEntry::KindOf(e);
    if (kind == kPageSlab) {
      run.cls = std::min<uint32_t>(PageEntry::SlabClassOf(e), kNumClasses - 1);
      run.blocks = Class(run.cls).blocks;
      run.backed_pages = std::min(Peek(r.backed_pages), pages);
      if (run.backed_pages < pages)  // some page is parked (slab_park.h): find which
        for (uint32_t i = 0; i < pages && i < 64; ++i)
          if (PageEntry::Parked(LoadRelaxed(seg.page_entry(p + i))))
            run.parked_mask |= uint64_t{1} << i;
      const uint32_t free_count = std::min(Peek(r.free_count) + Peek(r.parked), run.blocks);
      run.used_blocks = run.blocks - free_count;
      run.state = free_count == 0            ? RunState::kFull
                  : free_count == run.blocks ? RunState::kEmpty
                                             : RunState::kPartial;
    } else if (kind == kPageFree || kind == kPageUnused) {
      run.backed_pages = std::min(Peek(r.backed_pages), pages);
      run.state = run.backed_pages < pages ? RunState::kPurged : RunState::kFree;
    } else {
      run.state = RunState::kLarge;  // large runs and any other allocated run (pools)
    }
    fn(run);
    p += pages;
  }
}

uint64_t FrontierOf(const Segment& seg) {
  return std::min<uint64_t>(LoadRelaxed(seg.header().heap.xfrontier_pages), seg.data_pages());
}

}  // namespace

SegmentMap ReadSegmentMap(const Segment& seg) {
  SegmentMap m;
  m.pages = seg.data_pages();
  m.frontier = FrontierOf(seg);
  ForEachRun(seg, m.frontier, [&m](const MapRun& r) { m.runs.push_back(r); });
  if (m.frontier < m.pages)
    m.runs.push_back({static_cast<uint32_t>(m.frontier),
                      static_cast<uint32_t>(m.pages - m.frontier), RunState::kUnused});
  return m;
}

FillHistogram SlabFillHistogram(const Segment& seg) {
  FillHistogram h{};
  ForEachRun(seg, FrontierOf(seg), [&h](const MapRun& r) {
    if (r.blocks == 0) return;
    ++h[r.cls][std::min<uint64_t>(9, uint64_t{r.used_blocks} * 10 / r.blocks)];
  });
  return h;
}

std::vector<MapCell> MapCells(const SegmentMap& map, uint32_t cells, uint64_t* pages_per_cell) {
  const uint64_t extent = map.frontier ? map.frontier : map.pages;
  cells = static_cast<uint32_t>(std::max<uint64_t>(1, std::min<uint64_t>(cells, extent)));
  const uint64_t span = std::max<uint64_t>(1, (extent + cells - 1) / cells);
  if (pages_per_cell) *pages_per_cell = span;
  std::vector<MapCell> out((extent + span - 1) / span);
  std::vector<double> used(out.size()), total(out.size());
  for (const MapRun& r : map.runs) {
    // Spread the run's pages over the cells it covers.
    const uint64_t run_end = std::min<uint64_t>(uint64_t{r.first_page} + r.pages, extent);
    for (uint64_t p = r.first_page; p < run_end;) {
      const uint64_t c = p / span;
      const uint64_t end = std::min<uint64_t>((c + 1) * span, run_end);
      const uint32_t n = static_cast<uint32_t>(end - p);
      const uint64_t window = n < 64 ? (uint64_t{1} << n) - 1 : ~uint64_t{0};
      const uint32_t parked =
          r.parked_mask
              ? static_cast<uint32_t>(std::popcount((r.parked_mask >> (p - r.first_page)) & window))
              : 0;
      out[c].pages[static_cast<size_t>(r.state)] += n - parked;
      out[c].pages[static_cast<size_t>(RunState::kPurged)] += parked;
      if (r.blocks) {
        used[c] += double(r.used_blocks) / r.blocks * n;
        total[c] += n;
      }
      p = end;
    }
  }
  for (size_t c = 0; c < out.size(); ++c) out[c].slab_fill = total[c] ? used[c] / total[c] : 0;
  return out;
}

}  // namespace shmpool::shm
