#include "server/core/safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"

namespace shmpool::server {
namespace {

constexpr size_t kMaxReadBytes = 64 << 10;

absl::Status ErrnoError(absl::string_view what, const std::string& path, int e) {
  const std::string reason = e == ELOOP ? "is a symbolic link" : std::strerror(e);
  return absl::FailedPreconditionError(absl::StrFormat("%s %s: %s", what, path, reason));
}

bool WriteAll(int fd, absl::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

absl::StatusOr<int> OpenNoFollow(const std::string& path, int flags, mode_t mode) {
  const int fd = open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  return fd;
}

absl::Status ReplaceFile(const std::string& path, absl::string_view text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  unlink(tmp.c_str());  // left by a daemon that died writing it; the directory is ours
  absl::StatusOr<int> fd = OpenNoFollow(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (!fd.ok()) return fd.status();
  const bool ok = fchmod(*fd, mode) == 0 && WriteAll(*fd, text) && fsync(*fd) == 0;
  const int e = errno;
  close(*fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    const int e2 = ok ? errno : e;
    unlink(tmp.c_str());
    return ErrnoError("cannot write", path, e2);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadOwnedFile(const std::string& path, uid_t uid) {
  absl::StatusOr<int> fd = OpenNoFollow(path, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  std::string reason;
  if (fstat(*fd, &st) != 0)
    reason = std::strerror(errno);
  else if (!S_ISREG(st.st_mode))
    reason = "not a regular file";
  else if (st.st_uid != uid)
    reason = absl::StrFormat("owned by uid %d, not the daemon's uid %d", st.st_uid, uid);
  else if ((st.st_mode & 022) != 0)
    reason = absl::StrFormat("writable by group or others (mode %04o)", st.st_mode & 07777);
  else if (static_cast<uint64_t>(st.st_size) > kMaxReadBytes)
    reason = absl::StrFormat("%d bytes, more than a sidecar holds", st.st_size);
  std::string text(reason.empty() ? static_cast<size_t>(st.st_size) : 0, '\0');
  if (reason.empty() && pread(*fd, text.data(), text.size(), 0) != st.st_size)
    reason = "short read";
  close(*fd);
  if (!reason.empty())
    return absl::FailedPreconditionError(absl::StrFormat("%s: %s", path, reason));
  return text;
}

absl::Status CheckPrivateDir(const std::string& dir, uid_t uid, absl::string_view what) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) return ErrnoError(what, dir, errno);
  std::string problem;
  if (S_ISLNK(st.st_mode))
    problem = "is a symbolic link";
  else if (!S_ISDIR(st.st_mode))
    problem = "is not a directory";
  else if (st.st_uid != uid)
    problem = absl::StrFormat("is owned by uid %d, not the daemon's uid %d", st.st_uid, uid);
  else if ((st.st_mode & 022) != 0)
    problem = absl::StrFormat("is writable by group or others (mode %o)", st.st_mode & 07777);
  if (problem.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s %s %s: other uids could plant or replace files in it; use a directory of the "
      "daemon's own, not writable by group or others (the default is /dev/shm/shmpool)",
      what, dir, problem));
}

absl::Status PreparePrivateDir(const std::string& dir, mode_t mode, uid_t uid,
                               absl::string_view what) {
  if (mkdir(dir.c_str(), mode) == 0) {
    if (absl::StatusOr<int> fd = OpenNoFollow(dir, O_RDONLY | O_DIRECTORY); fd.ok()) {
      const bool ok = fchmod(*fd, mode) == 0;
      close(*fd);
      if (!ok) return ErrnoError("cannot set the mode of", dir, errno);
    }
  } else if (errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrFormat("cannot create %s %s: %s", what, dir, std::strerror(errno)));
  }
  return CheckPrivateDir(dir, uid, what);
}

}  // namespace shmpool::server
