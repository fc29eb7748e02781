// libFuzzer target: the daemon's readers over a segment its tenant scribbled on must end
// cleanly or in a SegmentFault, never crash, hang or read outside the mapping.
// Setup (once): a real segment with live state in every structure the daemon reads: a
// client (a forked child, killed without detaching, so its record, caches and pool cache
// stay as it left them) allocated and freed blocks of many classes and large runs and holds
// pool objects. Its image is kept. Each input restores that image and applies edits, 8
// bytes each: a 32-bit offset into the metadata and the pages in use (the top bit picks a
// byte or an aligned 32-bit store, the next one the metadata alone) and the value. Then, inside an
// UntrustedScope, the daemon's passes: stats, client stats, the slab map, the pools, Validate,
// Purge and the audit's ReleaseAbandonedClaim and ReclaimProcess of every process record.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "shm/atomics.h"
#include "shm/client_stats.h"
#include "shm/heap.h"
#include "shm/pool.h"
#include "shm/purge.h"
#include "shm/recovery.h"
#include "shm/segment.h"
#include "shm/slab_map.h"
#include "shm/stats.h"
#include "shm/untrusted.h"
#include "shm/validate.h"

namespace {

using namespace shmpool::shm;

struct Fixture {
  std::unique_ptr<Segment> seg;  // the daemon's mapping
  std::vector<char> image;       // the segment as the client left it
  uint64_t span = 0;             // bytes the edits land in: metadata and the pages in use
};

// The client: allocates, frees and takes pool objects, then dies without detaching.
[[noreturn]] void ClientThenDie(const std::string& path) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(1);
  const std::shared_ptr<Segment> shared(std::move(*seg));
  auto heap = Heap::Attach(shared);
  if (!heap.ok()) _exit(1);
  std::mt19937 rng(11);
  std::vector<void*> live;
  for (int i = 0; i < 600; ++i) {
    const size_t n = size_t{16} << (rng() % 12);
    if (void* p = (*heap)->Allocate(n + rng() % n)) live.push_back(p);
    if (!live.empty() && rng() % 3 == 0) {
      const size_t k = rng() % live.size();
      (*heap)->Free(live[k]);
      live[k] = live.back();
      live.pop_back();
    }
  }
  for (int i = 1; i <= 3; ++i) live.push_back((*heap)->Allocate(40000 * i));
  for (size_t k = 0; k < live.size(); k += 4) (*heap)->Free(live[k]);
  auto pool = Pool::Open(shared, (*heap)->proc_index(), "pkt");
  if (!pool.ok()) _exit(1);
  for (int i = 0; i < 6; ++i) (void)(*pool)->Get();
  kill(getpid(), SIGKILL);
  _exit(1);
}

Fixture& Get() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    const std::string path = "/dev/shm/shmpool-readers-fuzz-" + std::to_string(getpid()) + ".seg";
    Geometry g;
    g.capacity = 1 << 20;
    g.max_procs = 2;
    g.max_thread_caches = 4;
    g.ring_slots = 4;
    auto created = Segment::Create(path, g);
    if (!created.ok()) __builtin_trap();
    PoolSpec spec{.name = "pkt", .object_size = 200, .count = 32, .caches = 2};
    if (!CreatePool(**created, spec).ok()) __builtin_trap();
    const pid_t child = fork();
    if (child == 0) ClientThenDie(path);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFSIGNALED(status)) __builtin_trap();  // the client failed before dying
    fx->seg = std::move(*created);
    unlink(path.c_str());  // the mapping and the descriptor keep it
    const Sections& s = fx->seg->sections();
    fx->span = s.data + (uint64_t{fx->seg->header().heap.frontier} << kPageShift);
    fx->image.assign(fx->seg->base(), fx->seg->base() + s.total);
    InstallBusGuard();
    return fx;
  }();
  return *f;
}

void DaemonPasses(const Segment& seg) {
  UntrustedScope scope(std::chrono::milliseconds(10));
  try {
    (void)CollectStats(seg);
    (void)CollectClientStats(seg);
    (void)ReadSegmentMap(seg);
    (void)ListPools(seg);
    (void)Validate(seg);
    (void)Purge(seg);
    for (uint32_t p = 0; p < seg.geometry().max_procs; ++p) {
      (void)ReleaseAbandonedClaim(seg, p);
      (void)ReclaimProcess(seg, p, LoadAcquire(seg.proc(p).xword));
    }
  } catch (const SegmentFault&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = Get();
  char* base = f.seg->base();
  std::memcpy(base, f.image.data(), f.image.size());
  for (; size >= 8; data += 8, size -= 8) {
    uint32_t off, value;
    std::memcpy(&off, data, 4);
    std::memcpy(&value, data + 4, 4);
    const bool word = (off >> 31) != 0;
    const bool metadata = (off >> 30 & 1) != 0;
    uint64_t at = (off & 0x3fffffff) % (metadata ? f.seg->sections().data : f.span);
    if (word) {
      at &= ~uint64_t{3};
      std::memcpy(base + at, &value, 4);
    } else {
      base[at] = static_cast<char>(value);
    }
  }
  (void)Segment::ValidateImage(base, f.image.size());
  DaemonPasses(*f.seg);
  if (f.seg->Faulted()) __builtin_trap();  // nothing here truncates the file
  return 0;
}
