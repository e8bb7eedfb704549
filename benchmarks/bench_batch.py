"""Batch scoring: rows/s against a hand-written pyarrow loop, peak memory, Dask vs local.

In a temporary project (its own lake and metadata database), measured in one run:

1. **Throughput.** 1,000,000 rows x 30 float columns in a lake table (parquet), scored
   by a logistic regression into a lake table with ``dockyard.batch.run`` (the shared
   runtime's validation, Delta commits per chunk, job records), against the same work
   written by hand in this process: stream the table's parquet files in record batches
   of ``--chunk-rows``, stack them, ``model.predict``, write parquet. Best of
   ``--repeat``; prints the ratio (floor: 0.8).
2. **Peak memory.** Peak RSS (``ru_maxrss``) of a job on an input 10x the chunk size
   against one on an input of one chunk, each in a fresh subprocess (floor: <= 1.2x).
3. **Dask.** The same 1M-row job on 2 worker processes of a ``LocalCluster`` (started
   once, before timing: connected as ``dask://HOST:PORT``) against local: the speed-up;
   and the time per chunk of a job of many small chunks on each (the per-chunk overhead
   of a round trip to a worker).

    .venv/bin/python benchmarks/bench_batch.py [--rows 1000000] [--chunk-rows 100000]
        [--repeat 5]

Bounded: about a minute at the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

COLUMNS = [f"x{i}" for i in range(30)]


def make_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({c: rng.normal(size=rows) for c in COLUMNS})


def write_lake(uri: str, table: pa.Table, row_group: int) -> None:
    from deltalake import WriterProperties, write_deltalake

    write_deltalake(
        uri,
        table,
        mode="overwrite",
        writer_properties=WriterProperties(max_row_group_size=row_group),
    )


def setup(root: Path, rows: int, chunk_rows: int) -> Any:
    os.environ["DOCKYARD_HOME"] = str(root)
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import dockyard.lake
    from dockyard.registry import register_model
    from dockyard.stacks.stack import clear_cache

    clear_cache()
    sample = make_table(20_000, seed=1).to_pandas()
    y = (sample.x0 + sample.x1 - sample.x2 > 0).astype(int)
    model = LogisticRegression(max_iter=200).fit(sample, y)
    register_model("bench", model, sample=sample)
    lake = dockyard.lake.open()
    write_lake(lake.table_uri("raw/bench"), make_table(rows), chunk_rows)
    write_lake(lake.table_uri("raw/one"), make_table(chunk_rows), chunk_rows)
    write_lake(lake.table_uri("raw/ten"), make_table(10 * chunk_rows), chunk_rows)
    write_lake(lake.table_uri("raw/small"), make_table(100_000), 500)  # 200 chunks
    _ = pd
    return lake, model


def hand_written(lake: Any, model: Any, chunk_rows: int, out: Path) -> float:
    """The same work without dockyard: stream, stack, predict, write parquet."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    started = time.perf_counter()
    files = sorted(DeltaTable(lake.table_uri("raw/bench")).file_uris())
    schema = pa.schema([("row", pa.int64()), ("prediction", pa.int64())])
    with pq.ParquetWriter(out, schema, compression="snappy") as writer:
        row = 0
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=COLUMNS):
                x = np.column_stack([batch.column(i).to_numpy() for i in range(batch.num_columns)])
                with warnings.catch_warnings():  # fitted on a DataFrame, given an array
                    warnings.simplefilter("ignore", UserWarning)
                    pred = model.predict(x)
                ids = np.arange(row, row + len(pred))
                row += len(pred)
                writer.write_table(pa.table({"row": ids, "prediction": pred}, schema=schema))
    return time.perf_counter() - started


