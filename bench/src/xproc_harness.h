// Workload (d): two processes. A (the parent) gets a buffer, writes a sequence number into
// it and passes its offset to B (a forked child) over a single-producer single-consumer
// ring in shared memory; B checks the number and gives the buffer back. The result is
// ns per buffer from A's start to B's last give-back (CLOCK_MONOTONIC is shared by both),
// so 1e9 / ns is the pair's throughput in buffers per second.
//
// A Peer says how a buffer is got and given back; it is constructed in the parent before
// the fork (create the segment, fill a pool), and its Producer (in A) and Consumer (in B)
// are constructed after it, each opening its own mapping of any allocator segment:
//   class Peer {
//     Peer(uint32_t size, XprocControl& ctl);
//     struct Producer { explicit Producer(Peer&); void* Get(uint64_t* ref); };
//     struct Consumer { explicit Consumer(Peer&); void* Ptr(uint64_t ref);
//                       void Put(void* p, uint64_t ref); };
//   };
// A warm-up round (a tenth of the count) runs first; A starts the timed round only after
// B has given back every warm-up buffer.
#pragma once

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <new>

#include "bench/src/clock.h"
#include "bench/src/counts.h"
#include "bench/src/fail.h"
#include "bench/src/shared_region.h"
#include "bench/src/spsc_ring.h"

namespace shmpool::bench {

struct XprocControl {
  alignas(64) std::atomic<uint32_t> xconsumer_ready{0};
  alignas(64) std::atomic<uint32_t> xrounds_done{0};
  std::atomic<int64_t> xend_ns{0};
  std::atomic<uint64_t> xerrors{0};
  SpscRing fwd;   // A -> B: offsets of filled buffers
  SpscRing back;  // B -> A: offsets of buffers to reuse (the no-allocator limit only)
};

struct XprocRounds {
  uint64_t count[2];  // warm-up, timed
};

template <class Peer>
void ConsumerMain(Peer& peer, XprocControl& ctl, const XprocRounds& rounds) {
  typename Peer::Consumer b(peer);
  ctl.xconsumer_ready.store(1, std::memory_order_release);
  uint64_t seq = 0;
  for (uint32_t r = 0; r < 2; ++r) {
    for (uint64_t i = 0; i < rounds.count[r]; ++i, ++seq) {
      const uint64_t ref = ctl.fwd.Pop();
      void* p = b.Ptr(ref);
      if (p == nullptr) {
        ctl.xerrors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (*static_cast<uint64_t*>(p) != seq) ctl.xerrors.fetch_add(1, std::memory_order_relaxed);
      b.Put(p, ref);
    }
    ctl.xend_ns.store(NowNs(), std::memory_order_relaxed);
    ctl.xrounds_done.store(r + 1, std::memory_order_release);
  }
}

template <class Peer>
double ProducerMain(Peer& peer, XprocControl& ctl, const XprocRounds& rounds) {
  typename Peer::Producer a(peer);
  SpinUntil([&] { return ctl.xconsumer_ready.load(std::memory_order_acquire) == 1; });
  uint64_t seq = 0;
  double ns = 0;
  for (uint32_t r = 0; r < 2; ++r) {
    const int64_t t0 = NowNs();
    for (uint64_t i = 0; i < rounds.count[r]; ++i) {
      uint64_t ref;
      void* p = a.Get(&ref);
      *static_cast<uint64_t*>(p) = seq++;
      ctl.fwd.Push(ref);
    }
    SpinUntil([&] { return ctl.xrounds_done.load(std::memory_order_acquire) == r + 1; });
    ns = double(ctl.xend_ns.load(std::memory_order_relaxed) - t0) / double(rounds.count[r]);
  }
  return ns;
}

// Runs one Peer at one buffer size; ns per buffer of the timed round.
template <class Peer>
double RunXproc(uint32_t size, const Counts& c) {
  SharedRegion region(sizeof(XprocControl));
  XprocControl& ctl = *new (region.data()) XprocControl;
  const XprocRounds rounds = {{c.xproc_buffers / c.warmup_div, c.xproc_buffers}};
  Peer peer(size, ctl);
  std::fflush(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) Fail("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(3);
    ConsumerMain(peer, ctl, rounds);
    _exit(0);  // skip the parent's destructors (they would remove its segment)
  }
  alarm(300);  // a consumer that died would leave A spinning: fail loudly instead
  const double ns = ProducerMain(peer, ctl, rounds);
  alarm(0);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    Fail("cross-process consumer failed");
  if (const uint64_t e = ctl.xerrors.load()) Fail(std::to_string(e) + " buffers lost or corrupted");
  return ns;
}

}  // namespace shmpool::bench
