"""Buffers in one process: alloc, write and read through memoryview and numpy with no copy,
frees (explicit, `with`, garbage collection), the ownership checks, open(ref)."""

import gc

import numpy
import pytest

import shmpool


def allocated(daemon, arena):
    return int(daemon.stats(arena)["allocated_bytes"])


def test_alloc_write_read_memoryview(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        assert (c.arena, c.endpoint, c.generation) == (arena, daemon.endpoint, 0)
        buf = c.alloc(4096)
        assert len(buf) == 4096 and buf.owned and buf.ref > 0
        v = buf.view()
        assert v.format == "B" and not v.readonly and v.nbytes == 4096
        v[:5] = b"hello"
        v[4095] = 0x7F
        # Another Buffer over the same block (borrowed) sees the bytes: same memory.
        other = c.open(buf.ref, own=False, size=4096)
        assert bytes(other.view()[:5]) == b"hello" and other.view()[4095] == 0x7F
        assert bytes(memoryview(buf))[:5] == b"hello"
        buf.free()


def test_numpy_frombuffer_shares_memory(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        buf = c.alloc(8 * 1000)
        a = numpy.frombuffer(buf, dtype=numpy.float64)
        assert a.flags.writeable and a.shape == (1000,)
        a[:] = numpy.arange(1000)
        b = numpy.frombuffer(c.open(buf.ref, own=False, size=8000), dtype=numpy.float64)
        assert (b == numpy.arange(1000)).all()
        v = buf.view()
        v[0:8] = numpy.float64(42.5).tobytes()
        assert a[0] == 42.5
        del a, b, v
        buf.free()


def test_free_gc_and_with_return_the_bytes(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        held = [c.alloc(100_000) for _ in range(4)]
        assert allocated(daemon, arena) >= 400_000
        held[0].free()
        with c.alloc(100_000) as b:
            b.view()[0] = 1
        assert not b.owned
        del held[1]  # collected: frees
        view = held[2].view()
        del held[2]  # the view keeps the buffer (and its block) alive
        assert allocated(daemon, arena) >= 200_000
        del view
        held.clear()
        gc.collect()
        assert allocated(daemon, arena) == 0


def test_give_then_gc_does_not_free(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        buf = c.alloc(200_000)
        ref = buf.give()
        assert ref and not buf.owned
        del buf
        gc.collect()
        assert allocated(daemon, arena) >= 200_000
        taken = c.open(ref)
        assert taken.owned and len(taken) >= 200_000
        del taken
        assert allocated(daemon, arena) == 0


def test_double_free_attempts_raise(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        buf = c.alloc(64)
        buf.free()
        with pytest.raises(shmpool.InvalidArgument, match="was freed") as e:
            buf.free()
        assert e.value.code == -1
        with pytest.raises(shmpool.InvalidArgument):
            buf.give()
        with pytest.raises(shmpool.InvalidArgument):
            buf.ref

        given = c.alloc(64)
        ref = given.give()
        with pytest.raises(shmpool.InvalidArgument, match="given away"):
            given.free()
        owner = c.open(ref)
        with pytest.raises(shmpool.InvalidArgument, match="already owned"):
            c.open(ref)  # a second owner of the same block in this process
        borrowed = c.open(ref, own=False)
        with pytest.raises(shmpool.InvalidArgument, match="borrowed"):
            borrowed.free()
        owner.free()
        del borrowed
        gc.collect()
        assert allocated(daemon, arena) == 0


def test_open_rejects_what_is_not_a_block(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        for ref in (0, 1 << 47):
            with pytest.raises(shmpool.InvalidArgument):
                c.open(ref)
        buf = c.alloc(64)
        with pytest.raises(shmpool.InvalidArgument, match="beyond"):
            c.open(buf.ref, own=False, size=1 << 20)


def test_client_close_waits_for_its_buffers(daemon, arena):
    c = shmpool.attach(arena, daemon.endpoint)
    buf = c.alloc(1000)
    c.close()
    assert c.closed
    with pytest.raises(shmpool.InvalidArgument, match="closed"):
        c.alloc(10)
    buf.view()[:3] = b"abc"  # still mapped: the buffer holds the attachment
    buf.free()
    assert allocated(daemon, arena) == 0


def test_buffer_is_not_pickled(daemon, arena):
    import pickle

    with shmpool.attach(arena, daemon.endpoint) as c:
        with pytest.raises(TypeError, match="give"):
            pickle.dumps(c.alloc(16))


def test_purge_returns_bytes(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        bufs = [c.alloc(1 << 20) for _ in range(8)]
        for b in bufs:
            view = b.view()
            view[::4096] = b"\x01" * len(range(0, len(b), 4096))  # touch every page
        del bufs, b, view
        released = c.purge()
        assert isinstance(released, int) and released > 0


def test_threads_share_a_client(daemon, arena):
    import threading

    with shmpool.attach(arena, daemon.endpoint) as c:
        handed = []

        def work(seed):
            for i in range(500):
                b = c.alloc(64 + (seed * 7 + i) % 4000)
                b.view()[0] = seed
                if i % 2:
                    handed.append(b.give())
                else:
                    b.free()

        threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(handed) == 1000
        for ref in handed:  # freed by another thread than the one that allocated it
            c.open(ref).free()
        assert allocated(daemon, arena) == 0
