"""Fixtures of the shmpool package's tests: a real shmpoold on a private socket and shm
directory for the whole session, and a fresh arena per test.

The paths come from the environment (python/CMakeLists.txt sets them for ctest):
SHMPOOLD and SHMPOOLCTL (the binaries), SHMPOOL_LIBRARY (libshmpool.so.1, read by the
package itself).
"""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def free_port():
    """A TCP port of 127.0.0.1 free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A shmpoold of this test session, on a Unix socket (endpoint) and a plain TCP listener
    (tcp: its peers are unauthenticated); ctl() runs shmpoolctl against it."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="shmpool-pytest.")
        self.shm = tempfile.mkdtemp(prefix="shmpool-pytest.", dir="/dev/shm")
        self.endpoint = "unix:" + os.path.join(self.work, "d.sock")
        self.tcp = f"127.0.0.1:{free_port()}"
        self.log = open(os.path.join(self.work, "daemon.log"), "w")
        self.proc = subprocess.Popen([
            os.environ["SHMPOOLD"], "--listen", f"{self.endpoint},{self.tcp}", "--shm-dir",
            self.shm
        ], stderr=self.log)
        for _ in range(300):
            if self.ctl("arena", "list", check=False).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("shmpoold does not answer")

    def ctl(self, *args, check=True):
        r = subprocess.run([os.environ["SHMPOOLCTL"], "--endpoint", self.endpoint, *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"shmpoolctl {' '.join(args)}: {r.stderr}")
        return r

    def stats(self, arena):
        d = json.loads(self.ctl("stats", arena, "--json").stdout)
        return d["arenas"][0] if "arenas" in d else d

    def pause(self):
        """SIGSTOP, returning once every thread of the daemon is stopped (the signal's
        delivery is asynchronous: until then the daemon may still answer)."""
        self.proc.send_signal(signal.SIGSTOP)
        tasks = f"/proc/{self.proc.pid}/task"
        while True:
            states = []
            for t in os.listdir(tasks):
                try:
                    with open(f"{tasks}/{t}/stat") as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except FileNotFoundError:
                    pass  # a thread that ended meanwhile
            if states and all(s == "T" for s in states):
                return
            time.sleep(0.001)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)


@pytest.fixture(scope="session")
def daemon():
    d = Daemon()
    yield d
    d.stop()


_arena_ids = itertools.count()


@pytest.fixture
def arena(daemon):
    """The name of a new 64 MiB arena of the daemon, for this test alone."""
    name = f"t{os.getpid()}x{next(_arena_ids)}"
    daemon.ctl("arena", "create", name, "--capacity", "64MiB")
    return name
