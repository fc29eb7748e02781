// Attribution: what each attached process (a client) allocated, freed and holds, per size
// class and per object pool, read lock-free from the segment like stats.h (each counter is
// exact, the set is not one atomic snapshot). The daemon joins these with its sessions.
//
// Blocks count through the client's thread caches only, since each cache was claimed by
// the client (ThreadCache::base in layout.h): what earlier owners of a reused record did is
// not the client's. What no cache record the client holds counts is kept in its process
// record (ProcRecord::outside): when it gives a cache back (a thread that exited,
// FlushThreadCache) what it did through it moves there, so exited threads stay counted,
// and so do the blocks of its threads that found no free cache record, and its large
// blocks (page runs, counted apart: they have no class).
//
// A block may be freed by another client than the one that allocated it (packet buffers
// cross processes), so net = nmalloc - nfree is what the client allocated and did not free
// itself, minus what it freed for others: positive for a producer that holds or hands out
// blocks, negative for a consumer that frees what a producer allocated. Only the sum over
// the clients of a class says how many of its blocks they hold together (when nothing
// went through the paths above that are not attributed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shm/segment.h"

namespace shmpool::shm {

// One client's figures for one size class.
struct ClientClassStats {
  uint32_t cls = 0;
  uint32_t size = 0;
  uint64_t nmalloc = 0;  // blocks handed out through the client's caches
  uint64_t nfree = 0;    // blocks freed into them, whoever allocated them
  uint64_t cached = 0;   // bytes free in them now (list and spare batch)
  int64_t net() const { return static_cast<int64_t>(nmalloc) - static_cast<int64_t>(nfree); }
  int64_t net_bytes() const { return net() * size; }
};

// Objects of one pool the client holds: gets - puts through its pool caches (negative for
// a client that puts back what another got).
struct ClientPoolStats {
  std::string pool;
  int64_t held = 0;
};

// INVARIANTS: classes are in class order, each with a nonzero figure; cached, nmalloc,
// nfree and class_net_bytes are their sums; net_bytes() adds the large blocks.
struct ClientStats {
  uint32_t proc = 0;  // process record index (Session.proc_index)
  uint32_t thread_caches = 0;
  uint64_t cached = 0;  // bytes
  uint64_t nmalloc = 0;
  uint64_t nfree = 0;
  int64_t class_net_bytes = 0;
  uint64_t large_nmalloc = 0;  // large blocks (page runs) the client allocated
  uint64_t large_nfree = 0;    // and freed, whoever allocated them
  int64_t large_net_bytes = 0;
  int64_t net_bytes() const { return class_net_bytes + large_net_bytes; }
  std::vector<ClientClassStats> classes;
  std::vector<ClientPoolStats> pools;  // pools the client has a cache in
};

// Every attached process (record live, or dead and not yet reclaimed), in record order.
std::vector<ClientStats> CollectClientStats(const Segment& seg);

}  // namespace shmpool::shm
