"""shmpool.Error and one subclass per error code of the C ABI (shmpool.h)."""

from . import _lib


class Error(Exception):
    """A failed shmpool call: .code is the C error code (negative), .message says why."""

    code = None  # the subclass's code; an instance carries the code it was raised with

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        return self.message


def _code_class(name, code, doc):
    return type(name, (Error,), {"code": code, "__doc__": doc, "__module__": __name__})


InvalidArgument = _code_class(
    "InvalidArgument", -1, "SHMPOOL_E_INVALID: a bad argument, or a buffer not owned here.")
NotFound = _code_class("NotFound", -2, "SHMPOOL_E_NOT_FOUND: no such arena, segment or pool.")
AlreadyExists = _code_class("AlreadyExists", -3, "SHMPOOL_E_EXISTS.")
PermissionDenied = _code_class("PermissionDenied", -4,
                               "SHMPOOL_E_PERMISSION: not allowed for this caller.")
OutOfMemory = _code_class(
    "OutOfMemory", -5, "SHMPOOL_E_EXHAUSTED: the arena, its quota or its process slots are "
    "used up.")
Unavailable = _code_class("Unavailable", -6, "SHMPOOL_E_UNAVAILABLE: the daemon cannot be reached.")
Corrupt = _code_class("Corrupt", -7, "SHMPOOL_E_CORRUPT: the segment failed validation.")
Internal = _code_class("Internal", -8, "SHMPOOL_E_INTERNAL.")

_BY_CODE = {
    cls.code: cls for cls in (InvalidArgument, NotFound, AlreadyExists, PermissionDenied,
                              OutOfMemory, Unavailable, Corrupt, Internal)
}


def from_code(code, message=None):
    """The exception for C error code `code`: its subclass (Error for an unknown code), with
    `message`, else shmpool_last_error() of this thread, else shmpool_strerror(code)."""
    if message is None:
        message = (_lib.lib.shmpool_last_error() or b"").decode(errors="replace")
        if not message:
            message = _lib.lib.shmpool_strerror(code).decode()
    return _BY_CODE.get(code, Error)(code, message)
