"""The exceptions of shmpool.control: one class per gRPC status the daemon answers with.

Each carries `status` (the grpc.StatusCode) and `message` (the daemon's message), and is
also the data-plane exception (shmpool/errors.py) of the C error code the C library maps
that status to (client/src/c_api.cc), whose `code` it has: one `except shmpool.NotFound`
catches an unknown arena whether shmpool.attach or shmpool.control met it.
"""

import grpc

from . import errors

_S = grpc.StatusCode


class ControlError(errors.Error):
    """A call to the daemon that failed: `status` says how (a grpc.StatusCode)."""

    def __init__(self, status, message):
        super().__init__(self.code, message)
        self.status = status

    def __str__(self):
        return f"{self.status.name}: {self.message}"


class InvalidArgument(ControlError, errors.InvalidArgument):
    """INVALID_ARGUMENT or OUT_OF_RANGE: a bad name, size or endpoint."""


class NotFound(ControlError, errors.NotFound):
    """NOT_FOUND: no such arena or pool."""


class AlreadyExists(ControlError, errors.AlreadyExists):
    """ALREADY_EXISTS: the arena or pool id is taken."""


class PermissionDenied(ControlError, errors.PermissionDenied):
    """PERMISSION_DENIED or UNAUTHENTICATED: another tenant's arena, or an unknown peer."""


class ResourceExhausted(ControlError, errors.OutOfMemory):
    """RESOURCE_EXHAUSTED: the daemon's limits, an arena full or over quota."""


class FailedPrecondition(ControlError, errors.Corrupt):
    """FAILED_PRECONDITION or DATA_LOSS: not in this state (clients still attached, a
    quarantined arena), or no default socket that can be trusted. A Corrupt, as the C
    library maps these statuses."""


class Unavailable(ControlError, errors.Unavailable):
    """UNAVAILABLE: the daemon cannot be reached."""


class DeadlineExceeded(Unavailable):
    """DEADLINE_EXCEEDED: the daemon did not answer within the timeout."""


class Internal(ControlError, errors.Internal):
    """Any other status."""


_CLASSES = {
    _S.INVALID_ARGUMENT: InvalidArgument,
    _S.OUT_OF_RANGE: InvalidArgument,
    _S.NOT_FOUND: NotFound,
    _S.ALREADY_EXISTS: AlreadyExists,
    _S.PERMISSION_DENIED: PermissionDenied,
    _S.UNAUTHENTICATED: PermissionDenied,
    _S.RESOURCE_EXHAUSTED: ResourceExhausted,
    _S.FAILED_PRECONDITION: FailedPrecondition,
    _S.DATA_LOSS: FailedPrecondition,
    _S.UNAVAILABLE: Unavailable,
    _S.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def error_of(rpc_error, timeout):
    """The exception for a failed call (a grpc.RpcError) made with `timeout` seconds."""
    status, message = rpc_error.code(), rpc_error.details() or ""
    if status == _S.DEADLINE_EXCEEDED:
        message = f"the daemon did not answer within {timeout} s: {message}"
    return _CLASSES.get(status, Internal)(status, message)
