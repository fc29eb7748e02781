// shmpool_test_worker: a client process the integration tests drive over a pipe (often under
// another uid with setpriv), one command per line on stdin, one reply per line on stdout
// ("ok ..." or "err CODE MESSAGE"):
//
//   attach ENDPOINT ARENA   shmpool_attach through the daemon ("-": the default endpoint);
//                           replies "ok PID"
//   attachseg PATH          shmpool_attach_segment (no daemon); replies "ok PID"
//   open PATH               open(PATH, O_RDWR) directly, bypassing the daemon; "ok" or
//                           "err ERRNO MESSAGE" (works unattached)
//   alloc SIZE N            N blocks of SIZE bytes, each filled; replies "ok REF...", or
//                           "err -5 exhausted after I"
//   free REF...             frees blocks (any process's); "ok"
//   freeall                 frees every block this worker allocated and has not freed; "ok"
//   purge                   shmpool_purge; "ok BYTES"
//   hammer MILLIS           allocates and frees flat out for MILLIS ms; "ok OPS"
//   talloc SIZE N           N blocks of SIZE bytes, every 8-byte word set to the block's
//                           ref (a tag); replies "ok REF..."
//   check SIZE REF...       each block still holds its tag; "ok", or "err" naming one
//   aalloc ALIGN SIZE N     as talloc, through shmpool_aligned_alloc; "err" for a block
//                           that is not ALIGN-aligned in this process
//   realloc OLD NEW REF...  shmpool_realloc of each tagged block of OLD bytes to NEW bytes:
//                           checks that the tag of the first min(OLD, NEW) bytes moved
//                           with it, tags the block anew; replies "ok REF..." (the new refs)
//   addr REF...             the blocks' addresses in this process; "ok ADDR..."
//   gen                     shmpool_generation and shmpool_stale_frees; "ok GEN STALE"
//   release                 shmpool_release_retired; "ok N"
//   region                  creates a region with one 64-byte allocation; "ok REF"
//   regionopen REF          opens (and closes) the region REF; "ok", or "err CODE ..."
//   pool_open NAME          shmpool_pool_open; "ok OBJECT_SIZE"
//   pool_get N              N objects of the open pool, each stamped with its ref; "ok REF..."
//   pool_put REF...         checks each object's stamp, puts it back; "ok" or "err"
//   pool_close              shmpool_pool_close; "ok"
//   detach                  closes the open pool, shmpool_detach (blocks stay allocated); "ok"
//   forkattach ENDPOINT ARENA
//                           fork(); the child (stdout to /dev/null) attaches anew, allocates
//                           and frees, detaches and exit(0)s; replies "ok STATUS LINE": the
//                           child's exit status (or "timeout": killed after 15 s) and the
//                           line it wrote on a pipe: "attached" or "err CODE MESSAGE MILLIS"
//   forkuse                 fork(); the child uses this process's handle: shmpool_malloc,
//                           shmpool_purge, then shmpool_detach, and exit(0)s; replies "ok
//                           STATUS malloc=null|ptr purge=CODE MILLIS detach=ok": its purge's
//                           code and how long that took
//   exitfreeing REF...      exit(0) at once; an exit handler (registered at start, before
//                           any attach, as a C++ program's static objects are) frees the
//                           blocks, allocates and frees some more, and prints "atexit ok"
//                           (left in stdio's buffer: it shows only if exit() completes)
//
// EOF or "exit" ends the process (without detaching if still attached: like a crash of
// the application, minus the kill).
#include <fcntl.h>
#include <shmpool/shmpool.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "tests/support/line_commands.h"

