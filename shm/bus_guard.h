// The registry of segment mappings that the SIGBUS guard (untrusted.h: InstallBusGuard)
// contains faults in. A fixed table of kSlots records of atomics, so the signal handler
// reads it with no lock and no allocation.
//   slot state: claimed (0 free, 1 taken: CAS by the registering thread), then len, then
//   base (release: a nonzero base publishes len), faulted (set by the handler).
// INVARIANT: a nonzero base names a live MAP_SHARED mapping of len bytes, registered
// after mmap and cleared before munmap. A mapping the table has no room for is not
// guarded (RegisterMapping returns -1): a SIGBUS in it kills the process as before.
#pragma once

#include <cstddef>

namespace shmpool::shm {

inline constexpr int kBusGuardSlots = 4096;

// Registers [base, base + len); returns the slot, or -1 when the table is full.
int RegisterMapping(void* base, size_t len);
// Clears `slot` (-1: nothing); call before munmap.
void UnregisterMapping(int slot);
// Whether a SIGBUS was contained in the mapping of `slot` (false for -1).
bool MappingFaulted(int slot);

}  // namespace shmpool::shm
