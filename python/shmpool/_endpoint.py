"""The endpoint of shmpoold a client uses, found as the C client finds it (proto/api/endpoint.cc).

An endpoint is "unix:PATH" (also "unix://PATH" or a bare absolute path) or "HOST:PORT". With
none requested, a client takes $SHMPOOL_ENDPOINT, else the first of the default sockets

    /run/shmpool/shmpoold.sock
    $XDG_RUNTIME_DIR/shmpool/shmpoold.sock
    /tmp/shmpool-$UID/shmpoold.sock

that exists and that it trusts (it and its directory belong to the caller's uid or root,
neither is a symbolic link, the directory is not writable by group or others), else the
socket a daemon started without --listen would create. Errors are ValueError (a malformed
endpoint) and PermissionError (default sockets exist but none is trusted), with the C
client's messages.
"""

import os
import stat


def socket_candidates():
    """The default socket paths, best first."""
    candidates = ["/run/shmpool/shmpoold.sock"]
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        candidates.append(xdg + "/shmpool/shmpoold.sock")
    candidates.append(f"/tmp/shmpool-{os.getuid()}/shmpoold.sock")
    return candidates


def _dirname(path):
    slash = path.rfind("/")
    return "/" if slash <= 0 else path[:slash]


def _usable(path):
    """True when a daemon could create its socket at `path`."""
    directory = _dirname(path)
    try:
        st = os.stat(directory)
    except OSError:
        return os.access(_dirname(directory), os.W_OK)
    return stat.S_ISDIR(st.st_mode) and os.access(directory, os.W_OK)


def _distrust(path, uid):
    """Why `uid` must not use the default socket at `path`, or "" when it may."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return e.strerror
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if st.st_uid not in (uid, 0):
        return f"owned by uid {st.st_uid}"
    directory = _dirname(path)
    try:
        st = os.lstat(directory)
    except OSError as e:
        return f"{directory}: {e.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return f"its directory {directory} is a symbolic link"
    if st.st_uid not in (uid, 0):
        return f"its directory {directory} is owned by uid {st.st_uid}"
    if st.st_mode & 0o022:
        return f"its directory {directory} is writable by group or others"
    return ""


def daemon_socket_path():
    """The socket a daemon started with no --listen uses."""
    candidates = socket_candidates()
    for path in candidates:
        if _usable(path):
            return path
    return candidates[-1]


def client_endpoint(requested=None):
    """The endpoint text a client uses: `requested`, else $SHMPOOL_ENDPOINT, else a default."""
    if requested:
        return requested
    env = os.environ.get("SHMPOOL_ENDPOINT", "")
    if env:
        return env
    refused = ""
    for path in socket_candidates():
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if not (stat.S_ISSOCK(mode) or stat.S_ISLNK(mode)):
            continue
        why = _distrust(path, os.geteuid())
        if not why:
            return "unix:" + path
        refused = refused or f"refusing {path}: {why}"
    if refused:
        raise PermissionError(
            refused + " (a default socket is used only when it and its directory are the "
            "caller's or root's and others cannot write the directory; set SHMPOOL_ENDPOINT "
            "to choose a daemon)")
    return "unix:" + daemon_socket_path()


def grpc_target(text):
    """The gRPC target ("unix:PATH" or "HOST:PORT") of the endpoint `text`."""
    if text.startswith("unix://"):
        path = text[7:]
    elif text.startswith("unix:"):
        path = text[5:]
    elif text.startswith("/"):
        path = text
    else:
        colon = text.rfind(":")
        if colon <= 0 or colon + 1 == len(text):
            raise ValueError(f'bad endpoint "{text}": expected unix:PATH or HOST:PORT')
        return text
    if not path.startswith("/"):
        raise ValueError(f'bad endpoint "{text}": a unix socket path must be absolute')
    return "unix:" + path