namespace {

shmpool_client* client = nullptr;
shmpool_pool* pool = nullptr;
std::unordered_set<shmpool_ref> held;  // allocated here (alloc, talloc, aalloc, realloc), not freed
std::vector<shmpool_ref> free_at_exit;

void FreeAtExit() {
  if (client == nullptr) return;
  for (shmpool_ref r : free_at_exit) shmpool_free(client, shmpool_ptr_of(client, r));
  for (size_t size : {64, 1000, 100000}) shmpool_free(client, shmpool_malloc(client, size));
  std::fputs("atexit ok\n", stdout);
}

// Sets every 8-byte word of the first `size` bytes of p to p's ref; returns the ref.
shmpool_ref Tag(void* p, size_t size) {
  const shmpool_ref ref = shmpool_ref_of(client, p);
  auto* words = static_cast<uint64_t*>(p);
  for (size_t w = 0; w < size / 8; ++w) words[w] = ref;
  return ref;
}

// "" when the first `size` bytes of p hold the tag `ref`, else an error naming the word.
std::string CheckTag(const void* p, size_t size, uint64_t ref) {
  const auto* words = static_cast<const uint64_t*>(p);
  for (size_t w = 0; w < size / 8; ++w)
    if (words[w] != ref)
      return "err -7 block " + std::to_string(ref) + " word " + std::to_string(w) + " holds " +
             std::to_string(words[w]);
  return "";
}

std::string Err(int rc) {
  return "err " + std::to_string(rc) + " " + shmpool_strerror(rc) + ": " + shmpool_last_error();
}

long MillisSince(std::chrono::steady_clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
          .count());
}

// What a forked child of an attached process does with the library.
std::string ChildAttaches(const std::string& endpoint, const std::string& arena) {
  shmpool_client* own = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = shmpool_attach(endpoint == "-" ? nullptr : endpoint.c_str(), arena.c_str(), &own);
  if (rc != 0) return Err(rc) + " " + std::to_string(MillisSince(t0));
  for (size_t size : {64, 1000, 100000}) {
    void* p = shmpool_malloc(own, size);
    if (p == nullptr) return "err -5 malloc in the child";
    std::memset(p, 0x5a, size);
    shmpool_free(own, p);
  }
  shmpool_detach(own);
  return "attached";
}

std::string ChildUsesParentHandle() {
  void* p = shmpool_malloc(client, 64);
  std::string out = p == nullptr ? "malloc=null" : "malloc=ptr";
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t purged = shmpool_purge(client);
  out +=
      " purge=" + std::to_string(purged < 0 ? purged : 0) + " " + std::to_string(MillisSince(t0));
  shmpool_detach(client);
  client = nullptr;
  return out + " detach=ok";
}

// True in a child of InForkedChild. The child inherits gRPC's heap but none of its threads,
// whose stacks held the only pointers to much of it, and the library deliberately keeps its
// copy of the parent's link: a leak check at the child's exit would report all of that.
bool forked_child = false;

}  // namespace

// Read by LeakSanitizer at exit (a build without it never calls it): no leak check in a
// forked child.
extern "C" int __lsan_is_turned_off() { return forked_child ? 1 : 0; }

