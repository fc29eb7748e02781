#include "proto/api/endpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shmpool::api {
namespace {

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// True when a daemon could put its socket at `path`: the directory is writable, or does
// not exist yet and its parent is writable.
bool Usable(const std::string& path) {
  const std::string dir = Dirname(path);
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) return S_ISDIR(st.st_mode) && access(dir.c_str(), W_OK) == 0;
  const std::string parent = Dirname(dir);
  return access(parent.c_str(), W_OK) == 0;
}

// Why `uid` must not use the default socket at `path` (lstat: no symlink is followed),
// or "" when it may.
std::string Distrust(const std::string& path, uid_t uid) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (S_ISLNK(st.st_mode)) return "it is a symbolic link";
  if (st.st_uid != uid && st.st_uid != 0) return absl::StrCat("owned by uid ", st.st_uid);
  const std::string dir = Dirname(path);
  if (lstat(dir.c_str(), &st) != 0) return absl::StrCat(dir, ": ", std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return absl::StrCat("its directory ", dir, " is a symbolic link");
  if (st.st_uid != uid && st.st_uid != 0)
    return absl::StrCat("its directory ", dir, " is owned by uid ", st.st_uid);
  if ((st.st_mode & 022) != 0)
    return absl::StrCat("its directory ", dir, " is writable by group or others");
  return "";
}

}  // namespace

std::string Endpoint::Target() const {
  return kind == kUnix ? absl::StrCat("unix:", address) : address;
}

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text) {
  Endpoint e;
  if (absl::StartsWith(text, "unix://")) {
    e.address = std::string(text.substr(7));
  } else if (absl::StartsWith(text, "unix:")) {
    e.address = std::string(text.substr(5));
  } else if (absl::StartsWith(text, "/")) {
    e.address = std::string(text);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos || colon == 0 || colon + 1 == text.size())
      return absl::InvalidArgumentError(
          absl::StrCat("bad endpoint \"", text, "\": expected unix:PATH or HOST:PORT"));
    e.kind = Endpoint::kTcp;
    e.address = std::string(text);
    return e;
  }
  if (e.address.empty() || e.address[0] != '/')
    return absl::InvalidArgumentError(
        absl::StrCat("bad endpoint \"", text, "\": a unix socket path must be absolute"));
  return e;
}

std::vector<std::string> SocketCandidates() {
  std::vector<std::string> c = {"/run/shmpool/shmpoold.sock"};
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && xdg[0] == '/')
    c.push_back(absl::StrCat(xdg, "/shmpool/shmpoold.sock"));
  c.push_back(absl::StrCat(UserSocketDir(), "/shmpoold.sock"));
  return c;
}

std::string UserSocketDir() { return absl::StrCat("/tmp/shmpool-", getuid()); }

std::string DaemonSocketPath() {
  const std::vector<std::string> c = SocketCandidates();
  for (const std::string& path : c)
    if (Usable(path)) return path;
  return c.back();
}

absl::StatusOr<std::string> ClientEndpoint(absl::string_view requested) {
  if (!requested.empty()) return std::string(requested);
  if (const char* env = std::getenv("SHMPOOL_ENDPOINT"); env != nullptr && env[0] != '\0')
    return std::string(env);
  std::string refused;
  for (const std::string& path : SocketCandidates()) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !(S_ISSOCK(st.st_mode) || S_ISLNK(st.st_mode)))
      continue;  // no socket there
    const std::string why = Distrust(path, geteuid());
    if (why.empty()) return absl::StrCat("unix:", path);
    if (refused.empty()) refused = absl::StrCat("refusing ", path, ": ", why);
  }
  if (!refused.empty())
    return absl::FailedPreconditionError(absl::StrCat(
        refused,
        " (a default socket is used only when it and its directory are the caller's or "
        "root's and others cannot write the directory; set SHMPOOL_ENDPOINT to choose a daemon)"));
  return absl::StrCat("unix:", DaemonSocketPath());
}

}  // namespace shmpool::api
