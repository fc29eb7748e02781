// The terminal of an interactive command (top): its width, and keys read one at a time.
//  - TerminalWidth: the columns of the terminal on `fd` (TIOCGWINSZ), else $COLUMNS, else 80.
//  - KeyboardMode: while alive, the terminal on `fd` delivers each key as it is typed, without
//    echo (ICANON and ECHO off; ISIG kept, so Ctrl-C still interrupts). It restores the saved
//    settings when destroyed, and on SIGINT, SIGTERM, SIGHUP and SIGQUIT before the signal
//    takes its default action. One KeyboardMode at a time (the signal handler's state is
//    global); a no-op unless `fd` is a terminal that reading does not stop this process on
//    (not a background process group's controlling terminal).
//  - KeyWatcher: a thread that reads keys from `fd` (none when -1) and calls on_quit once for
//    'q' or 'Q'. At end of file or an error it stops reading (a closed stdin does not quit).
//    The destructor wakes and joins the thread: on_quit is not called after it.
#pragma once

#include <termios.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>

namespace shmpool::ctl {

size_t TerminalWidth(int fd);

class KeyboardMode {
 public:
  explicit KeyboardMode(int fd);
  ~KeyboardMode();
  KeyboardMode(const KeyboardMode&) = delete;
  KeyboardMode& operator=(const KeyboardMode&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;  // the terminal's settings were changed and are restored at the end
};

class KeyWatcher {
 public:
  KeyWatcher(int fd, std::function<void()> on_quit);
  ~KeyWatcher();
  KeyWatcher(const KeyWatcher&) = delete;
  KeyWatcher& operator=(const KeyWatcher&) = delete;

  bool quit() const { return quit_.load(std::memory_order_acquire); }

 private:
  void Watch();

  const int fd_;
  const std::function<void()> on_quit_;
  int wake_[2] = {-1, -1};  // a pipe: the destructor writes to wake_[1]
  std::atomic<bool> quit_{false};
  std::thread thread_;  // last: starts once the fields above are set
};

}  // namespace shmpool::ctl
