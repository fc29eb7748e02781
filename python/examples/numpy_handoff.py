"""Moving numpy arrays between multiprocessing workers, three ways.

A producer worker makes an array of float64, fills it with a sequence number and hands it to
a consumer worker, which sums it; the producer checks the sum and goes on to the next array.

  shmpool        the producer allocates the array's bytes in a shmpool arena and fills them
                 in place; only the ref (an int) and the length go through the queue. The
                 consumer opens the ref, which gives it the block (ownership moves with the
                 ref: the producer gave it up with give()), and frees it after the sum. No
                 copy, no file per array; the arena's stats show what each worker holds.
  shared_memory  one multiprocessing.shared_memory segment per array: the producer creates and
                 fills it and sends its name; the consumer maps it, then closes and unlinks it
                 (manual lifetime: a consumer that dies first leaks the segment).
  pickle         the array itself goes through the multiprocessing.Queue: pickled, written
                 through the queue's pipe, unpickled into a copy.

Every transport sends through the same kind of queue; they differ in what they send. Workers
are started with "spawn" and attach to the arena themselves (a client does not cross fork).

    /usr/bin/python3 python/examples/numpy_handoff.py [--arena default] [--endpoint E]
        [--sizes 4096,1048576] [--count 5]

needs a running shmpoold (the endpoint as the C client finds it, or --endpoint) and the
shmpool package on the path. bench/python_handoff.py times the same workers.
"""

import argparse
import multiprocessing
import statistics
import time
import traceback
from multiprocessing import shared_memory

import numpy as np

import shmpool


class Shmpool:
    """Arrays in blocks of an arena; the ref crosses."""
    name = "shmpool"

    def __init__(self, arena, endpoint=None):
        self.arena, self.endpoint = arena, endpoint

    def start(self):
        self.client = shmpool.attach(self.arena, self.endpoint)

    def new_array(self, nbytes):
        buf = self.client.alloc(nbytes)
        return np.frombuffer(buf, np.float64), buf

    def seal(self, buf):
        return buf.give(), len(buf)

    def open(self, message):
        ref, nbytes = message
        buf = self.client.open(ref, size=nbytes)  # the block may be larger than asked for
        return np.frombuffer(buf, np.float64), buf

    def release(self, buf):
        buf.free()


class SharedMemory:
    """One multiprocessing.shared_memory segment per array; its name crosses."""
    name = "shared_memory"

    def start(self):
        pass

    def new_array(self, nbytes):
        shm = shared_memory.SharedMemory(create=True, size=nbytes)
        return np.ndarray(nbytes // 8, np.float64, buffer=shm.buf), shm

    def seal(self, shm):
        shm.close()
        return shm.name, shm.size

    def open(self, message):
        name, nbytes = message
        shm = shared_memory.SharedMemory(name=name)
        return np.ndarray(nbytes // 8, np.float64, buffer=shm.buf), shm

    def release(self, shm):
        shm.close()
        shm.unlink()


class Pickle:
    """The array itself crosses, pickled."""
    name = "pickle"

    def start(self):
        pass

    def new_array(self, nbytes):
        array = np.empty(nbytes // 8, np.float64)
        return array, array

    def seal(self, array):
        return array

    def open(self, array):
        return array, None

    def release(self, _):
        pass


def _producer(transport, data, acks, commands):
    """Runs (nbytes, count) commands: count hand-offs of arrays of nbytes, one at a time, and
    replies with each one's (total, hand-off) seconds: total from before the array is made
    until the consumer has summed it, hand-off from the filled array's send until the
    consumer holds it. None ends the worker (and its consumer)."""
    try:
        transport.start()
        while (command := commands.recv()) is not None:
            nbytes, count = command
            times = []
            for i in range(count):
                t0 = time.perf_counter()
                array, handle = transport.new_array(nbytes)
                array.fill(i + 1)
                del array
                message = transport.seal(handle)
                t1 = time.perf_counter()
                data.put(message)
                del message
                ack = acks.recv()
                if isinstance(ack, str):
                    raise RuntimeError(f"{transport.name} consumer: {ack}")
                opened, summed, total = ack
                if total != (i + 1) * (nbytes // 8):
                    raise RuntimeError(f"{transport.name}: sum {total} of array {i + 1} of "
                                       f"{nbytes} bytes, want {(i + 1) * (nbytes // 8)}")
                times.append((summed - t0, opened - t1))
            commands.send(times)
    except Exception:  # reported to the driver, which raises it
        commands.send(traceback.format_exc())
    data.put(None)


def _consumer(transport, data, acks):
    """Sums each array the queue brings and acknowledges (opened, summed, sum); a failure
    is acknowledged with its traceback. None ends the worker."""
    try:
        transport.start()
    except Exception:
        acks.send(traceback.format_exc())
    while (message := data.get()) is not None:
        try:
            array, handle = transport.open(message)
            del message
            opened = time.perf_counter()
            total = float(array.sum())
            summed = time.perf_counter()
            del array
            transport.release(handle)
            acks.send((opened, summed, total))
        except Exception:
            acks.send(traceback.format_exc())


class Pair:
    """A producer worker and a consumer worker handing arrays through one transport."""

    def __init__(self, transport, context=None):
        context = context or multiprocessing.get_context("spawn")
        self.name = transport.name
        # Kept for the pair's life: a spawned worker opens the queue's semaphores by name
        # after start() returns, and they go with the last reference here.
        self._data = context.Queue()
        ack_out, ack_in = context.Pipe(duplex=False)
        self._commands, commands = context.Pipe()
        self._workers = [
            context.Process(target=_producer, args=(transport, self._data, ack_out, commands)),
            context.Process(target=_consumer, args=(transport, self._data, ack_in)),
        ]
        for w in self._workers:
            w.start()

    def run(self, nbytes, count):
        """count hand-offs of nbytes (a multiple of 8): [(total, hand-off) seconds, ...]."""
        self._commands.send((nbytes, count))
        reply = self._commands.recv()
        if isinstance(reply, str):
            raise RuntimeError(f"{self.name} producer failed:\n{reply}")
        return reply

    def close(self):
        producer, consumer = self._workers
        try:
            self._commands.send(None)
        except OSError:  # the producer is gone already
            pass
        producer.join()
        if producer.exitcode != 0:  # died without telling its consumer to stop
            consumer.terminate()
        consumer.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def transports(arena, endpoint=None):
    return [Shmpool(arena, endpoint), SharedMemory(), Pickle()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arena", default="default")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--sizes", default="4096,1048576", help="bytes, comma-separated")
    parser.add_argument("--count", type=int, default=5, help="arrays per size and transport")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for transport in transports(args.arena, args.endpoint):
        with Pair(transport) as pair:
            for nbytes in sizes:
                times = pair.run(nbytes, args.count)
                total = statistics.median(t for t, _ in times)
                print(f"{transport.name:>13} {nbytes:>10} B: {args.count} arrays, sums ok, "
                      f"median {total * 1e6:.0f} us each")


if __name__ == "__main__":
    main()
