// The probes' hand-shake with preload_test.sh: "ready" on stdout, then a line from stdin,
// so the script reads the arena's stats while the probe still holds its blocks.
#pragma once

#include <cstdio>

inline void PauseForStats() {
  std::printf("ready\n");
  std::fflush(stdout);
  char line[16];
  if (std::fgets(line, sizeof(line), stdin) == nullptr) std::fprintf(stderr, "no go line\n");
}
