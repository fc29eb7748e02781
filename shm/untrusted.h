// Untrusted segments: how the daemon reads a segment that a hostile tenant can write.
//
// Every byte of a segment, and the length of its file, is controlled by any process that
// maps it. Clients trust their own segment (a client that corrupts it hurts itself), so on
// the data plane a failing SHMPOOL_CHECK aborts as always. The daemon serves many tenants
// and must survive any one of them: it runs every operation over a segment inside an
// UntrustedScope, where the same checks end the operation with a SegmentFault instead,
// and then quarantines the arena. What ends how (shm/README.md, "Untrusted segments"):
//
//   SegmentFault(kCorrupt)     a SHMPOOL_CHECK failed inside a scope: an offset, count or
//                              length read from the segment is out of the geometry's
//                              bounds, a walk (free list, slab list, ring, run chain) ran
//                              longer than the geometry allows (a cycle), or a robust
//                              mutex in the segment is not a robust mutex any more (its
//                              kind was overwritten, or pthread returned EINVAL,
//                              ENOTRECOVERABLE, EPERM...).
//   SegmentFault(kLockTimeout) RobustMutex::Lock waited `lock_deadline` for a mutex that a
//                              live process holds (pthread_mutex_clocklock, CLOCK_MONOTONIC;
//                              a TSan build polls trylock).
//   SegmentFault(kBusError)    never thrown by shm/: a SIGBUS (the tenant truncated its
//                              file) is contained by the bus guard below, which leaves the
//                              mapping reading zeros and Segment::Faulted() true; a daemon
//                              that checks Faulted() after an operation reports it as this
//                              kind (MakeBusFault).
//
// UntrustedScope: while one is live on a thread, that thread treats segments as untrusted.
// Scopes nest (the innermost deadline applies until it ends). Clients never create one.
// Everything shm/ runs in a scope is exception-safe: RobustLock releases its mutex while
// the exception unwinds, and an unlock that fails (the tenant overwrote a mutex the daemon
// held) throws kCorrupt from ~RobustLock when no other exception is in flight and is
// dropped when one is (the operation is already failing). A SegmentFault leaves the
// segment as it was at the failing check (the arena is quarantined: nothing reads it
// again except to tear it down) and no process-local state of the daemon half-changed:
// shm/ keeps none across calls except the bus-guard registry.
//
// InstallBusGuard(): installs the SIGBUS handler, once, at daemon start (idempotent,
// thread-safe). Every Segment registers its mapping in a fixed table of atomics (no
// malloc, no locks: the handler reads it) and unregisters it before munmap. A SIGBUS whose
// si_addr lies in a registered mapping replaces that whole mapping with private zero pages
// (mmap MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, async-signal-safe), marks the segment
// faulted and returns, so the faulting access is retried and reads zeros (the empty state
// of every record: walks over it end at once). Any other SIGBUS goes to the handler that
// was installed before (ASan's, for one), or gets the default action (re-raised). The
// handler saves and restores errno. A mapping unmapped while another thread still reads
// it is a use-after-unmap whatever the handler does: the daemon unmaps an arena only when
// no operation is running on it.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace shmpool::shm {

// Why a segment cannot be trusted any more.
class SegmentFault : public std::runtime_error {
 public:
  enum class Kind { kCorrupt, kLockTimeout, kBusError };
  SegmentFault(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// The fault a daemon reports for a segment whose Faulted() became true.
SegmentFault MakeBusFault(const std::string& path);

class UntrustedScope {
 public:
  explicit UntrustedScope(std::chrono::milliseconds lock_deadline);
  ~UntrustedScope();
  UntrustedScope(const UntrustedScope&) = delete;
  UntrustedScope& operator=(const UntrustedScope&) = delete;

  // Whether the calling thread is inside a scope, and the deadline of the innermost one.
  static bool Active();
  static std::chrono::milliseconds LockDeadline();

 private:
  std::chrono::milliseconds saved_deadline_;
  bool saved_active_;
};

// Installs the SIGBUS guard (see above). Once per process; later calls do nothing.
void InstallBusGuard();

}  // namespace shmpool::shm
