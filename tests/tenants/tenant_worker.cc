// shmpool_tenant_worker: a client process the tenant tests drive over a pipe (often under
// another uid with setpriv), one command per line, one reply per line ("ok ..." or
// "err CODE MESSAGE"):
//
//   attach ENDPOINT ARENA   shmpool_attach ("-": the default endpoint); "ok PID"
//   alloc SIZE N            N blocks, kept; "ok N", or "err -5 exhausted after I"
//   freeall                 frees every kept block; "ok"
//   open PATH               open(PATH, O_RDWR) directly, bypassing the daemon; "ok" or
//                           "err ERRNO"
//   pool_open NAME          shmpool_pool_open; "ok OBJECT_SIZE"
//   pool_get N              N objects, each stamped with its ref; "ok REF..."
//   pool_put REF...         checks each stamp, puts it; "ok" or "err"
//   pool_close              "ok"
//   detach                  "ok"
#include <fcntl.h>
#include <shmpool/shmpool.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/line_commands.h"

namespace {

shmpool_client* client = nullptr;
shmpool_pool* pool = nullptr;
std::vector<void*> blocks;

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
    if (endpoint == "-") endpoint.clear();  // the default endpoint
    const int rc = shmpool_attach(endpoint.c_str(), arena.c_str(), &client);
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
    for (size_t i = 0; i < n; ++i) {
      void* p = shmpool_malloc(client, size);
      if (p == nullptr) return "err -5 exhausted after " + std::to_string(i);
      std::memset(p, 0x5a, size);
      blocks.push_back(p);
    }
    return "ok " + std::to_string(n);
  }
  if (cmd == "freeall") {
    for (void* p : blocks) shmpool_free(client, p);
    blocks.clear();
    return "ok";
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
      out += ' ';  // not " " + to_string: GCC 12's -Wrestrict misfires on it at -O2
      out += std::to_string(ref);
    }
    return out;
  }
  if (cmd == "pool_put") {
    unsigned long long ref;
    while (in >> ref) {
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
    if (pool) shmpool_pool_close(pool);
    pool = nullptr;
    for (void* p : blocks) shmpool_free(client, p);
    blocks.clear();
    shmpool_detach(client);
    client = nullptr;
    return "ok";
  }
  return "err -1 unknown command " + cmd;
}

}  // namespace

int main() { return shmpool::testing::ServeLines(Run); }
