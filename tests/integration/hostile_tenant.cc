// shmpool_hostile_tenant: a tenant that attacks its own segment file, driven over a pipe by
// the hostile-tenant tests (run under the tenant's uid with setpriv). It never attaches
// through the daemon: it maps the file it owns and writes what it likes. One command per
// line, one reply per line ("ok ..." or "err ..."):
//
//   open PATH          maps PATH (shm::Segment::Open); "ok"
//   scribble SEED N    N random byte ranges, random bytes, all in the segment's metadata
//                      (the header's page-heap state onwards, below the data pages); "ok"
//   smash_heap         0xff over the page-heap state's free-run buckets and journal (the
//                      frontier, which Segment::Open checks, stays); "ok"
//   smash_runs         zeros over every run record (RunMeta) of the data pages; "ok"
//   truncate BYTES     ftruncate the file to BYTES; "ok"
//   restore            ftruncate the file back to its full size (zero pages past the cut:
//                      this process may write its mapping again); "ok"
//   lock               takes the page-heap mutex and holds it (waits 1 s at most: the
//                      mutex may be scribbled over); "ok" or "err ERRNO"
//   unlock             releases it if held; "ok"
//   lock_class SIZE    takes the mutex of SIZE's size class and holds it (killed holding
//                      it, this process leaves the next locker its repair); "ok"
//   smash_magic        zeros over the header's magic; "ok"
//   set_version N      the header's layout version := N; "ok"
//   grow CAPACITY      the header's geometry says CAPACITY bytes of data pages (sections
//                      recomputed, so the header is consistent) and the file is extended to
//                      match; "ok"
//   close              unmaps; "ok"
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "shm/segment.h"
#include "shm/size_class.h"

#include "tests/support/line_commands.h"

namespace {

std::unique_ptr<shmpool::shm::Segment> seg;
bool held = false;  // the page-heap mutex, by this process

std::string Run(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "open") {
    std::string path;
    in >> path;
    auto s = shmpool::shm::Segment::Open(path);
    if (!s.ok()) return "err " + std::string(s.status().message());
    seg = std::move(*s);
    return "ok";
  }
  if (seg == nullptr) return "err not open";
  const shmpool::shm::Sections& sec = seg->sections();
  char* base = seg->base();
  const uint64_t meta_start = offsetof(shmpool::shm::SegmentHeader, heap);
  if (cmd == "scribble") {
    uint64_t seed = 0, n = 0;
    in >> seed >> n;
    std::mt19937_64 rng(seed);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t at = meta_start + rng() % (sec.data - meta_start);
      const uint64_t len = std::min<uint64_t>(1 + rng() % 256, sec.data - at);
      for (uint64_t k = 0; k < len; ++k) base[at + k] = static_cast<char>(rng());
    }
    return "ok";
  }
  if (cmd == "smash_heap") {
    shmpool::shm::PageHeapState& h = seg->header().heap;
    std::memset(h.buckets, 0xff, sizeof h.buckets);
    h.journal_op = 2;
    h.journal_start = ~0u;
    h.journal_pages = ~0u;
    return "ok";
  }
  if (cmd == "smash_runs") {
    std::memset(base + sec.runs, 0, sec.data - sec.runs);
    return "ok";
  }
  if (cmd == "truncate") {
    off_t bytes = 0;
    in >> bytes;
    return ftruncate(seg->fd(), bytes) == 0 ? "ok" : "err " + std::string(std::strerror(errno));
  }
  if (cmd == "restore")
    return ftruncate(seg->fd(), static_cast<off_t>(sec.total)) == 0
               ? "ok"
               : "err " + std::string(std::strerror(errno));
  // pthread directly (not RobustMutex, which checks): the mutex may be scribbled over.
  auto* heap_mutex = reinterpret_cast<pthread_mutex_t*>(&seg->header().heap.mutex);
  if (cmd == "lock") {
    timespec until{};
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    const int rc = pthread_mutex_timedlock(heap_mutex, &until);
    held = rc == 0 || rc == EOWNERDEAD;
    return held ? "ok" : "err " + std::to_string(rc);
  }
  if (cmd == "unlock") {
    if (held) pthread_mutex_unlock(heap_mutex);
    held = false;
    return "ok";
  }
  if (cmd == "lock_class") {
    size_t size = 0;
    in >> size;
    seg->central(shmpool::shm::ClassOf(size)).mutex.Lock();
    return "ok";
  }
  if (cmd == "smash_magic") {
    seg->header().xmagic.store(0);
    return "ok";
  }
  if (cmd == "set_version") {
    uint32_t v = 0;
    in >> v;
    seg->header().layout_version = v;
    return "ok";
  }
  if (cmd == "grow") {
    uint64_t capacity = 0;
    in >> capacity;
    shmpool::shm::SegmentHeader& h = seg->header();
    h.geometry.capacity = capacity;
    h.sections = shmpool::shm::ComputeSections(h.geometry);
    return ftruncate(seg->fd(), static_cast<off_t>(h.sections.total)) == 0
               ? "ok"
               : "err " + std::string(std::strerror(errno));
  }
  if (cmd == "close") {
    held = false;  // the mutex of a dropped generation stays held: nobody reads it again
    seg.reset();
    return "ok";
  }
  return "err unknown command " + cmd;
}

}  // namespace

int main() { return shmpool::testing::ServeLines(Run); }
