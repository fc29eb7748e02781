"""A hand-off to a process started with multiprocessing's fork method, run by
test_handoff.py in an interpreter of its own (the test's process has attached through the
daemon, and a process that has cannot fork attaching children): the receiver is forked
before this process attaches, then this process sends. Usage: fork_handoff.py ENDPOINT
ARENA; exit 0 when the receiver saw every block's bytes and freed it."""

import multiprocessing
import sys

import handoff_peer
import shmpool


def main(endpoint, arena):
    ctx = multiprocessing.get_context("fork")
    jobs, results = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=handoff_peer.receive, args=(arena, endpoint, jobs, results),
                    daemon=True)
    p.start()
    with shmpool.attach(arena, endpoint) as c:
        refs, crcs = handoff_peer.send(c)
        jobs.put((refs, crcs))
        handoff_peer.collect(results, refs)
    p.join(60)
    assert p.exitcode == 0, p.exitcode
    print(f"fork_handoff: {len(refs)} blocks handed to pid {p.pid}")


if __name__ == "__main__":
    main(*sys.argv[1:])
