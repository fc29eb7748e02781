"""shmpool.control against the test daemon: arenas, pools, stats and purges give what
shmpoolctl --json prints; the daemon's refusals raise the classes of their status; endpoints
are found as the C client finds them; Client.stats() is the control plane's stats."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import conftest
import pytest

import shmpool
from shmpool import control


def shape(value):
    """The keys of every dict in `value`, nested (lists element by element), without values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return None


def ctl_json(daemon, *args):
    return json.loads(daemon.ctl(*args, "--json").stdout)


@pytest.fixture
def ctl(daemon):
    with control.connect(daemon.endpoint) as c:
        yield c


def python_without(modules, code):
    """Runs `code` in this interpreter with `modules` made unimportable."""
    blocked = "".join(f"sys.modules[{m!r}] = None; " for m in modules)
    return subprocess.run([sys.executable, "-c", f"import sys; {blocked}{code}"],
                          capture_output=True, text=True)


def test_the_data_plane_needs_no_grpc():
    done = python_without(["grpc", "google"], "import shmpool; print(shmpool.Client.stats)")
    assert done.returncode == 0 and "Client.stats" in done.stdout, done.stderr
    done = python_without(["grpc"], "import shmpool.control")
    assert done.returncode == 1
    assert "ImportError: shmpool.control needs grpcio and protobuf" in done.stderr
    assert "install python3-grpcio and python3-protobuf" in done.stderr


def test_arenas_are_what_shmpoolctl_shows(daemon, ctl):
    name = f"c{os.getpid()}"
    created = ctl.create_arena(name, capacity=64 << 20, quota=1 << 20)
    assert created["name"] == f"arenas/{name}"
    assert created["capacity_bytes"] == 64 << 20 and created["quota_bytes"] == 1 << 20
    assert ctl.get_arena(name) == ctl_json(daemon, "arena", "get", name)
    listed = ctl.list_arenas()
    assert shape(listed) == shape(ctl_json(daemon, "arena", "list")["arenas"])
    assert [a for a in listed if a["name"] == f"arenas/{name}"] == [ctl.get_arena(name)]
    assert ctl.set_quota(name, 2 << 20)["quota_bytes"] == 2 << 20
    assert ctl.set_quota(f"arenas/{name}", 0)["quota_bytes"] == 0
    reset = ctl.reset_arena(name)
    assert reset["generation"] == 1 and reset == ctl.get_arena(name)
    ctl.delete_arena(name)
    assert f"arenas/{name}" not in [a["name"] for a in ctl.list_arenas()]


def test_stats_have_the_fields_of_shmpoolctl_stats_json(daemon, ctl, arena):
    with shmpool.attach(arena, daemon.endpoint) as client:
        blocks = [client.alloc(256) for _ in range(100)]
        stats = ctl.stats(arena)
        assert stats["name"] == f"arenas/{arena}"
        assert stats["allocated_bytes"] == 25600 and stats["nmalloc"] >= 100
        assert len(stats["clients"]) == 1
        assert [k["size"] for k in stats["size_classes"] if k["allocated_bytes"]] == [256]
        assert shape(stats) == shape(ctl_json(daemon, "stats", arena)["arenas"][0])
        every = ctl.stats_all()
        assert [a["name"] for a in every] == sorted(a["name"] for a in ctl.list_arenas())
        assert shape(every) == shape(ctl_json(daemon, "stats")["arenas"])
        del blocks


def test_client_stats_are_the_arenas(daemon, arena):
    with shmpool.attach(arena, daemon.endpoint) as client:
        blocks = [client.alloc(1024) for _ in range(10)]
        stats = client.stats()
        assert stats["name"] == f"arenas/{arena}" and stats["allocated_bytes"] == 10240
        assert shape(stats) == shape(ctl_json(daemon, "stats", arena)["arenas"][0])
        del blocks


def test_purge_returns_freed_runs(daemon, ctl, arena):
    with shmpool.attach(arena, daemon.endpoint) as client:
        for buf in [client.alloc(1 << 20) for _ in range(8)]:
            buf.free()
        purged = ctl.purge(arena)
    assert [p["name"] for p in purged["arenas"]] == [f"arenas/{arena}"]
    assert purged["released_bytes"] >= 8 << 20
    assert purged["released_bytes"] == purged["arenas"][0]["released_bytes"]
    assert shape(purged) == shape(ctl_json(daemon, "purge", arena))
    assert ctl.stats(arena)["purges_on_demand"] == 2
    every = ctl.purge_all()
    assert [p["name"] for p in every["arenas"]] == [a["name"] for a in ctl.list_arenas()]
    assert shape(every) == shape(ctl_json(daemon, "purge", "--all"))


