// shmpool_test_worker: a client process the integration tests drive over a pipe, one
// command per line on stdin, one reply per line on stdout ("ok ..." or "err CODE MESSAGE"):
//
//   attach ENDPOINT ARENA   shmpool_attach through the daemon; replies "ok PID"
//   alloc SIZE N            N blocks of SIZE bytes, each filled; replies "ok REF..."
//   free REF...             frees blocks (any process's); "ok"
//   purge                   shmpool_purge; "ok BYTES"
//   hammer MILLIS           allocates and frees flat out for MILLIS ms; "ok OPS"
//   detach                  shmpool_detach; "ok"
//
// EOF or "exit" ends the process (without detaching if still attached: like a crash of
// the application, minus the kill).
#include <shmpool/shmpool.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

shmpool_client* client = nullptr;

std::string Err(int rc) {
  return "err " + std::to_string(rc) + " " + shmpool_strerror(rc) + ": " + shmpool_last_error();
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
  if (client == nullptr) return "err -1 not attached";
  if (cmd == "alloc") {
    size_t size = 0, n = 0;
    in >> size >> n;
    std::string out = "ok";
    for (size_t i = 0; i < n; ++i) {
      void* p = shmpool_malloc(client, size);
      if (p == nullptr) return "err -5 exhausted after " + std::to_string(i);
      std::memset(p, 0x5a, size);
      out += " " + std::to_string(shmpool_ref_of(client, p));
    }
    return out;
  }
  if (cmd == "free") {
    unsigned long long ref;
    while (in >> ref) shmpool_free(client, shmpool_ptr_of(client, ref));
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
  if (cmd == "detach") {
    shmpool_detach(client);
    client = nullptr;
    return "ok";
  }
  return "err -1 unknown command " + cmd;
}

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "exit") break;
    std::cout << Run(line) << std::endl;
  }
  return 0;
}
