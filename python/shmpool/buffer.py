"""Buffer: a block of an arena (or an object of a pool) as a Python object exporting the
buffer protocol over the shared memory itself, writable, with no copy.

A Buffer is an instance of a ctypes array type (c_ubyte * len) built over the block's
address, with Buffer as a mixin for the ownership methods; one such type per length, kept
in a bounded cache. memoryview(buf) has ctypes' format "<B" (numpy.frombuffer, bytes(),
readinto(), socket.recv_into() take it as it is); buf.view() is the same memory with
format "B", which memoryview indexing and slice assignment need.

Ownership (the hand-off rule, python/README.md): exactly one owner frees a block. A Buffer
is owned (from alloc, pool.get, or open(ref) with own=True) or borrowed (open(ref,
own=False)). An owned Buffer frees its block once, at free(), pool.put(), the end of a
`with` block or garbage collection, whichever comes first; give() hands the ownership to
the ref it returns and the Buffer then never frees. Every other call on a Buffer that is
not owned (a second free, a free after give, a free of a borrowed one) raises
InvalidArgument and changes nothing.

Each Buffer holds the handle that maps its memory (a client or pool handle), so memory a
Buffer or any view of it (memoryview, numpy array) can reach stays mapped while they live.
"""

import ctypes

from . import errors

_TYPES_MAX = 4096
_types = {}  # length -> the Buffer type of that length


class Buffer:
    """The ownership half of every buffer type (see the module's docstring)."""

    __slots__ = ()

    @property
    def ref(self):
        """The shmpool_ref of the block: an int, valid in every process of the arena."""
        d = self.__dict__
        if d["_state"] not in ("owned", "borrowed"):
            raise self._not_usable("ref")
        return d["_ref"]

    @property
    def owned(self):
        """Whether this Buffer frees its block (at free(), a `with` exit or collection)."""
        return "_owner" in self.__dict__

    def view(self):
        """A memoryview of format "B" over the block (indexable, slice-assignable)."""
        return memoryview(self).cast("B")

    def free(self):
        """Frees the block now. Raises InvalidArgument if this Buffer does not own it."""
        owner = self.__dict__.pop("_owner", None)
        if owner is None:
            raise self._not_usable("free")
        self.__dict__["_state"] = "freed"
        owner.release(self)

    def give(self):
        """Moves the ownership out: returns the ref, for the one process that will
        open(ref) it (and free it); this Buffer then never frees."""
        d = self.__dict__
        owner = d.pop("_owner", None)
        if owner is None:
            raise self._not_usable("give")
        d["_state"] = "given"
        owner.disown(d["_ref"])
        return d["_ref"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if "_owner" in self.__dict__:
            self.free()

    def __del__(self):
        owner = self.__dict__.pop("_owner", None)
        if owner is not None:
            owner.release_quietly(self)

    def __reduce__(self):
        raise TypeError("a shmpool.Buffer is not pickled: send buf.give() (its ref) to the "
                        "other process, which calls client.open(ref)")

    def __repr__(self):
        d = self.__dict__
        return f"<shmpool.Buffer ref={d['_ref']:#x} len={len(self)} {d['_state']}>"

    def _not_usable(self, what):
        d = self.__dict__
        why = {
            "freed": "was freed",
            "given": "was given away (its ref now owns the block)",
            "borrowed": "is borrowed: its owner frees it",
        }[d["_state"]]
        return errors.InvalidArgument(
            -1, f"{what}: the buffer of ref {d['_ref']:#x} {why}")


def make(address, length, ref, owner, keep):
    """A Buffer of `length` bytes at `address`, owned by `owner` (an object with release,
    release_quietly and disown; None: borrowed), keeping `keep` alive."""
    cls = _types.get(length)
    if cls is None:
        if len(_types) >= _TYPES_MAX:
            _types.clear()
        cls = _types[length] = type("Buffer", (Buffer, ctypes.c_ubyte * length),
                                    {"__module__": __name__})
    buf = cls.from_address(address)
    d = buf.__dict__
    d["_ref"] = ref
    d["_keep"] = keep
    if owner is None:
        d["_state"] = "borrowed"
    else:
        d["_state"] = "owned"
        d["_owner"] = owner
    return buf