def test_pools(daemon, ctl, arena):
    pool = ctl.create_pool(arena, "p1", object_size=2048, count=64, headroom=128)
    assert pool["name"] == f"arenas/{arena}/pools/p1"
    assert pool["count"] == 64 and pool["free"] == 64 and pool["headroom"] == 128
    assert ctl.list_pools(arena) == ctl_json(daemon, "pool", "list", arena)["pools"]
    assert f"arenas/{arena}/pools/p1" in [p["name"] for p in ctl.list_pools()]
    ctl.delete_pool(arena, "p1")
    assert ctl.list_pools(arena) == []
    with pytest.raises(control.NotFound):
        ctl.delete_pool(arena, "p1")


def test_refusals_raise_the_class_of_their_status(daemon, ctl, arena):
    with pytest.raises(control.InvalidArgument) as bad:
        ctl.create_arena("a/b", capacity=1 << 20)
    assert isinstance(bad.value, shmpool.InvalidArgument) and bad.value.code == -1
    assert bad.value.status.name == "INVALID_ARGUMENT" and "'/'" in bad.value.message
    with pytest.raises(control.InvalidArgument, match="multiple of 4 KiB"):
        ctl.create_arena("big", capacity=4097)
    for call in (ctl.get_arena, ctl.stats, ctl.purge, ctl.reset_arena, ctl.delete_arena):
        with pytest.raises(shmpool.NotFound) as missing:
            call("nope")
        assert isinstance(missing.value, control.NotFound) and missing.value.code == -2
        assert missing.value.status.name == "NOT_FOUND" and "nope" in missing.value.message
    with pytest.raises(control.AlreadyExists):
        ctl.create_arena(arena, capacity=1 << 20)
    with shmpool.attach(arena, daemon.endpoint):
        with pytest.raises(control.FailedPrecondition, match="1 client is still attached"):
            ctl.delete_arena(arena)


def test_a_daemon_that_cannot_be_reached_or_does_not_answer(daemon, tmp_path):
    with pytest.raises(control.Unavailable) as gone:
        control.connect(f"unix:{tmp_path}/none.sock").list_arenas()
    assert isinstance(gone.value, shmpool.Unavailable) and gone.value.code == -6
    assert gone.value.status.name == "UNAVAILABLE" and "none.sock" in gone.value.message
    daemon.pause()
    try:
        with pytest.raises(control.DeadlineExceeded, match="did not answer within 0.5 s"):
            control.connect(daemon.endpoint, timeout=0.5).list_arenas()
    finally:
        daemon.resume()


def test_endpoint_forms_and_environment(daemon, monkeypatch):
    path = daemon.endpoint[len("unix:"):]
    for form in (daemon.endpoint, "unix://" + path, path):
        with control.connect(form) as c:
            assert c.endpoint == daemon.endpoint and c.list_arenas()
    monkeypatch.setenv("SHMPOOL_ENDPOINT", daemon.endpoint)
    with control.connect() as c:
        assert c.endpoint == daemon.endpoint and c.list_arenas()
    monkeypatch.setenv("SHMPOOL_ENDPOINT", "unix:/nonexistent/d.sock")
    with control.connect(daemon.endpoint) as c:
        assert c.list_arenas()
    for bad in ("nohostport", "host:", "unix:relative/d.sock"):
        with pytest.raises(control.InvalidArgument, match="bad endpoint"):
            control.connect(bad)


