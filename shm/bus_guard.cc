#include "shm/bus_guard.h"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

#include "shm/untrusted.h"

namespace shmpool::shm {
namespace {

struct GuardSlot {
  std::atomic<uint32_t> claimed;
  std::atomic<uint32_t> faulted;
  std::atomic<uintptr_t> base;
  std::atomic<size_t> len;
};
static_assert(std::atomic<uintptr_t>::is_always_lock_free &&
                  std::atomic<size_t>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

GuardSlot g_slots[kBusGuardSlots];
struct sigaction g_previous;

// Gives the signal to whatever handled it before InstallBusGuard, or the default action.
void Chain(int sig, siginfo_t* info, void* context) {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if ((g_previous.sa_flags & SA_SIGINFO) == 0 && g_previous.sa_handler != SIG_DFL &&
      g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: once this handler returns, the pending signal (or the faulting
  // instruction, run again) kills the process with SIGBUS.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
  raise(SIGBUS);
}

void OnBus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (GuardSlot& s : g_slots) {
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || addr < base) continue;
    const size_t len = s.len.load(std::memory_order_relaxed);
    if (addr - base >= len) continue;
    // The whole mapping reads zeros from now on: the file behind it shrank, so no part of
    // it can be trusted to stay mapped.
    if (mmap(reinterpret_cast<void*>(base), len, PROT_READ | PROT_WRITE,
             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
      break;
    s.faulted.store(1, std::memory_order_release);
    errno = saved_errno;
    return;
  }
  Chain(sig, info, context);
  errno = saved_errno;
}

}  // namespace

int RegisterMapping(void* base, size_t len) {
  for (int i = 0; i < kBusGuardSlots; ++i) {
    GuardSlot& s = g_slots[i];
    uint32_t free_slot = 0;
    if (!s.claimed.compare_exchange_strong(free_slot, 1, std::memory_order_acquire)) continue;
    s.faulted.store(0, std::memory_order_relaxed);
    s.len.store(len, std::memory_order_relaxed);
    s.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return i;
  }
  return -1;
}

void UnregisterMapping(int slot) {
  if (slot < 0) return;
  GuardSlot& s = g_slots[slot];
  s.base.store(0, std::memory_order_release);
  s.len.store(0, std::memory_order_relaxed);
  s.claimed.store(0, std::memory_order_release);
}

bool MappingFaulted(int slot) {
  return slot >= 0 && g_slots[slot].faulted.load(std::memory_order_acquire) != 0;
}

void InstallBusGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = OnBus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace shmpool::shm
