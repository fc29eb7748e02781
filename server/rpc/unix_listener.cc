#include "server/rpc/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "proto/api/endpoint.h"
#include "server/core/log.h"
#include "server/core/safe_file.h"

namespace shmpool::server {
namespace {

absl::Status ErrnoError(const char* what, const std::string& path) {
  return absl::UnavailableError(absl::StrFormat("%s %s: %s", what, path, std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Bind(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return absl::InvalidArgumentError(absl::StrFormat("socket path %s is %d bytes; the limit is %d",
                                                      path, path.size(),
                                                      sizeof(addr.sun_path) - 1));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const std::string dir = path.substr(0, path.rfind('/'));
  // The per-user directory is its user's alone: made 0700, refused if another uid owns it
  // or others can write it (clients refuse it then too: proto/api/endpoint.h).
  if (dir == api::UserSocketDir()) {
    if (absl::Status st = PreparePrivateDir(dir, 0700, geteuid(), "socket directory"); !st.ok())
      return st;
  } else if (!dir.empty() && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create socket directory", dir);
  }

  absl::StatusOr<std::unique_ptr<LockFile>> lock =
      LockFile::Acquire(path + ".lock", "socket " + path);
  if (!lock.ok()) return lock.status();
  // We hold the lock, so a socket file left here belongs to a daemon that died.
  if (unlink(path.c_str()) == 0) LogInfo("stale_socket_removed").Kv("path", path);

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("cannot create socket for", path);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 512) != 0 ||
      chmod(path.c_str(), 0666) != 0) {
    absl::Status st = ErrnoError("cannot listen on", path);
    close(fd);
    return st;
  }
  const int wake = eventfd(0, EFD_CLOEXEC);
  if (wake < 0) {
    close(fd);
    return ErrnoError("cannot create eventfd for", path);
  }
  return std::unique_ptr<UnixListener>(new UnixListener(path, fd, wake, std::move(*lock)));
}

UnixListener::UnixListener(std::string path, int fd, int wake_fd, std::unique_ptr<LockFile> lock)
    : path_(std::move(path)), fd_(fd), wake_fd_(wake_fd), lock_(std::move(lock)) {}

UnixListener::~UnixListener() {
  Stop();
  close(fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void UnixListener::Start(grpc::Server* server, PeerTable* peers) {
  thread_ = std::thread([this, server, peers] { AcceptLoop(server, peers); });
}

void UnixListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
  }
  thread_.join();
}

void UnixListener::AcceptLoop(grpc::Server* server, PeerTable* peers) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("accept_poll_failed").Kv("error", std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    const int conn = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        LogWarning("accept_failed").Kv("error", std::strerror(errno));
      if (errno == EMFILE || errno == ENFILE) usleep(10000);  // let connections close
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      LogWarning("peercred_failed").Kv("error", std::strerror(errno));
      close(conn);
      continue;
    }
    peers->Record(conn, cred.pid, cred.uid, cred.gid);
    grpc::AddInsecureChannelFromFd(server, conn);
  }
}

}  // namespace shmpool::server
