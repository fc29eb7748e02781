"""Pools (get, put, hand-off of an object), purge, and each error class."""

import pytest

import shmpool
from shmpool import errors


@pytest.fixture
def pool(daemon, arena):
    daemon.ctl("pool", "create", arena, "objs", "--object-size", "256", "--count", "4")
    return "objs"


def test_pool_get_put(daemon, arena, pool):
    with shmpool.attach(arena, daemon.endpoint) as c:
        with c.pool(pool) as p:
            assert p.object_size == 256
            objs = [p.get() for _ in range(4)]
            assert len({o.ref for o in objs}) == 4
            assert all(len(o) == p.headroom + 256 for o in objs)
            with pytest.raises(shmpool.OutOfMemory, match="no free object"):
                p.get()
            objs[0].view()[:4] = b"objA"
            ref = objs[0].give()
            mine = p.open(ref)  # the hand-off of a pool object: the pool puts it back
            assert bytes(mine.view()[:4]) == b"objA"
            p.put(mine)
            with pytest.raises(shmpool.InvalidArgument, match="was freed"):
                p.put(mine)
            objs[1].free()  # free() of a pool object puts it back too
            del objs[2]  # collected: put back
            objs = objs[3:]
            again = [p.get() for _ in range(3)]
            with pytest.raises(shmpool.InvalidArgument, match="not an object of pool"):
                p.put(c.alloc(64))
            del again, objs


def test_pool_that_does_not_exist(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as c:
        with pytest.raises(shmpool.NotFound) as e:
            c.pool("nope")
        assert e.value.code == -2 and "nope" in e.value.message


def test_attach_to_an_arena_that_does_not_exist(daemon):
    with pytest.raises(shmpool.NotFound) as e:
        shmpool.attach("no-such-arena", daemon.endpoint)
    assert e.value.code == -2 and "no-such-arena" in str(e.value)
    assert isinstance(e.value, shmpool.Error)


def test_daemon_that_cannot_be_reached(tmp_path, monkeypatch):
    monkeypatch.setenv("SHMPOOL_ATTACH_TIMEOUT_MS", "0")
    ep = f"unix:{tmp_path}/nobody.sock"
    with pytest.raises(shmpool.Unavailable) as e:
        shmpool.attach("default", ep)
    assert e.value.code == -6 and "nobody.sock" in e.value.message


def test_unauthenticated_peer(daemon, arena):
    with pytest.raises(shmpool.PermissionDenied) as e:
        shmpool.attach(arena, daemon.tcp)
    assert e.value.code == -4 and e.value.message


def test_exhaustion(daemon):
    daemon.ctl("arena", "create", "tiny", "--capacity", "64MiB", "--quota", "1MiB")
    with shmpool.attach("tiny", daemon.endpoint) as c:
        with pytest.raises(shmpool.OutOfMemory) as e:
            c.alloc(2 << 20)
        assert e.value.code == -5 and "tiny" in e.value.message


def test_every_code_has_its_class():
    classes = {
        -1: shmpool.InvalidArgument,
        -2: shmpool.NotFound,
        -3: shmpool.AlreadyExists,
        -4: shmpool.PermissionDenied,
        -5: shmpool.OutOfMemory,
        -6: shmpool.Unavailable,
        -7: shmpool.Corrupt,
        -8: shmpool.Internal,
    }
    for code, cls in classes.items():
        e = errors.from_code(code, "why")
        assert type(e) is cls and e.code == code == cls.code and str(e) == "why"
        assert isinstance(e, shmpool.Error)
    # Without a message: the C library's text for the code.
    assert errors.from_code(-5).message
    assert type(errors.from_code(-99)) is shmpool.Error
