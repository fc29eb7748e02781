#include "ctl/keyboard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/numbers.h"

namespace shmpool::ctl {
namespace {

constexpr size_t kDefaultWidth = 80;
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// The settings a KeyboardMode restores, for its signal handler.
int saved_fd = -1;
struct termios saved_termios;
struct sigaction saved_actions[std::size(kSignals)];

// Restores the terminal, then lets the signal take its default action (SA_RESETHAND reset
// the disposition before this ran).
void RestoreAndRaise(int sig) {
  const int saved_errno = errno;
  tcsetattr(saved_fd, TCSANOW, &saved_termios);
  raise(sig);
  errno = saved_errno;
}

// Reading `fd` does not stop this process: it is not our controlling terminal, or we are in
// its foreground process group.
bool ReadableWithoutStopping(int fd) {
  const pid_t foreground = tcgetpgrp(fd);
  return foreground < 0 || foreground == getpgrp();
}

}  // namespace

size_t TerminalWidth(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  size_t columns = 0;
  if (const char* env = std::getenv("COLUMNS"); env && absl::SimpleAtoi(env, &columns) && columns)
    return columns;
  return kDefaultWidth;
}

KeyboardMode::KeyboardMode(int fd) {
  struct termios t;
  if (!isatty(fd) || !ReadableWithoutStopping(fd) || tcgetattr(fd, &t) != 0) return;
  saved_fd = fd;
  saved_termios = t;
  struct sigaction sa {};
  sa.sa_handler = RestoreAndRaise;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &sa, &saved_actions[i]);
  t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  active_ = tcsetattr(fd, TCSANOW, &t) == 0;
  if (!active_)
    for (size_t i = 0; i < std::size(kSignals); ++i)
      sigaction(kSignals[i], &saved_actions[i], nullptr);
}

KeyboardMode::~KeyboardMode() {
  if (!active_) return;
  tcsetattr(saved_fd, TCSANOW, &saved_termios);
  for (size_t i = 0; i < std::size(kSignals); ++i)
    sigaction(kSignals[i], &saved_actions[i], nullptr);
}

KeyWatcher::KeyWatcher(int fd, std::function<void()> on_quit)
    : fd_(fd), on_quit_(std::move(on_quit)) {
  if (pipe2(wake_, O_CLOEXEC) != 0) return;
  thread_ = std::thread([this] { Watch(); });
}

KeyWatcher::~KeyWatcher() {
  if (thread_.joinable()) {
    const char wake = 0;
    while (write(wake_[1], &wake, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  for (int fd : wake_)
    if (fd >= 0) close(fd);
}

void KeyWatcher::Watch() {
  struct pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    char key = 0;
    const ssize_t n = read(fd_, &key, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // end of file or an error: no more keys
    if (key == 'q' || key == 'Q') {
      quit_.store(true, std::memory_order_release);
      on_quit_();
      return;
    }
  }
}

}  // namespace shmpool::ctl
