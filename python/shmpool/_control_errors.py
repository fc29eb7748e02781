"""The exceptions of shmpool.control: one class per gRPC status the daemon answers with.

Each carries `status` (the grpc.StatusCode), `message` (the daemon's message) and `code`, the
C error code (SHMPOOL_E_*) the C library maps that status to (client/src/c_api.cc); each is
also the data-plane exception of that code, so one `except shmpool.NotFoundError` catches an
unknown arena whether shmpool.attach or shmpool.control met it.
"""

import grpc

from . import _errors

_S = grpc.StatusCode


class ControlError(_errors.Error):
    """A call to the daemon that failed: `status` says how (a grpc.StatusCode)."""

    def __init__(self, status, message):
        super().__init__(_C_CODES.get(status, _errors.E_INTERNAL), message)
        self.status = status

    def __str__(self):
        return f"{self.status.name}: {self.message}"


class InvalidArgument(ControlError, _errors.InvalidError):
    """INVALID_ARGUMENT or OUT_OF_RANGE: a bad name, size or endpoint."""


class NotFound(ControlError, _errors.NotFoundError):
    """NOT_FOUND: no such arena or pool."""


class AlreadyExists(ControlError, _errors.ExistsError):
    """ALREADY_EXISTS: the arena or pool id is taken."""


class PermissionDenied(ControlError, _errors.PermissionDeniedError):
    """PERMISSION_DENIED or UNAUTHENTICATED: another tenant's arena, or an unknown peer."""


class ResourceExhausted(ControlError, _errors.ExhaustedError):
    """RESOURCE_EXHAUSTED: the daemon's limits, an arena full or over quota."""


class FailedPrecondition(ControlError, _errors.CorruptError):
    """FAILED_PRECONDITION or DATA_LOSS: not in this state (clients still attached, a
    quarantined arena), or no default socket that can be trusted."""


class Unavailable(ControlError, _errors.UnavailableError):
    """UNAVAILABLE: the daemon cannot be reached."""


class DeadlineExceeded(Unavailable):
    """DEADLINE_EXCEEDED: the daemon did not answer within the timeout."""


class Internal(ControlError, _errors.InternalError):
    """Any other status."""


# The C library's mapping (client/src/c_api.cc) of each status to SHMPOOL_E_*.
_C_CODES = {
    _S.INVALID_ARGUMENT: _errors.E_INVALID,
    _S.OUT_OF_RANGE: _errors.E_INVALID,
    _S.NOT_FOUND: _errors.E_NOT_FOUND,
    _S.ALREADY_EXISTS: _errors.E_EXISTS,
    _S.PERMISSION_DENIED: _errors.E_PERMISSION,
    _S.UNAUTHENTICATED: _errors.E_PERMISSION,
    _S.RESOURCE_EXHAUSTED: _errors.E_EXHAUSTED,
    _S.UNAVAILABLE: _errors.E_UNAVAILABLE,
    _S.DEADLINE_EXCEEDED: _errors.E_UNAVAILABLE,
    _S.FAILED_PRECONDITION: _errors.E_CORRUPT,
    _S.DATA_LOSS: _errors.E_CORRUPT,
}

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
