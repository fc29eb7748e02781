"""Fixtures of the Python package's tests: a private shmpoold (its own socket and shm
directory, no decay purges: only the tests purge), shmpoolctl against it, and
shmpool_test_worker processes attached through it.

The binaries come from $SHMPOOLD, $SHMPOOLCTL and $SHMPOOL_TEST_WORKER (ctest sets them; see
python/CMakeLists.txt). The daemon is ready when it says so on $NOTIFY_SOCKET (sd_notify's
READY=1, sent once every socket listens and every arena exists).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile

import pytest


def binary(variable):
    path = os.environ.get(variable)
    if not path:
        raise RuntimeError(f"${variable} must name the built binary (ctest sets it)")
    return path


class Daemon:
    """A shmpoold serving `endpoint` with its segments in `shm_dir`."""

    READY_TIMEOUT = 30  # seconds: a debug build on a loaded machine

    def __init__(self, tmp):
        self.endpoint = f"unix:{tmp}/d.sock"
        self.shm_dir = tempfile.mkdtemp(prefix="shmpool-pytest.", dir="/dev/shm")
        self.log = open(tmp / "shmpoold.log", "w+")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmp / "notify.sock"))
        notify.settimeout(self.READY_TIMEOUT)
        env = dict(os.environ, NOTIFY_SOCKET=str(tmp / "notify.sock"))
        self.process = subprocess.Popen(
            [binary("SHMPOOLD"), "--listen", self.endpoint, "--shm-dir", self.shm_dir,
             "--decay-ms", "-1"],
            stderr=self.log, env=env)
        try:
            while b"READY=1" not in notify.recv(4096).split(b"\n"):
                pass
        except socket.timeout:
            self.stop()
            raise RuntimeError(f"shmpoold not ready in {self.READY_TIMEOUT} s: {self.log_text()}")
        finally:
            notify.close()

    def log_text(self):
        self.log.seek(0)
        return self.log.read()

    def ctl(self, *args):
        """shmpoolctl ARGS against this daemon; raises with its stderr unless it exits 0."""
        done = subprocess.run([binary("SHMPOOLCTL"), "--endpoint", self.endpoint, *args],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"shmpoolctl {' '.join(args)}: exit {done.returncode}: "
                               f"{done.stderr}")
        return done.stdout

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "--json"))

    def stop(self):
        self.process.terminate()
        self.process.wait()
        self.log.close()
        shutil.rmtree(self.shm_dir)


class Worker:
    """A shmpool_test_worker process: one command line in, one reply line out."""

    def __init__(self):
        self.process = subprocess.Popen([binary("SHMPOOL_TEST_WORKER")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def run(self, line):
        """The reply's words after "ok"; raises on "err ..."."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline().split()
        if not reply or reply[0] != "ok":
            raise RuntimeError(f"worker: {line}: {' '.join(reply) or 'no reply'}")
        return reply[1:]

    def stop(self):
        self.process.stdin.close()
        self.process.wait()


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    d.stop()


@pytest.fixture
def worker():
    w = Worker()
    yield w
    w.stop()
