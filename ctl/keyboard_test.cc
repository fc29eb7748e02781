#include "ctl/keyboard.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "gtest/gtest.h"

namespace shmpool::ctl {
namespace {

// A pseudo-terminal: master_ is the side a terminal emulator holds, slave_ the terminal a
// program reads. It is no process's controlling terminal.
class Pty {
 public:
  Pty() {
    master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    EXPECT_GE(master_, 0);
    EXPECT_EQ(grantpt(master_), 0);
    EXPECT_EQ(unlockpt(master_), 0);
    slave_ = open(ptsname(master_), O_RDWR | O_NOCTTY | O_CLOEXEC);
    EXPECT_GE(slave_, 0);
  }
  ~Pty() {
    close(slave_);
    close(master_);
  }
  int master() const { return master_; }
  int slave() const { return slave_; }
  tcflag_t lflag() const {
    struct termios t {};
    EXPECT_EQ(tcgetattr(slave_, &t), 0);
    return t.c_lflag;
  }

 private:
  int master_ = -1, slave_ = -1;
};

constexpr tcflag_t kLineMode = ICANON | ECHO;

TEST(TerminalWidth, TheTerminalsElseColumnsElseEighty) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  unsetenv("COLUMNS");
  EXPECT_EQ(TerminalWidth(p[1]), 80u);
  setenv("COLUMNS", "57", 1);
  EXPECT_EQ(TerminalWidth(p[1]), 57u);
  setenv("COLUMNS", "wide", 1);
  EXPECT_EQ(TerminalWidth(p[1]), 80u);
  setenv("COLUMNS", "0", 1);
  EXPECT_EQ(TerminalWidth(p[1]), 80u);
  Pty pty;
  struct winsize ws {};
  ws.ws_col = 33;
  ws.ws_row = 10;
  ASSERT_EQ(ioctl(pty.slave(), TIOCSWINSZ, &ws), 0);
  setenv("COLUMNS", "57", 1);
  EXPECT_EQ(TerminalWidth(pty.slave()), 33u);
  unsetenv("COLUMNS");
  close(p[0]);
  close(p[1]);
}

TEST(KeyboardMode, KeysWithoutEchoWhileAliveThenRestored) {
  Pty pty;
  ASSERT_EQ(pty.lflag() & kLineMode, kLineMode);
  {
    KeyboardMode mode(pty.slave());
    EXPECT_TRUE(mode.active());
    EXPECT_EQ(pty.lflag() & kLineMode, 0u);
    EXPECT_NE(pty.lflag() & ISIG, 0u);  // Ctrl-C still interrupts
  }
  EXPECT_EQ(pty.lflag() & kLineMode, kLineMode);
}

TEST(KeyboardMode, NothingToDoOnAPipe) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  KeyboardMode mode(p[0]);
  EXPECT_FALSE(mode.active());
  close(p[0]);
  close(p[1]);
}

TEST(KeyboardMode, RestoresTheTerminalWhenASignalEndsTheProcess) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    Pty pty;
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      KeyboardMode mode(pty.slave());
      if (!mode.active()) _exit(3);
      raise(sig);
      _exit(4);  // not reached: the signal's default action ends the process
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig << ": status " << status;
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_EQ(pty.lflag() & kLineMode, kLineMode) << "signal " << sig << " left it in key mode";
  }
}

TEST(KeyWatcher, QuitsOnQ) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::promise<void> quit;
  KeyWatcher keys(p[0], [&quit] { quit.set_value(); });
  ASSERT_EQ(write(p[1], "xQ", 2), 2);
  EXPECT_EQ(quit.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_TRUE(keys.quit());
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace shmpool::ctl
