"""Filter pushdown: bytes read by a 1%-selective partition filter vs a full scan.

Writes a Delta table of ``--rows`` rows (an id, a partition column with 100 values, and
``--columns`` float columns) to a temporary local lake, then streams it with
``lake.scan`` twice, measured in one run:

- a full scan;
- ``filters=[("part", "=", 7)]``: one partition of 100, so 1% of the rows;
- the same 1% as a per-file statistics filter on ``id`` (an unpartitioned copy of the
  table written in id order), which prunes through the Delta log's min/max per file.

Bytes read are the process's ``rchar`` from ``/proc/self/io`` (every byte a ``read``
returned, page cache or disk alike, pyarrow's I/O threads included) around each scan, so
they count what was actually read, footers and log included. Prints both, and the ratio.

    .venv/bin/python benchmarks/bench_lake.py [--rows 2000000] [--columns 8]

Bounded: about 20 s on these machines at the defaults.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from dockyard.lake.delta import DeltaLake

PARTS = 100


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io (Linux only)")


def measure(label: str, scan: Callable[[], int]) -> tuple[int, int, float]:
    before, started = rchar(), time.perf_counter()
    rows = scan()
    took = time.perf_counter() - started
    read = rchar() - before
    print(f"  {label:<34} {rows:>10,} rows  {read / 2**20:>9.1f} MiB read  {took * 1000:>7.0f} ms")
    return rows, read, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--columns", type=int, default=8)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    ids = np.arange(args.rows, dtype=np.int64)
    data = {"id": ids, "part": (ids % PARTS).astype(np.int64)}
    for c in range(args.columns):
        data[f"x{c}"] = rng.random(args.rows)
    table = pa.table(data)

    with tempfile.TemporaryDirectory() as tmp:
        lake = DeltaLake(f"{tmp}/lake")
        started = time.perf_counter()
        lake.write("raw/bench", table, partition_by=["part"])
        # The same rows, unpartitioned, in id order and in 100 files (one write each):
        # the per-file min/max of id in the Delta log prune what an id range cannot match.
        step = args.rows // PARTS
        lake.write("raw/by_id", [table.slice(0, step)])
        for i in range(1, PARTS):
            lake.write("raw/by_id", table.slice(i * step, step))
        print(
            f"wrote {args.rows:,} rows x {2 + args.columns} columns twice in "
            f"{time.perf_counter() - started:.1f} s "
            f"({lake.describe('raw/bench').size_bytes / 2**20:.1f} MiB, {PARTS} partitions)"
        )

        def count(name: str, filters: object = None) -> Callable[[], int]:
            return lambda: sum(b.num_rows for b in lake.scan(name, filters=filters))

        print("partitioned by part:")
        full_rows, full, _ = measure("full scan", count("raw/bench"))
        part_rows, part, _ = measure(
            "filter part = 7 (1% of partitions)", count("raw/bench", [("part", "=", 7)])
        )
        print("unpartitioned, 100 files in id order:")
        _, full_id, _ = measure("full scan", count("raw/by_id"))
        lo = 7 * step
        id_rows, by_id, _ = measure(
            "filter id in one file's range (1%)",
            count("raw/by_id", [("id", ">=", lo), ("id", "<", lo + step)]),
        )
    if part_rows * PARTS != full_rows or id_rows != step:
        raise SystemExit(f"wrong row counts: {part_rows}, {id_rows}")
    print(
        f"partition filter: {part / 2**20:.1f} MiB vs {full / 2**20:.1f} MiB full, "
        f"ratio {part / full:.4f} (1% selective; floor ~0.01)"
    )
    print(
        f"statistics filter: {by_id / 2**20:.1f} MiB vs {full_id / 2**20:.1f} MiB full, "
        f"ratio {by_id / full_id:.4f}"
    )


if __name__ == "__main__":
    main()
