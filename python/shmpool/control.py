"""The control plane of shmpoold from Python: arenas, pools, stats and purges through the
daemon's gRPC API (proto/shmpool/v1), for ops scripts that would otherwise parse shmpoolctl.

    from shmpool import control

    with control.connect() as ctl:          # the endpoint the C client would use
        ctl.create_arena("jobs", capacity=1 << 30, quota=256 << 20)
        print(ctl.stats("jobs")["allocated_bytes"])
        ctl.purge_all()

Results are dicts holding what `shmpoolctl ... --json` prints for the same command, with the
same keys (the .proto field names; see shmpool/_messages.py). Arenas are named by id ("jobs")
or resource name ("arenas/jobs"); sizes are bytes. The daemon's refusals, and a daemon that
cannot be reached, raise ControlError subclasses (shmpool/_control_errors.py): each is also
the shmpool.Error subclass of the C error code the C library maps its gRPC status to.

Needs grpcio and protobuf: Debian's python3-grpcio and python3-protobuf, for /usr/bin/python3.
The data plane (`import shmpool`) does not.
"""

import sys

from . import _endpoint

try:
    import grpc

    from ._control_errors import (AlreadyExists, ControlError, DeadlineExceeded,
                                  FailedPrecondition, Internal, InvalidArgument, NotFound,
                                  PermissionDenied, ResourceExhausted, Unavailable, error_of)
    from ._messages import to_dict
    from ._pb.v1 import (arena_pb2, arena_pb2_grpc, pool_pb2, pool_pb2_grpc, stats_pb2,
                         stats_pb2_grpc)
except ModuleNotFoundError as e:
    if e.name not in ("grpc", "google", "google.protobuf"):
        raise
    raise ImportError(
        f"shmpool.control needs grpcio and protobuf, which {sys.executable} lacks ({e}): "
        "install python3-grpcio and python3-protobuf (scripts/install-deps.sh) and run "
        "Debian's /usr/bin/python3") from e

__all__ = [
    "connect", "Control", "ControlError", "InvalidArgument", "NotFound", "AlreadyExists",
    "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Unavailable",
    "DeadlineExceeded", "Internal"
]

DEFAULT_TIMEOUT = 10.0  # seconds, as shmpoolctl's --timeout
ALL_ARENAS = "arenas/-"


def arena_name(arena):
    """An arena id ("jobs") or resource name ("arenas/jobs") as the resource name."""
    return arena if arena.startswith("arenas/") else "arenas/" + arena


def connect(endpoint=None, timeout=DEFAULT_TIMEOUT, tls_ca=None, tls_cert=None, tls_key=None):
    """A Control of the daemon at `endpoint` ("unix:PATH", "HOST:PORT"; None: as the C client
    finds it: $SHMPOOL_ENDPOINT, else the default socket). `timeout`: the deadline of each
    call in seconds (None: none). The connection is made at the first call.

    TLS, for a TCP listener with [tls] (as shmpoolctl's --tls-ca, --tls-cert, --tls-key):
    the PEM files of the CA that signed the daemon's certificate and of the client's
    certificate and key, which go together. None of them: no TLS."""
    try:
        target = _endpoint.grpc_target(_endpoint.client_endpoint(endpoint))
    except ValueError as e:
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from None
    except PermissionError as e:
        raise FailedPrecondition(grpc.StatusCode.FAILED_PRECONDITION, str(e)) from None
    if tls_ca is None and tls_cert is None and tls_key is None:
        return Control(grpc.insecure_channel(target), target, timeout)
    if (tls_cert is None) != (tls_key is None):
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT,
                              "tls_cert and tls_key go together")
    credentials = grpc.ssl_channel_credentials(root_certificates=_pem("tls_ca", tls_ca),
                                               private_key=_pem("tls_key", tls_key),
                                               certificate_chain=_pem("tls_cert", tls_cert))
    return Control(grpc.secure_channel(target, credentials), target, timeout)


