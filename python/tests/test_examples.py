"""python/examples/numpy_handoff.py, quickly, against the test daemon: every transport hands
its arrays over with the right sums, and the shmpool transport leaves nothing allocated (each
block given away was freed once, by the consumer that opened it)."""

import os
import subprocess
import sys

from shmpool import control

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                       "numpy_handoff.py")


def test_numpy_handoff(daemon, arena):
    done = subprocess.run([
        sys.executable, EXAMPLE, "--arena", arena, "--endpoint", daemon.endpoint, "--sizes",
        "4096,1048576", "--count", "3"
    ], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        [name, size] for name in ("shmpool", "shared_memory", "pickle")
        for size in ("4096", "1048576")
    ]
    assert all("3 arrays, sums ok" in line for line in lines)
    with control.connect(daemon.endpoint) as ctl:
        stats = ctl.stats(arena)
    assert stats["nmalloc"] == 6 and stats["large_nmalloc"] == 3  # 3 of 4 KiB, 3 of 1 MiB
    assert stats["allocated_bytes"] == 0 and stats["large_allocated_bytes"] == 0
