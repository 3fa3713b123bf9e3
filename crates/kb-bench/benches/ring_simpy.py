"""The reference of the collectives bench: a ring all-reduce simulated in Python on greenlet and SimPy.

This is how the Python system kernbench replaces runs a collective: every rank is a greenlet that
switches to a scheduler greenlet when it enters the collective; when every rank has entered, the
ring's ops are created as SimPy processes — each link transfer holds its directed link for
`latency + bytes / bandwidth`, each reduction holds the receiver's vector unit — with their
dependencies as SimPy events, and the SimPy environment runs them to the end. The cost model is
kernbench's default machine (100 GB/s links, 500 ns latency, reductions bound by one HBM slot of
200 GB/s reading twice and writing once), one slice per chunk.

Usage: python3 ring_simpy.py [ranks] [bytes]   (default: 1024 ranks, 1 MiB of f32)
Prints the simulated time and the wall time. Needs `simpy` and `greenlet` (pip).
"""

import sys
import time

import greenlet
import simpy

LINK_GBPS = 100.0
LATENCY_PS = 500_000
HBM_SHARE_GBPS = 200.0
VECTOR_ELEMS_PER_PS = 128 * 1.5 / 1000.0


def ps(bytes_, gbps):
    return round(bytes_ / gbps * 1000.0)


def record_ring_all_reduce(env, n, count):
    """Creates the SimPy processes of a ring all-reduce; returns the events of each member's end."""
    links = [simpy.Resource(env, capacity=1) for _ in range(n)]
    vectors = [simpy.Resource(env, capacity=1) for _ in range(n)]
    base, rem = divmod(count, n)
    chunk = [base + (1 if k < rem else 0) for k in range(n)]

    def op(resource, duration, deps):
        if deps:
            yield simpy.AllOf(env, deps)
        with resource.request() as req:
            yield req
            yield env.timeout(duration)

    # last[p][k]: the event of the last write of chunk k on member p.
    last = [[None] * n for _ in range(n)]
    for s in range(n - 1):
        for p in range(n):
            q, k = (p + 1) % n, (p - s) % n
            nbytes = chunk[k] * 4
            deps = [e for e in (last[p][k],) if e is not None]
            hop = env.process(op(links[p], LATENCY_PS + ps(nbytes, LINK_GBPS), deps))
            reduce_ps = max(round(chunk[k] / VECTOR_ELEMS_PER_PS), ps(3 * nbytes, HBM_SHARE_GBPS))
            deps = [e for e in (hop, last[q][k]) if e is not None]
            last[q][k] = env.process(op(vectors[q], reduce_ps, deps))
    for s in range(n - 1):
        for p in range(n):
            q, k = (p + 1) % n, (p + 1 - s) % n
            nbytes = chunk[k] * 4
            deps = [e for e in (last[p][k],) if e is not None]
            last[q][k] = env.process(op(links[p], LATENCY_PS + ps(nbytes, LINK_GBPS), deps))
    return [simpy.AllOf(env, [e for e in last[p] if e is not None]) for p in range(n)]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    nbytes = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
    start = time.perf_counter()
    env = simpy.Environment()
    entered = []
    done = {}

    def rank(r):
        # Enter the collective: park until every rank has, then wait on this rank's end.
        entered.append(r)
        ends = scheduler.switch()
        env.run(until=ends[r])
        done[r] = env.now

    def schedule():
        ranks = [greenlet.greenlet(lambda r=r: rank(r)) for r in range(n)]
        for g in ranks:
            g.switch()
        ends = record_ring_all_reduce(env, n, nbytes // 4)
        for g in ranks:
            g.switch(ends)

    scheduler = greenlet.greenlet(schedule)
    scheduler.switch()
    wall = time.perf_counter() - start
    print(f"{n} ranks, {nbytes} B: simulated {max(done.values()) / 1e6:.1f} us, wall {wall:.2f} s")


if __name__ == "__main__":
    main()