def hand_tuned(lake: Any, model: Any, chunk_rows: int, out: Path) -> float:
    """The hand-written loop as a tuned script would write it: read the row groups on two
    threads ahead of the model (pyarrow releases the GIL), fill a Fortran-order matrix
    (columns contiguous: no row interleaving), predict, write."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    def read(job: tuple[str, int]) -> np.ndarray:
        path, group = job
        batch = pq.ParquetFile(path).read_row_group(group, columns=COLUMNS)
        x = np.empty((batch.num_rows, batch.num_columns), order="F")
        for i in range(batch.num_columns):
            x[:, i] = batch.column(i).to_numpy()
        return x

    started = time.perf_counter()
    files = sorted(DeltaTable(lake.table_uri("raw/bench")).file_uris())
    jobs = [(p, g) for p in files for g in range(pq.ParquetFile(p).num_row_groups)]
    schema = pa.schema([("row", pa.int64()), ("prediction", pa.int64())])
    with (
        pq.ParquetWriter(out, schema, compression="snappy") as writer,
        ThreadPoolExecutor(2) as pool,
    ):
        row = 0
        for x in pool.map(read, jobs):  # at most two row groups ahead
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                pred = model.predict(x)
            ids = np.arange(row, row + len(pred))
            row += len(pred)
            writer.write_table(pa.table({"row": ids, "prediction": pred}, schema=schema))
    return time.perf_counter() - started


def dockyard_job(name: str, output: str, chunk_rows: int, executor: str = "local") -> float:
    import dockyard.batch as batch

    started = time.perf_counter()
    summary = batch.run(
        "bench:1",
        input=f"lake://raw/{name}",
        output=f"lake://predictions/{output}",
        chunk_rows=chunk_rows,
        executor=executor,
        job_id=output,
    )
    took = time.perf_counter() - started
    if summary.chunks_failed:
        raise SystemExit(f"job {output} failed: {summary.errors[:1]}")
    return took


RSS_SCRIPT = """
import json, os, resource, sys
import dockyard.batch as batch
name, chunk_rows = sys.argv[1], int(sys.argv[2])
s = batch.run("bench:1", input=f"lake://raw/{name}", output=f"lake://predictions/rss_{name}",
              chunk_rows=chunk_rows, job_id=f"rss-{name}")
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": s.rows, "chunks": s.chunks_total}))
"""


def peak_rss(root: Path, name: str, chunk_rows: int) -> dict[str, Any]:
    env = {**os.environ, "DOCKYARD_HOME": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, name, str(chunk_rows)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        lake, model = setup(root, args.rows, args.chunk_rows)

        # Alternated, best of each: drift on a shared machine hits both alike.
        hands, tuned_runs, ours_runs = [], [], []
        for i in range(args.repeat):
            hands.append(hand_written(lake, model, args.chunk_rows, root / f"hand{i}.parquet"))
            tuned_runs.append(hand_tuned(lake, model, args.chunk_rows, root / f"tuned{i}.parquet"))
            ours_runs.append(dockyard_job("bench", f"local{i}", args.chunk_rows))
        hand, tuned, ours = min(hands), min(tuned_runs), min(ours_runs)
        print(f"rows: {args.rows:,} x {len(COLUMNS)} float columns, chunks of {args.chunk_rows:,}")
        print(f"hand-written pyarrow loop : {args.rows / hand:>12,.0f} rows/s ({hand:.2f} s)")
        print(f"hand-written, tuned       : {args.rows / tuned:>12,.0f} rows/s ({tuned:.2f} s)")
        print(f"dockyard batch run (local): {args.rows / ours:>12,.0f} rows/s ({ours:.2f} s)")
        print(f"ratio dockyard / hand-written: {hand / ours:.2f} (floor 0.80)")
        print(f"ratio dockyard / hand-written, tuned: {tuned / ours:.2f} (floor 0.80)")

        one = peak_rss(root, "one", args.chunk_rows)
        ten = peak_rss(root, "ten", args.chunk_rows)
        print(
            f"peak RSS: 1 chunk {one['rss_mb']:.0f} MB, {ten['chunks']} chunks "
            f"{ten['rss_mb']:.0f} MB: ratio {ten['rss_mb'] / one['rss_mb']:.2f} (limit 1.20)"
        )

        from distributed import LocalCluster

        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
            dask_warm = dockyard_job("small", "warm", 500, address)  # workers load the model
            on_dask = min(
                dockyard_job("bench", f"dask{i}", args.chunk_rows, address)
                for i in range(args.repeat)
            )
            small_dask = dockyard_job("small", "small_dask", 500, address)
        small_local = dockyard_job("small", "small_local", 500)
        print(
            f"dask, 2 workers: {args.rows / on_dask:,.0f} rows/s ({on_dask:.2f} s): "
            f"speed-up vs local {ours / on_dask:.2f}x"
        )
        print(
            f"per chunk (200 chunks of 500 rows): local {small_local / 200 * 1000:.1f} ms, "
            f"dask {small_dask / 200 * 1000:.1f} ms: overhead {(small_dask - small_local) / 200 * 1000:+.1f} ms "
            f"a chunk (first dask job, model loads included: {dask_warm:.1f} s)"
        )


if __name__ == "__main__":
    main()
