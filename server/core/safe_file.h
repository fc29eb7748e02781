// Files and directories the daemon writes, made so that another uid cannot redirect them:
// every file is opened with O_NOFOLLOW (a symlink at its name fails, it is never followed),
// new files with O_CREAT|O_EXCL, owner and mode set on the descriptor (fchown/fchmod), and a
// small file replaced atomically (a temporary file of the same directory, fsync, rename).
// A directory the daemon keeps files in must be its own and not writable by group or
// others, so that no other uid can plant, rename or remove a name in it.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmpool::server {

// open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode); the error names the path (ELOOP: "is a
// symbolic link").
absl::StatusOr<int> OpenNoFollow(const std::string& path, int flags, mode_t mode = 0);

// Replaces `path` with a regular file holding `text`, of `mode`, owned by the daemon:
// written to <path>.tmp (created O_EXCL; a stale one is removed first), fsynced, renamed
// over `path` (a symlink at `path` is replaced, not followed).
absl::Status ReplaceFile(const std::string& path, absl::string_view text, mode_t mode);

// The text of a regular file of at most 64 KiB owned by `uid` and not writable by group
// or others; FAILED_PRECONDITION naming it and the reason otherwise.
absl::StatusOr<std::string> ReadOwnedFile(const std::string& path, uid_t uid);

// OK when `dir` is a directory (not a symlink) owned by `uid` and not writable by group or
// others; FAILED_PRECONDITION saying "<what> <dir> is ..." otherwise.
absl::Status CheckPrivateDir(const std::string& dir, uid_t uid, absl::string_view what);

// Creates `dir` with `mode` (fchmod'ed, past the umask) when it does not exist, then
// CheckPrivateDir.
absl::Status PreparePrivateDir(const std::string& dir, mode_t mode, uid_t uid,
                               absl::string_view what);

}  // namespace shmpool::server
