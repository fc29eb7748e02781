// Frees at exit, the way C and C++ programs do: static objects whose destructors free (a map
// of strings, a vector), an atexit handler registered before them and one after that free
// malloc blocks, a thread_local object of the main thread, and a detached-style worker's
// thread_local freed at its exit. The last atexit handler prints "exited" through stdout's
// buffer, so output lost at exit fails the test too.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "pause.h"

namespace {

void* early_block = nullptr;
void* late_block = nullptr;

void FreeEarly() {
  std::free(early_block);
  void* again = std::malloc(100);  // allocating at exit works too
  std::free(again);
  std::printf("exited\n");  // runs last: registered first
}

void FreeLate() { std::free(late_block); }

struct Holder {
  std::map<std::string, std::vector<std::string>> table;
  ~Holder() {
    for (auto& [k, v] : table) v.clear();
  }
};

Holder& StaticHolder() {
  static Holder h;
  return h;
}

thread_local std::vector<std::string> per_thread(100, std::string(64, 't'));

}  // namespace

int main() {
  early_block = std::malloc(1000);
  std::atexit(FreeEarly);
  for (int i = 0; i < 2000; ++i)
    StaticHolder().table["key" + std::to_string(i)].assign(5, std::string(40, 'v'));
  late_block = std::malloc(70000);
  std::atexit(FreeLate);
  std::thread([] { per_thread.emplace_back(500, 'w'); }).join();
  per_thread.emplace_back(600, 'm');
  PauseForStats();
  return 0;
}
