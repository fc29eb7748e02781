// Parked slab pages: how purge gives back to the OS the free pages INSIDE slabs that still
// hold live blocks, and how a refill takes them back. Class mutex held for every call.
//
// A page of a slab is parked when purge finds every block touching it free on the slab's
// free list (or parked already). Purge marks the page's page-map entry parked (class 0
// there, so free()'s fast path refuses any block on it: each is free, so a free of one is
// a double free), drops every block touching it from the free list and punches the page
// out of the file. Those blocks are parked: free, counted in the class's xfree_in_slabs and
// in RunMeta.parked, on no list and in no cache. A refill that finds no partial slab
// unparks pages of a parked slab in address order: backs the page (fallocate, so a full
// tmpfs fails here and never with SIGBUS later), writes the header of each block that no
// longer touches a parked page, puts them on the free list, and then marks the page live.
//
// INVARIANTS (between calls): a block is parked iff it touches a parked page; no parked
// block is on a free list, in a cache or ring, or allocated; RunMeta.parked counts the
// parked blocks and backed_pages == pages - parked pages; ClassCentral.xparked_pages and
// xparked_blocks are the sums over the class's slabs.
//
// A free racing a park: free() reads a page's entry, then the block's tag, then the entry
// again (heap.h). Park stores each entry with release order before it punches the page, so
// a free whose tag read found the punched page's zeros finds the parked entry on its
// second read and refuses the block (a double free: every block there is free).
//
// Crash argument. Park stores, in order: (1) the entries, (2) the free list without the
// blocks on parked pages (each store links a kept block to a later one in the old order,
// so the chain is always a valid list of free blocks), (3) the holes, (4) the counts.
// Unpark: (1) backing, (2) block headers, (3) the blocks spliced onto the free list,
// (4) the entry marked live, (5) the counts. After a death at any point the class repair
// runs RepairSlabParking, which drops listed blocks that touch a parked page, recounts
// parked blocks and backed pages from the page map and punches every parked page again
// (idempotent): an interrupted park completes, an interrupted unpark is undone. No block is
// lost, listed twice or left on a page without backing.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// Parks every page of `slab` (class `cls`) that only free blocks touch. Returns the pages
// newly parked (their bytes are what purge released).
uint32_t ParkSlabPages(const Segment& seg, uint32_t cls, uint32_t slab);

// Unparks pages of `slab` in address order until at least `want` blocks have joined its
// free list or no page is parked. Returns the blocks that joined (0 when the file system
// could not back a page).
uint32_t UnparkBlocks(const Segment& seg, uint32_t cls, uint32_t slab, uint32_t want);

// After a crash (the class repair): makes the slab's free list, free_count, parked count
// and backed pages agree with its page map (a chain that leaves the slab fails a check),
// and punches its parked pages again. Returns its parked pages; `*parked_blocks` receives
// its parked blocks.
uint32_t RepairSlabParking(const Segment& seg, uint32_t cls, uint32_t slab,
                           uint32_t* parked_blocks);

}  // namespace shmpool::shm
