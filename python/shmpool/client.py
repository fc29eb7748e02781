"""Client and Pool: an attachment to an arena, and the pools opened through it.

A _Handle owns one shmpool_client* (the C attachment); a _PoolHandle one shmpool_pool*.
Python references order their ends: every Buffer holds the handle that maps its memory,
every pool handle holds its client's handle, and a handle detaches (closes) when the last
of them is gone. So Client.close() (or the end of its `with` block) detaches at once when
nothing of the client is alive, and otherwise as soon as its last buffer and pool are
collected; no buffer or view ever outlives its mapping, and pools close before their client
detaches (shmpool.h).

_Handle.owned holds the refs of every block an owned Buffer of this client holds: the check
that keeps a process from taking the ownership of a block twice (open(ref) of a block it
already owns raises InvalidArgument).
"""

import ctypes
import operator

from . import _lib, errors
from .buffer import Buffer, make

_lib_ = _lib.lib


class _Handle:
    """One shmpool_client* of this process and the refs its owned Buffers hold."""

    def __init__(self, ptr, arena):
        self.ptr = ptr
        self.arena = arena
        self.fork_generation = _lib.fork_generation
        self.owned = set()

    def live(self):
        """The shmpool_client*, or raises if it belongs to the process this one forked from."""
        if self.fork_generation != _lib.fork_generation:
            raise errors.InvalidArgument(
                -1, f"the client of arena {self.arena!r} belongs to the process this one was "
                "forked from: start processes that use shmpool with multiprocessing's 'spawn' "
                "or 'forkserver' method, or fork them before the first attach")
        return self.ptr

    def release(self, buf):
        d = buf.__dict__
        self.owned.discard(d["_ref"])
        _lib_.shmpool_free(self.live(), ctypes.addressof(buf))

    def release_quietly(self, buf):
        if self.fork_generation == _lib.fork_generation:
            self.owned.discard(buf.__dict__["_ref"])
            _lib_.shmpool_free(self.ptr, ctypes.addressof(buf))

    def disown(self, ref):
        self.owned.discard(ref)

    def __del__(self):
        if self.fork_generation == _lib.fork_generation:
            _lib_.shmpool_detach(self.ptr)


class _PoolHandle:
    """One shmpool_pool* of this process; its owned objects' refs are in its client's set."""

    def __init__(self, ptr, client, name):
        self.ptr = ptr
        self.client = client
        self.name = name
        self.size = _lib_.shmpool_pool_headroom(ptr) + _lib_.shmpool_pool_object_size(ptr)

    def release(self, buf):
        self.client.live()
        self.client.owned.discard(buf.__dict__["_ref"])
        if _lib_.shmpool_pool_put(self.ptr, ctypes.addressof(buf)) != 0:
            raise errors.InvalidArgument(
                -1, f"pool {self.name!r} refused object {buf.__dict__['_ref']:#x}")

    def release_quietly(self, buf):
        if self.client.fork_generation == _lib.fork_generation:
            self.client.owned.discard(buf.__dict__["_ref"])
            _lib_.shmpool_pool_put(self.ptr, ctypes.addressof(buf))

    def disown(self, ref):
        self.client.owned.discard(ref)

    def __del__(self):
        if self.client.fork_generation == _lib.fork_generation:
            _lib_.shmpool_pool_close(self.ptr)


def _claim(handle, ref):
    if ref in handle.owned:
        raise errors.InvalidArgument(
            -1, f"open: the block of ref {ref:#x} is already owned by a buffer of this process")
    handle.owned.add(ref)


