"""shmpool.control against a private shmpoold: arenas, pools, stats and purges give what
shmpoolctl --json prints; the daemon's refusals raise the classes of their status; endpoints
are found as the C client finds them."""

import os
import signal
import socket
import subprocess

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


@pytest.fixture
def ctl(daemon):
    with control.connect(daemon.endpoint) as c:
        yield c


def test_arenas_are_what_shmpoolctl_shows(daemon, ctl):
    created = ctl.create_arena("t1", capacity=64 << 20, quota=1 << 20)
    assert created["name"] == "arenas/t1"
    assert created["capacity_bytes"] == 64 << 20 and created["quota_bytes"] == 1 << 20
    assert ctl.get_arena("t1") == daemon.ctl_json("arena", "get", "t1")
    assert ctl.list_arenas() == daemon.ctl_json("arena", "list")["arenas"]
    assert [a["name"] for a in ctl.list_arenas()] == ["arenas/default", "arenas/t1"]
    assert ctl.set_quota("t1", 2 << 20)["quota_bytes"] == 2 << 20
    assert ctl.set_quota("arenas/t1", 0)["quota_bytes"] == 0
    reset = ctl.reset_arena("t1")
    assert reset["generation"] == 1 and reset == ctl.get_arena("t1")
    ctl.delete_arena("t1")
    assert [a["name"] for a in ctl.list_arenas()] == ["arenas/default"]


def test_stats_have_the_fields_of_shmpoolctl_stats_json(daemon, ctl, worker):
    ctl.create_arena("t1", capacity=64 << 20)
    worker.run(f"attach {daemon.endpoint} t1")
    worker.run("alloc 256 100")
    stats = ctl.stats("t1")
    assert stats["name"] == "arenas/t1"
    assert stats["allocated"] == 25600 and stats["nmalloc"] >= 100
    assert [c["session"]["client_name"] for c in stats["clients"]] == ["shmpool_test_worker"]
    assert [k["size"] for k in stats["size_classes"] if k["allocated"]] == [256]
    cli = daemon.ctl_json("stats", "t1")["arenas"]
    assert len(cli) == 1 and shape(stats) == shape(cli[0])
    every = ctl.stats_all()
    assert [a["name"] for a in every] == ["arenas/default", "arenas/t1"]
    assert shape(every) == shape(daemon.ctl_json("stats")["arenas"])


def test_purge_returns_freed_runs(daemon, ctl, worker):
    ctl.create_arena("t1", capacity=64 << 20)
    worker.run(f"attach {daemon.endpoint} t1")
    refs = worker.run("alloc 1048576 8")
    worker.run("free " + " ".join(refs))
    purged = ctl.purge("t1")
    assert [p["name"] for p in purged["arenas"]] == ["arenas/t1"]
    assert purged["released_bytes"] >= 8 << 20
    assert purged["released_bytes"] == purged["arenas"][0]["released_bytes"]
    assert shape(purged) == shape(daemon.ctl_json("purge", "t1"))
    assert ctl.stats("t1")["purges_on_demand"] == 2
    every = ctl.purge_all()
    assert [p["name"] for p in every["arenas"]] == ["arenas/default", "arenas/t1"]
    assert shape(every) == shape(daemon.ctl_json("purge", "--all"))


def test_pools(daemon, ctl):
    pool = ctl.create_pool("default", "p1", object_size=2048, count=64, headroom=128)
    assert pool["name"] == "arenas/default/pools/p1"
    assert pool["count"] == 64 and pool["free"] == 64 and pool["headroom"] == 128
    assert ctl.list_pools("default") == daemon.ctl_json("pool", "list", "default")["pools"]
    assert [p["name"] for p in ctl.list_pools()] == ["arenas/default/pools/p1"]
    ctl.delete_pool("default", "p1")
    assert ctl.list_pools() == []
    with pytest.raises(control.NotFound):
        ctl.delete_pool("default", "p1")


def test_refusals_raise_the_class_of_their_status(daemon, ctl, worker):
    with pytest.raises(control.InvalidArgument) as bad:
        ctl.create_arena("a/b", capacity=1 << 20)
    assert isinstance(bad.value, shmpool.Error)
    assert bad.value.status.name == "INVALID_ARGUMENT" and "'/'" in bad.value.message
    with pytest.raises(control.InvalidArgument, match="multiple of 4 KiB"):
        ctl.create_arena("big", capacity=4097)
    for call in (ctl.get_arena, ctl.stats, ctl.purge, ctl.reset_arena, ctl.delete_arena):
        with pytest.raises(control.NotFound) as missing:
            call("nope")
        assert missing.value.status.name == "NOT_FOUND" and "nope" in missing.value.message
    ctl.create_arena("t1", capacity=1 << 20)
    with pytest.raises(control.AlreadyExists):
        ctl.create_arena("t1", capacity=1 << 20)
    worker.run(f"attach {daemon.endpoint} t1")
    with pytest.raises(control.FailedPrecondition, match="1 client is still attached"):
        ctl.delete_arena("t1")
    worker.run("detach")
    ctl.delete_arena("t1")


def test_a_daemon_that_cannot_be_reached_or_does_not_answer(daemon, tmp_path):
    with pytest.raises(control.Unavailable) as gone:
        control.connect(f"unix:{tmp_path}/none.sock").list_arenas()
    assert gone.value.status.name == "UNAVAILABLE" and "none.sock" in gone.value.message
    daemon.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(control.DeadlineExceeded, match="did not answer within 0.5 s"):
            control.connect(daemon.endpoint, timeout=0.5).list_arenas()
    finally:
        daemon.process.send_signal(signal.SIGCONT)


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


def _c_client_outcome(env):
    """What shmpoolctl makes of the default endpoint under `env`: its refusal, or the target
    it tried (nothing listens at the sockets these tests make)."""
    done = subprocess.run([os.environ["SHMPOOLCTL"], "--timeout", "5", "arena", "list"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1, done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize("case", ["trusted", "group_writable_dir", "symlink"])
def test_default_socket_is_the_c_clients(tmp_path, monkeypatch, case):
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
    c_said = _c_client_outcome(dict(os.environ))
    try:
        target = control.connect().endpoint
    except control.FailedPrecondition as refused:
        assert c_said == f"shmpoolctl: {refused.message}"
        assert case != "trusted"
    else:
        assert case == "trusted" and target == f"unix:{directory}/shmpoold.sock"
        assert target in c_said
    listener.close()
