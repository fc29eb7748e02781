"""shmpool: processes sharing buffers through a shmpool arena, with no copy.

    import shmpool, numpy
    with shmpool.attach("default") as client:       # endpoint=None: $SHMPOOL_ENDPOINT/default
        buf = client.alloc(1 << 20)                 # an owned Buffer in shared memory
        a = numpy.frombuffer(buf, dtype=numpy.float32)  # no copy, writable
        a[:] = 1.0
        ref = buf.give()                            # an int; send it to another process
    # ... where client.open(ref) gives the same bytes, and frees them when done.

Over libshmpool.so.1 (the C ABI, shmpool.h) through ctypes. The ownership rule that never
frees a block twice is in buffer.py and python/README.md. shmpool.control is the control
plane (arenas, stats, purges through the daemon's gRPC API; it needs grpcio and protobuf,
which this package does not import otherwise).
"""

import pkgutil

from .buffer import Buffer
from .client import Client, Pool
from .errors import (AlreadyExists, Corrupt, Error, Internal, InvalidArgument, NotFound,
                     OutOfMemory, PermissionDenied, Unavailable)

# The package may span directories of the path: in a build tree, python/shmpool/ and the
# build's python/shmpool/ (shmpool._pb, generated from proto/ for shmpool.control).
__path__ = pkgutil.extend_path(__path__, __name__)

__all__ = [
    "attach", "Client", "Pool", "Buffer", "Error", "InvalidArgument", "NotFound",
    "AlreadyExists", "PermissionDenied", "OutOfMemory", "Unavailable", "Corrupt", "Internal"
]


def attach(arena, endpoint=None):
    """Attaches to `arena` through the daemon at `endpoint` ("unix:PATH" or "HOST:PORT";
    None: $SHMPOOL_ENDPOINT, else the default socket). A Client, usable as a context
    manager (it detaches at the end of the `with` block). Raises NotFound for an arena that
    does not exist, Unavailable for a daemon that cannot be reached, PermissionDenied."""
    return Client(arena, endpoint)
