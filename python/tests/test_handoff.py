"""Hand-off between processes through refs, with multiprocessing (spawn, forkserver and
fork): the receiver opens each ref, sees the sender's bytes and frees the block, and the
arena's allocated bytes return to zero. A process forked from one that attached is refused
(its parent's client, and an attach of its own, which gRPC cannot serve after a fork),
never left waiting, and frees nothing of its parent's. The children are daemonic, so a
test that fails does not wait for them at exit."""

import multiprocessing
import os
import subprocess
import sys

import pytest

import handoff_peer
import shmpool


def allocated(daemon, arena):
    return int(daemon.stats(arena)["allocated_bytes"])


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_handoff_to_another_process(daemon, arena, method):
    ctx = multiprocessing.get_context(method)
    jobs, results = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=handoff_peer.receive, args=(arena, daemon.endpoint, jobs, results),
                    daemon=True)
    p.start()
    with shmpool.attach(arena, daemon.endpoint) as c:
        refs, crcs = handoff_peer.send(c)
        assert allocated(daemon, arena) >= handoff_peer.BLOCKS * handoff_peer.N
        jobs.put((refs, crcs))
        handoff_peer.collect(results, refs)
        p.join(60)
        assert p.exitcode == 0
        assert allocated(daemon, arena) == 0


def test_handoff_to_a_forked_process(daemon, arena):
    script = os.path.join(os.path.dirname(__file__), "fork_handoff.py")
    r = subprocess.run([sys.executable, script, daemon.endpoint, arena],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "4 blocks handed" in r.stdout
    assert allocated(daemon, arena) == 0


def use_parents_client(arena, endpoint, c, buf, results):
    for call in (lambda: c.alloc(64), buf.free, c.purge, lambda: shmpool.attach(arena, endpoint)):
        try:
            call()
            results.put("used")
        except shmpool.Error as e:
            results.put((type(e).__name__, str(e)))
    del buf  # collected in the child: frees nothing of the parent's


def test_forked_child_is_refused(daemon, arena):
    ctx = multiprocessing.get_context("fork")
    with shmpool.attach(arena, daemon.endpoint) as c:
        buf = c.alloc(1000)
        results = ctx.Queue()
        p = ctx.Process(target=use_parents_client,
                        args=(arena, daemon.endpoint, c, buf, results), daemon=True)
        p.start()
        got = [results.get(timeout=60) for _ in range(4)]
        p.join(60)
        assert p.exitcode == 0
        assert [g[0] for g in got] == ["InvalidArgument"] * 3 + ["Unavailable"], got
        assert all("forked from" in g[1] and "forkserver" in g[1] for g in got), got
        assert buf.owned
        buf.free()
        assert allocated(daemon, arena) == 0