@pytest.mark.parametrize("case", ["trusted", "group_writable_dir", "symlink"])
def test_default_socket_is_the_c_clients(tmp_path, monkeypatch, case):
    """Where the default endpoint leads, shmpoolctl's C++ (proto/api/endpoint.cc) against
    shmpool.control's, with a socket nothing listens at in $XDG_RUNTIME_DIR/shmpool (ahead
    of /tmp/shmpool-$UID; /run/shmpool has no socket on a machine without a system daemon)."""
    xdg = tmp_path / "xdg"
    directory = xdg / "shmpool"
    directory.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX)
    if case == "symlink":
        listener.bind(str(tmp_path / "elsewhere.sock"))
        (directory / "shmpoold.sock").symlink_to(tmp_path / "elsewhere.sock")
    else:
        listener.bind(str(directory / "shmpoold.sock"))
    os.chmod(directory, 0o777 if case == "group_writable_dir" else 0o700)
    monkeypatch.delenv("SHMPOOL_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    done = subprocess.run([os.environ["SHMPOOLCTL"], "--timeout", "5", "arena", "list"],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    try:
        target = control.connect().endpoint
    except control.FailedPrecondition as refused:
        assert case != "trusted"
        assert done.stderr.strip() == f"shmpoolctl: {refused.message}"
    else:
        assert case == "trusted" and target == f"unix:{directory}/shmpoold.sock"
        assert target in done.stderr
    listener.close()


def test_tcp_peers_without_tls_are_unauthenticated(daemon, arena):
    with control.connect(daemon.tcp) as c:
        assert c.endpoint == daemon.tcp
        with pytest.raises(control.PermissionDenied) as refused:
            c.stats(arena)
    assert isinstance(refused.value, shmpool.PermissionDenied) and refused.value.code == -4
    assert refused.value.status.name == "UNAUTHENTICATED"


def openssl(*args):
    subprocess.run(["/usr/bin/openssl", *args], check=True, capture_output=True)


@pytest.fixture
def tls_daemon(tmp_path):
    """A shmpoold whose TCP listener takes TLS with client certificates ([tls]): its TCP
    endpoint, and the PEM files of a CA that signed the server's and a client's certificate."""
    pki = {}
    (tmp_path / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n"
                                         "extendedKeyUsage=serverAuth\n")
    (tmp_path / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", tmp_path / "ca.key", "-out", tmp_path / "ca.pem",
            "-days", "2", "-subj", "/CN=shmpool test CA")
    for who in ("server", "client"):
        openssl("req", *ec, "-keyout", tmp_path / f"{who}.key", "-out", tmp_path / f"{who}.csr",
                "-subj", f"/CN={who}")
        openssl("x509", "-req", "-in", tmp_path / f"{who}.csr", "-CA", tmp_path / "ca.pem",
                "-CAkey", tmp_path / "ca.key", "-CAcreateserial", "-out",
                tmp_path / f"{who}.pem", "-days", "2", "-extfile", tmp_path / f"{who}.ext")
        pki[who] = (str(tmp_path / f"{who}.pem"), str(tmp_path / f"{who}.key"))
    (tmp_path / "d.toml").write_text(f'[tls]\ncert_file = "{pki["server"][0]}"\n'
                                     f'key_file = "{pki["server"][1]}"\n'
                                     f'ca_file = "{tmp_path / "ca.pem"}"\n')
    tcp = f"127.0.0.1:{conftest.free_port()}"
    shm = tempfile.mkdtemp(prefix="shmpool-pytest.", dir="/dev/shm")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30)
    daemon = subprocess.Popen([
        os.environ["SHMPOOLD"], "--config", tmp_path / "d.toml", "--listen",
        f"unix:{tmp_path}/d.sock,{tcp}", "--shm-dir", shm
    ], env=dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock")))
    try:
        while b"READY=1" not in notify.recv(4096).split(b"\n"):
            pass
        yield tcp, str(tmp_path / "ca.pem"), pki["client"]
    finally:
        notify.close()
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(shm)


def test_tls_with_a_client_certificate(tls_daemon):
    tcp, ca, (cert, key) = tls_daemon
    with control.connect(tcp, tls_ca=ca, tls_cert=cert, tls_key=key) as c:
        assert "arenas/default" in [a["name"] for a in c.stats_all()]
        with pytest.raises(control.PermissionDenied):  # an operator's tool reads only
            c.create_arena("x", capacity=1 << 20)
    with pytest.raises(control.Unavailable):  # no client certificate: no connection
        control.connect(tcp, timeout=3, tls_ca=ca).stats_all()
    with pytest.raises(control.Unavailable):  # plaintext to the TLS port: none either
        control.connect(tcp, timeout=3).stats_all()
    with pytest.raises(control.InvalidArgument, match="tls_cert and tls_key go together"):
        control.connect(tcp, tls_ca=ca, tls_cert=cert)
    with pytest.raises(control.InvalidArgument, match="tls_ca: cannot read /nonexistent"):
        control.connect(tcp, tls_ca="/nonexistent", tls_cert=cert, tls_key=key)