class Client:
    """An attachment to one arena (shmpool.attach). `arena` and `endpoint` are as given to
    attach (endpoint None: $SHMPOOL_ENDPOINT, else the default socket)."""

    def __init__(self, arena, endpoint=None):
        self.arena = arena
        self.endpoint = endpoint
        if _lib.grpc_generation not in (None, _lib.fork_generation):
            raise errors.Unavailable(
                -6, f"attach {arena!r}: this process was forked from one that had attached "
                "through the daemon, and gRPC does not work in a forked child: start it with "
                "multiprocessing's 'spawn' or 'forkserver' method, or fork before the first "
                "attach")
        if _lib.grpc_generation is None:
            _lib.grpc_generation = _lib.fork_generation
        out = ctypes.c_void_p()
        rc = _lib_.shmpool_attach(None if endpoint is None else endpoint.encode(),
                                  arena.encode(), ctypes.byref(out))
        if rc != 0:
            raise errors.from_code(rc)
        self._h = _Handle(out.value, arena)

    def _live(self):
        h = self._h
        if h is None:
            raise errors.InvalidArgument(-1, f"the client of arena {self.arena!r} is closed")
        return h, h.live()

    @property
    def closed(self):
        return self._h is None

    def alloc(self, n):
        """An owned Buffer of n bytes in the arena; OutOfMemory when it has none."""
        h, c = self._live()
        n = operator.index(n)
        if n < 0:
            raise errors.InvalidArgument(-1, f"alloc: negative size {n}")
        p = _lib_.shmpool_malloc(c, n)
        if p is None:
            raise errors.OutOfMemory(
                -5, f"alloc({n}): arena {self.arena!r} is exhausted or over its quota")
        ref = _lib_.shmpool_ref_of(c, p)
        h.owned.add(ref)
        return make(p, n, ref, h, h)

    def open(self, ref, own=True, size=None):
        """The block of `ref` (from buf.give() or buf.ref in any process of the arena) as a
        Buffer: owned (own=True: it frees the block; take it once per give()) or borrowed
        (own=False: never frees). Its length is `size`, else the block's usable size."""
        h, c = self._live()
        ref = operator.index(ref)
        p = _lib_.shmpool_ptr_of(c, ref) if ref > 0 else None
        usable = _lib_.shmpool_usable_size(c, p) if p else 0
        if usable == 0:
            raise errors.InvalidArgument(
                -1, f"open: ref {ref:#x} is not a live block of arena {self.arena!r}")
        if size is None:
            size = usable
        elif not 0 <= size <= usable:
            raise errors.InvalidArgument(
                -1, f"open: size {size} is beyond the block's {usable} bytes")
        if own:
            _claim(h, ref)
        return make(p, size, ref, h if own else None, h)

    def pool(self, name):
        """The object pool `name` of the arena (created with `shmpoolctl pool create`)."""
        h, c = self._live()
        out = ctypes.c_void_p()
        rc = _lib_.shmpool_pool_open(c, name.encode(), ctypes.byref(out))
        if rc != 0:
            raise errors.from_code(rc)
        return Pool(_PoolHandle(out.value, h, name))

    def purge(self):
        """Returns this thread's cached blocks and purges the arena: the bytes released."""
        _, c = self._live()
        r = _lib_.shmpool_purge(c)
        if r < 0:
            raise errors.from_code(r)
        return r

    @property
    def generation(self):
        """The arena generation the client allocates from (0 until the first reset)."""
        return _lib_.shmpool_generation(self._live()[1])

    def stats(self):
        """The arena's stats from the daemon at the client's endpoint: a dict with the fields
        of one arena of `shmpoolctl stats --json` (through shmpool.control, which needs
        grpcio and protobuf)."""
        from . import control
        with control.connect(self.endpoint) as c:
            return c.stats(self.arena)

    def close(self):
        """Detaches (at once, or when the client's last buffer and pool are gone)."""
        self._h = None

    detach = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._h is None else "attached"
        return f"<shmpool.Client arena={self.arena!r} endpoint={self.endpoint!r} {state}>"


class Pool:
    """An object pool of the arena: get() an owned Buffer of one object (headroom bytes,
    then object_size bytes), put() it back (or free() it, or let it be collected)."""

    def __init__(self, handle):
        self._p = handle
        self.name = handle.name
        self.object_size = _lib_.shmpool_pool_object_size(handle.ptr)
        self.headroom = _lib_.shmpool_pool_headroom(handle.ptr)

    def _live(self):
        p = self._p
        if p is None:
            raise errors.InvalidArgument(-1, f"pool {self.name!r} is closed")
        p.client.live()
        return p

    def get(self):
        """An owned Buffer of a free object; OutOfMemory when none is free."""
        p = self._live()
        obj = _lib_.shmpool_pool_get(p.ptr)
        if obj is None:
            raise errors.OutOfMemory(-5, f"pool {self.name!r} has no free object")
        ref = _lib_.shmpool_ref_of(p.client.ptr, obj)
        p.client.owned.add(ref)
        return make(obj, p.size, ref, p, p)

    def put(self, buf):
        """Returns an owned Buffer of this pool's (from get or open) to the pool."""
        p = self._live()
        if not isinstance(buf, Buffer):
            raise errors.InvalidArgument(-1, "put: not a shmpool.Buffer")
        owner = buf.__dict__.get("_owner")
        if owner is None:
            raise buf._not_usable("put")
        if owner is not p:
            raise errors.InvalidArgument(-1, f"put: not an object of pool {self.name!r}")
        buf.free()

    def open(self, ref, own=True):
        """The object of `ref` (buf.give() of an object of this pool) as a Buffer: owned
        (it returns the object to the pool) or borrowed (own=False)."""
        p = self._live()
        ref = operator.index(ref)
        obj = _lib_.shmpool_ptr_of(p.client.ptr, ref) if ref > 0 else None
        if obj is None:
            raise errors.InvalidArgument(
                -1, f"open: ref {ref:#x} is not in the arena of pool {self.name!r}")
        if own:
            _claim(p.client, ref)
        return make(obj, p.size, ref, p if own else None, p)

    def close(self):
        """Closes the pool (at once, or when its last buffer is gone)."""
        self._p = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<shmpool.Pool {self.name!r} object_size={self.object_size} "
                f"headroom={self.headroom}>")
