// The line protocol of the test workers that integration tests drive: one command per line
// on stdin, one answer per line on stdout (flushed, so the test can read it at once), until
// "exit" or the end of stdin.
#pragma once

#include <iostream>
#include <string>

namespace shmpool::testing {

template <typename Run>
int ServeLines(Run run) {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "exit") break;
    std::cout << run(line) << std::endl;
  }
  return 0;
}

}  // namespace shmpool::testing
