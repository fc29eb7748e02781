"""libshmpool.so.1 loaded through ctypes, with the prototypes of the C ABI (shmpool.h).

The library is looked for, in order: the path in $SHMPOOL_LIBRARY (only there when set);
beside the installed package (<libdir>/shmpool/python/shmpool/ is three levels below
<libdir>/libshmpool.so.1, as cmake --install lays them out); then by soname through the
dynamic loader (ldconfig's cache, $LD_LIBRARY_PATH).

fork_generation counts the forks this process is the child of: a client records it at
attach, and a client of another generation (attached by a parent before the fork) is never
called into, since its caches and session belong to the parent. grpc_generation is the
fork generation of the first attach through the daemon (None before it): that attach
started gRPC, whose threads a forked child does not have, so an attach in a child of a
later generation would wait forever; attach refuses it instead.
"""

import ctypes
import os

SONAME = "libshmpool.so.1"


def _load():
    path = os.environ.get("SHMPOOL_LIBRARY")
    if path:
        return ctypes.CDLL(path)
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.normpath(os.path.join(here, "..", "..", "..", SONAME))
    if os.path.exists(installed):
        return ctypes.CDLL(installed)
    return ctypes.CDLL(SONAME)


lib = _load()

_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_size = ctypes.c_size_t
_ref = ctypes.c_uint64
_PROTOTYPES = {
    "shmpool_attach": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, _pp]),
    "shmpool_detach": (None, [_p]),
    "shmpool_malloc": (_p, [_p, _size]),
    "shmpool_free": (None, [_p, _p]),
    "shmpool_usable_size": (_size, [_p, _p]),
    "shmpool_ref_of": (_ref, [_p, _p]),
    "shmpool_ptr_of": (_p, [_p, _ref]),
    "shmpool_generation": (ctypes.c_uint64, [_p]),
    "shmpool_purge": (ctypes.c_int64, [_p]),
    "shmpool_pool_open": (ctypes.c_int, [_p, ctypes.c_char_p, _pp]),
    "shmpool_pool_close": (None, [_p]),
    "shmpool_pool_get": (_p, [_p]),
    "shmpool_pool_put": (ctypes.c_int, [_p, _p]),
    "shmpool_pool_object_size": (_size, [_p]),
    "shmpool_pool_headroom": (_size, [_p]),
    "shmpool_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "shmpool_last_error": (ctypes.c_char_p, []),
}
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

fork_generation = 0
grpc_generation = None


def _after_fork_in_child():
    global fork_generation
    fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)
