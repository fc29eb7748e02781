#!/usr/bin/env python3
"""shmpoold's readiness protocol for systemd (Type=notify, deploy/shmpoold.service).

With $NOTIFY_SOCKET set, the daemon must send READY=1 only when its Unix socket accepts
connections, then STOPPING=1 when SIGTERM starts the graceful stop, and exit 0.
Usage: notify_test.py SHMPOOLD
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile


def main():
    shmpoold = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="shmpool-notify-test.") as work, \
            tempfile.TemporaryDirectory(prefix="shmpool-notify-test.", dir="/dev/shm") as shm:
        notify_path = os.path.join(work, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(60)
        sock = os.path.join(work, "d.sock")
        log = open(os.path.join(work, "daemon.log"), "w+")
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        daemon = subprocess.Popen([shmpoold, "--listen", "unix:" + sock, "--shm-dir", shm],
                                  env=env, stderr=log)
        try:
            ready = notify.recv(4096).decode()
            assert "READY=1" in ready.split("\n"), f"first notification: {ready!r}"
            # Ready means clients can connect now.
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(sock)
            client.close()
            daemon.send_signal(signal.SIGTERM)
            stopping = notify.recv(4096).decode()
            assert "STOPPING=1" in stopping.split("\n"), f"after SIGTERM: {stopping!r}"
            status = daemon.wait(timeout=60)
            assert status == 0, f"shmpoold exited {status} after SIGTERM"
        except BaseException:
            daemon.kill()
            daemon.wait()
            log.seek(0)
            sys.stderr.write(log.read())
            raise
    print("PASS: READY=1 when the socket accepts, STOPPING=1 on SIGTERM, exit 0")


if __name__ == "__main__":
    main()