namespace {

// Forks; the child runs `child` and exit(0)s (atexit handlers and static destructors run),
// writing child's line on a pipe. The parent waits at most 15 s, then kills the child.
template <typename Fn>
std::string InForkedChild(Fn child) {
  int fds[2];
  if (pipe(fds) != 0) return "err -8 pipe";
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return "err -8 fork";
  if (pid == 0) {
    forked_child = true;
    close(fds[0]);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);  // the parent's reply pipe is not the child's
    const std::string line = child() + "\n";
    if (write(fds[1], line.data(), line.size()) < 0) std::_Exit(3);
    std::exit(0);
  }
  close(fds[1]);
  std::string status = "timeout";
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    int ws = 0;
    if (waitpid(pid, &ws, WNOHANG) == pid) {
      status = std::to_string(WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
      break;
    }
    if (std::chrono::steady_clock::now() >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string line;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) line.append(buf, n);
  close(fds[0]);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return "ok " + status + " " + line;
}

std::string Run(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "attach") {
    std::string endpoint, arena;
    in >> endpoint >> arena;
    const int rc =
        shmpool_attach(endpoint == "-" ? nullptr : endpoint.c_str(), arena.c_str(), &client);
    return rc == 0 ? "ok " + std::to_string(getpid()) : Err(rc);
  }
  if (cmd == "attachseg") {
    std::string path;
    in >> path;
    const int rc = shmpool_attach_segment(path.c_str(), &client);
    return rc == 0 ? "ok " + std::to_string(getpid()) : Err(rc);
  }
  if (cmd == "open") {
    std::string path;
    in >> path;
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return "err " + std::to_string(errno) + " " + std::strerror(errno);
    close(fd);
    return "ok";
  }
  if (client == nullptr) return "err -1 not attached";
  if (cmd == "alloc") {
    size_t size = 0, n = 0;
    in >> size >> n;
    std::string out = "ok";
    for (size_t i = 0; i < n; ++i) {
      void* p = shmpool_malloc(client, size);
      if (p == nullptr) return "err -5 exhausted after " + std::to_string(i);
      std::memset(p, 0x5a, size);
      const shmpool_ref ref = shmpool_ref_of(client, p);
      held.insert(ref);
      out += ' ';  // not " " + to_string: GCC 12's -Wrestrict misfires on it at -O2
      out += std::to_string(ref);
    }
    return out;
  }
  if (cmd == "free") {
    for (shmpool_ref ref; in >> ref;) {
      shmpool_free(client, shmpool_ptr_of(client, ref));
      held.erase(ref);
    }
    return "ok";
  }
  if (cmd == "freeall") {
    for (shmpool_ref ref : held) shmpool_free(client, shmpool_ptr_of(client, ref));
    held.clear();
    return "ok";
  }
  if (cmd == "purge") {
    const int64_t r = shmpool_purge(client);
    return r >= 0 ? "ok " + std::to_string(r) : Err(static_cast<int>(r));
  }
  if (cmd == "hammer") {
    long millis = 0;
    in >> millis;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
    uint64_t ops = 0;
    std::vector<void*> live(256, nullptr);
    while (std::chrono::steady_clock::now() < end) {
      for (int k = 0; k < 1024; ++k, ++ops) {
        void*& slot = live[(ops * 7919) % live.size()];
        if (slot) {
          shmpool_free(client, slot);
          slot = nullptr;
        } else {
          slot = shmpool_malloc(client, 16 + (ops % 64) * 16);
        }
      }
    }
    for (void* p : live) shmpool_free(client, p);
    return "ok " + std::to_string(ops);
  }
  if (cmd == "talloc") {
    size_t size = 0, n = 0;
    in >> size >> n;
    std::string out = "ok";
    for (size_t i = 0; i < n; ++i) {
      void* p = shmpool_malloc(client, size);
      if (p == nullptr) return "err -5 exhausted after " + std::to_string(i);
      const shmpool_ref ref = Tag(p, size);
      held.insert(ref);
      out += ' ';
      out += std::to_string(ref);
    }
    return out;
  }
  if (cmd == "aalloc") {
    size_t align = 0, size = 0, n = 0;
    in >> align >> size >> n;
    std::string out = "ok";
    for (size_t i = 0; i < n; ++i) {
      void* p = shmpool_aligned_alloc(client, align, size);
      if (p == nullptr) return "err -5 aligned_alloc failed after " + std::to_string(i);
      if (reinterpret_cast<uintptr_t>(p) % align != 0) return "err -7 misaligned block";
      const shmpool_ref ref = Tag(p, size);
      held.insert(ref);
      out += ' ';
      out += std::to_string(ref);
    }
    return out;
  }
  if (cmd == "realloc") {
    size_t old_size = 0, new_size = 0;
    unsigned long long ref;
    in >> old_size >> new_size;
    std::string out = "ok";
    while (in >> ref) {
      void* p = shmpool_realloc(client, shmpool_ptr_of(client, ref), new_size);
      if (p == nullptr) return "err -5 realloc of " + std::to_string(ref) + " failed";
      if (std::string bad = CheckTag(p, std::min(old_size, new_size), ref); !bad.empty())
        return bad;
      held.erase(ref);
      const shmpool_ref moved = Tag(p, new_size);
      held.insert(moved);
      out += ' ';
      out += std::to_string(moved);
    }
    return out;
  }
  if (cmd == "check") {
    size_t size = 0;
    unsigned long long ref;
    in >> size;
    while (in >> ref) {
      const void* p = shmpool_ptr_of(client, ref);
      if (p == nullptr) return "err -2 no block for ref " + std::to_string(ref);
      if (std::string bad = CheckTag(p, size, ref); !bad.empty()) return bad;
    }
    return "ok";
  }
  if (cmd == "addr") {
    unsigned long long ref;
    std::string out = "ok";
    while (in >> ref)
      out += " " + std::to_string(reinterpret_cast<uintptr_t>(shmpool_ptr_of(client, ref)));
    return out;
  }
  if (cmd == "gen")
    return "ok " + std::to_string(shmpool_generation(client)) + " " +
           std::to_string(shmpool_stale_frees(client));
  if (cmd == "release") return "ok " + std::to_string(shmpool_release_retired(client));
  if (cmd == "region") {
    shmpool_region* r = nullptr;
    if (const int rc = shmpool_region_create(client, 0, &r); rc != 0) return Err(rc);
    if (shmpool_region_alloc(r, 64) == nullptr) return "err -5 region_alloc";
    const shmpool_ref ref = shmpool_region_ref(r);
    shmpool_region_close(r);
    return "ok " + std::to_string(ref);
  }
  if (cmd == "regionopen") {
    unsigned long long ref = 0;
    in >> ref;
    shmpool_region* r = nullptr;
    if (const int rc = shmpool_region_open(client, ref, &r); rc != 0) return Err(rc);
    shmpool_region_close(r);
    return "ok";
  }
  if (cmd == "forkattach") {
    std::string endpoint, arena;
    in >> endpoint >> arena;
    return InForkedChild([&] { return ChildAttaches(endpoint, arena); });
  }
  if (cmd == "forkuse") return InForkedChild(ChildUsesParentHandle);
  if (cmd == "exitfreeing") {
    for (shmpool_ref r; in >> r;) free_at_exit.push_back(r);
    std::exit(0);
  }
  if (cmd == "pool_open") {
    std::string name;
    in >> name;
    const int rc = shmpool_pool_open(client, name.c_str(), &pool);
    return rc == 0 ? "ok " + std::to_string(shmpool_pool_object_size(pool)) : Err(rc);
  }
  if (pool == nullptr && cmd.rfind("pool_", 0) == 0) return "err -1 no pool open";
  if (cmd == "pool_get") {
    size_t n = 0;
    in >> n;
    std::string out = "ok";
    for (size_t i = 0; i < n; ++i) {
      void* p = shmpool_pool_get(pool);
      if (p == nullptr) return "err -5 pool empty after " + std::to_string(i);
      const shmpool_ref ref = shmpool_ref_of(client, p);
      std::memcpy(p, &ref, sizeof(ref));
      out += ' ';
      out += std::to_string(ref);
    }
    return out;
  }
  if (cmd == "pool_put") {
    for (shmpool_ref ref; in >> ref;) {
      void* p = shmpool_ptr_of(client, ref);
      shmpool_ref stamp = 0;
      if (p != nullptr) std::memcpy(&stamp, p, sizeof(stamp));
      if (stamp != ref) return "err -1 stamp mismatch at " + std::to_string(ref);
      if (const int rc = shmpool_pool_put(pool, p); rc != 0) return Err(rc);
    }
    return "ok";
  }
  if (cmd == "pool_close") {
    shmpool_pool_close(pool);
    pool = nullptr;
    return "ok";
  }
  if (cmd == "detach") {
    if (pool != nullptr) shmpool_pool_close(pool);
    pool = nullptr;
    held.clear();
    shmpool_detach(client);
    client = nullptr;
    return "ok";
  }
  return "err -1 unknown command " + cmd;
}

}  // namespace

int main() {
  std::atexit(FreeAtExit);
  return shmpool::testing::ServeLines(Run);
}
