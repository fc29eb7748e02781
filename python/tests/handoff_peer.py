"""The two ends of a hand-off, shared by test_handoff.py and fork_handoff.py: send() fills
blocks with seeded random bytes and gives their refs; receive() (in another process)
opens each ref, checks its bytes against the sender's CRC and frees it."""

import zlib

import numpy

import shmpool

N = 1 << 20
BLOCKS = 4


def send(client):
    """Allocates BLOCKS blocks of N bytes, fills them, gives them: (refs, CRCs)."""
    refs, crcs = [], []
    for i in range(BLOCKS):
        buf = client.alloc(N)
        a = numpy.frombuffer(buf, dtype=numpy.uint8)
        a[:] = numpy.random.default_rng(i).integers(0, 256, N, dtype=numpy.uint8)
        crcs.append(zlib.crc32(a))
        refs.append(buf.give())
        del a, buf  # given: collecting it frees nothing
    return refs, crcs


def receive(arena, endpoint, jobs, results):
    """The receiving process: attaches, takes (refs, CRCs) from `jobs`, puts (ref, whether
    the bytes match) on `results` per block after freeing it, then "done"."""
    with shmpool.attach(arena, endpoint) as c:
        refs, crcs = jobs.get(timeout=60)
        for ref, crc in zip(refs, crcs):
            buf = c.open(ref)
            a = numpy.frombuffer(buf, dtype=numpy.uint8, count=N)
            ok = zlib.crc32(a) == crc
            del a
            buf.free()
            results.put((ref, ok))
    results.put("done")


def collect(results, refs):
    """The receiver's answers, checked: every block matched, in order, then "done"."""
    got = [results.get(timeout=60) for _ in range(len(refs) + 1)]
    assert got == [(r, True) for r in refs] + ["done"], got