def _pem(option, path):
    """The bytes of the PEM file `path` (None: None)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT,
                              f"{option}: cannot read {path}: {e.strerror}") from None
    if not text:
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, f"{option}: {path} is empty")
    return text


class Control:
    """A connection to one daemon (made by connect()) over a gRPC channel: `endpoint` is the
    daemon's gRPC target. Closed by close() or at the end of a with block; calls on a closed
    Control raise ValueError."""

    def __init__(self, channel, target, timeout):
        self.endpoint = target
        self.timeout = timeout
        self._channel = channel
        self._arenas = arena_pb2_grpc.ArenaServiceStub(self._channel)
        self._pools = pool_pb2_grpc.PoolServiceStub(self._channel)
        self._stats = stats_pb2_grpc.StatsServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise error_of(e, self.timeout) from None

    # Arenas.

    def create_arena(self, arena_id, capacity, quota=0, owner_uid=None, group_gid=None,
                     max_procs=0, max_thread_caches=0):
        """Creates an arena of `capacity` bytes (a multiple of 4096); `quota` 0 is none. The
        owner and group default to the daemon's; 0 geometry picks the default."""
        arena = arena_pb2.Arena(capacity_bytes=capacity, quota_bytes=quota, max_procs=max_procs,
                                max_thread_caches=max_thread_caches)
        if owner_uid is not None:
            arena.owner_uid = owner_uid
        if group_gid is not None:
            arena.group_gid = group_gid
        request = arena_pb2.CreateArenaRequest(arena_id=arena_id, arena=arena)
        return to_dict(self._call(self._arenas.CreateArena, request))

    def get_arena(self, arena):
        request = arena_pb2.GetArenaRequest(name=arena_name(arena))
        return to_dict(self._call(self._arenas.GetArena, request))

    def list_arenas(self):
        """Every arena the caller may read, sorted by name."""
        response = self._call(self._arenas.ListArenas, arena_pb2.ListArenasRequest())
        return [to_dict(a) for a in response.arenas]

    def delete_arena(self, arena):
        """Deletes an arena; FailedPrecondition while clients are attached."""
        self._call(self._arenas.DeleteArena, arena_pb2.DeleteArenaRequest(name=arena_name(arena)))

    def reset_arena(self, arena):
        """Frees everything at once (a new, empty generation); returns the arena."""
        request = arena_pb2.ResetArenaRequest(name=arena_name(arena))
        return to_dict(self._call(self._arenas.ResetArena, request))

    def set_quota(self, arena, quota):
        """Sets the quota online (0 removes it); returns the arena."""
        request = arena_pb2.UpdateArenaRequest(name=arena_name(arena), quota_bytes=quota)
        return to_dict(self._call(self._arenas.UpdateArena, request))

    # Purges: what `shmpoolctl purge NAME --json` and `purge --all --json` print.

    def purge(self, arena):
        """Returns the free memory of one arena to the OS."""
        return self._purge(arena_name(arena))

    def purge_all(self):
        return self._purge(ALL_ARENAS)

    def _purge(self, name):
        request = arena_pb2.PurgeArenaRequest(name=name)
        return to_dict(self._call(self._arenas.PurgeArena, request))

    # Stats: one arena's entry of `shmpoolctl stats --json`, or all of them.

    def stats(self, arena):
        """The stats of one arena."""
        return self._get_stats(arena_name(arena))[0]

    def stats_all(self):
        """The stats of every arena the caller may read, sorted by name."""
        return self._get_stats(ALL_ARENAS)

    def _get_stats(self, name):
        response = self._call(self._stats.GetStats, stats_pb2.GetStatsRequest(name=name))
        return [to_dict(a) for a in response.arenas]

    # Pools.

    def create_pool(self, arena, pool_id, object_size, count, align=0, headroom=0,
                    cache_line_pad=False):
        """Creates a pool of `count` objects of `object_size` bytes, taken from the arena at
        once; `align` 0 is 16."""
        pool = pool_pb2.Pool(object_size=object_size, count=count, align=align, headroom=headroom,
                             cache_line_pad=cache_line_pad)
        request = pool_pb2.CreatePoolRequest(arena=arena_name(arena), pool_id=pool_id, pool=pool)
        return to_dict(self._call(self._pools.CreatePool, request))

    def list_pools(self, arena=None):
        """The pools of one arena, or of all (None)."""
        name = ALL_ARENAS if arena is None else arena_name(arena)
        request = pool_pb2.ListPoolsRequest(arena=name)
        return [to_dict(p) for p in self._call(self._pools.ListPools, request).pools]

    def delete_pool(self, arena, pool_id):
        """Deletes a pool; FailedPrecondition while it is open or objects are out."""
        request = pool_pb2.DeletePoolRequest(name=f"{arena_name(arena)}/pools/{pool_id}")
        self._call(self._pools.DeletePool, request)
