"""Times handing numpy arrays from one process to another through shmpool refs, through
multiprocessing.shared_memory and by pickling through a multiprocessing.Queue: the workers of
python/examples/numpy_handoff.py (read its header for what each transport does).

Per hand-off, two times (perf_counter, CLOCK_MONOTONIC, the same clock in every process):
  total     the producer makes the array (allocates, creates or np.empty) and fills it, the
            consumer receives it and sums it: from before the making to after the sum;
  hand-off  from the filled array's send to the consumer holding it (what crossing costs:
            the queue, plus the open, attach or unpickle).
Each round runs `count` hand-offs of every size through every transport in turn (shmpool,
shared_memory, pickle, shmpool, ...) and keeps each run's median; the table shows the median
over rounds of those medians, and the ratios of the others to shmpool in the same run. The
first run of each transport and size is a warm-up, not counted.

    /usr/bin/python3 bench/python_handoff.py [--arena default] [--endpoint E] [--rounds 7]

needs a running shmpoold whose arena holds the largest array, and the shmpool package on the
path (bench/README.md has the whole command).
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python",
                                "examples"))
import numpy_handoff  # noqa: E402 (found through the path above)

# Hand-offs per run, by size: about the same wall time for each.
SIZES = [(4 << 10, 200), (1 << 20, 50), (64 << 20, 5)]


def size_name(nbytes):
    return f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arena", default="default")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pairs = [numpy_handoff.Pair(t) for t in numpy_handoff.transports(args.arena, args.endpoint)]
    medians = {}  # (transport, nbytes) -> per round [(total, hand-off) median, ...]
    try:
        for nbytes, count in SIZES:
            for pair in pairs:
                pair.run(nbytes, min(count, 10))
        for r in range(args.rounds):
            for nbytes, count in SIZES:
                for pair in pairs:
                    times = pair.run(nbytes, count)
                    medians.setdefault((pair.name, nbytes), []).append(
                        tuple(statistics.median(t[k] for t in times) for k in (0, 1)))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for pair in pairs:
            pair.close()
    names = [p.name for p in pairs]
    print(f"medians of {args.rounds} rounds, us per hand-off: total (hand-off only)\n")
    print("| size | " + " | ".join(names) + " | " +
          " | ".join(f"{n} / {names[0]}" for n in names[1:]) + " |")
    print("|---" * (2 * len(names)) + "|")
    for nbytes, _ in SIZES:
        cell = {n: [statistics.median(m[k] for m in medians[(n, nbytes)]) for k in (0, 1)]
                for n in names}
        row = [f"{cell[n][0] * 1e6:.0f} ({cell[n][1] * 1e6:.0f})" for n in names]
        row += [f"{cell[n][0] / cell[names[0]][0]:.1f}x ({cell[n][1] / cell[names[0]][1]:.1f}x)"
                for n in names[1:]]
        print(f"| {size_name(nbytes)} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
