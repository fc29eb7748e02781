// A program that forks: the parent fills a block, the child overwrites it (fork promises the
// parent never sees that), frees it, grows another inherited block with realloc, allocates and
// frees heavily (strings, vectors, maps), forks a grandchild that allocates too, and exits 0 when
// its data checked out. The parent then checks its block is untouched, allocates again and pauses
// (pause.h).
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "pause.h"

namespace {

constexpr size_t kBytes = 1 << 16;

bool Churn() {
  std::map<int, std::string> m;
  for (int i = 0; i < 20000; ++i) m[i] = std::string(static_cast<size_t>(i % 200), 'a' + i % 26);
  std::vector<std::vector<int>> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i].assign(i, static_cast<int>(i));
  for (int i = 0; i < 20000; ++i)
    if (m[i].size() != static_cast<size_t>(i % 200)) return false;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].size() != i || (i > 0 && v[i][i - 1] != static_cast<int>(i))) return false;
  return true;
}

int WaitFor(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main() {
  auto* block = static_cast<unsigned char*>(std::malloc(kBytes));
  std::memset(block, 0xA5, kBytes);
  std::string kept(5000, 'k');
  auto* grown = static_cast<char*>(std::malloc(100));
  std::memset(grown, 'g', 100);
  const pid_t child = fork();
  if (child == 0) {
    std::memset(block, 0x5A, kBytes);  // the child's copy only
    std::free(block);
    grown = static_cast<char*>(std::realloc(grown, 50000));  // moves out of the inherited arena
    if (grown == nullptr || std::memcmp(grown, std::string(100, 'g').data(), 100) != 0 ||
        malloc_usable_size(grown) < 50000)
      std::exit(4);
    std::free(grown);
    kept.assign(9000, 'c');
    bool ok = Churn();
    const pid_t grandchild = fork();
    if (grandchild == 0) _exit(Churn() ? 0 : 3);
    ok = ok && WaitFor(grandchild) == 0;
    std::exit(ok ? 0 : 2);
  }
  const int rc = WaitFor(child);
  for (size_t i = 0; i < kBytes; ++i)
    if (block[i] != 0xA5) {
      std::fprintf(stderr, "the parent's block changed at %zu after the child wrote its copy\n", i);
      return 1;
    }
  if (rc != 0 || kept != std::string(5000, 'k')) {
    std::fprintf(stderr, "child exited %d\n", rc);
    return 1;
  }
  if (!Churn()) return 1;
  PauseForStats();  // `block` is live
  std::free(block);
  std::free(grown);
  std::printf("ok\n");
  return 0;
}
