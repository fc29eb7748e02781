// SpawnLogged: posix_spawn (fork+exec, safe from a process that runs threads) of `argv`,
// its stderr appended to `log_path` (inherited when empty) and, when `stdout_fd` >= 0, its stdout
// that fd; the environment inherited. Returns the pid, or -1 when the spawn failed.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

extern char** environ;

namespace shmpool::testing {

inline pid_t SpawnLogged(const std::vector<std::string>& argv, const std::string& log_path,
                         int stdout_fd = -1) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
  if (!log_path.empty())
    posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

}  // namespace shmpool::testing
