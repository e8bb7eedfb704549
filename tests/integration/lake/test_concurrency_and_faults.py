"""Two processes committing to one table at once, and storage that fails: the messages.

delta-rs commits a version by creating ``_delta_log/<n>.json`` only if it does not exist
(an S3 conditional write, ``If-None-Match: *``, which moto's server honours; a hard link on
a local disk), so of two writers racing for version n one wins and the other retries at
n+1. Nothing here needs DynamoDB or a lock service.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dockyard.errors import LakeUnavailableError
from dockyard.lake.delta import DeltaLake
from lake_moto import make_bucket, s3_options, start_moto, stop_moto

WRITER = """
import json, sys, time
import pyarrow as pa
from dockyard.lake.delta import DeltaLake

spec, writer, commits, start = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
lake = DeltaLake(**spec)
while time.time() < start:  # both writers begin at the same moment
    time.sleep(0.005)
versions = []
for i in range(commits):
    rows = pa.table({"writer": [writer] * 50, "seq": list(range(i * 50, i * 50 + 50))})
    versions.append(lake.write("raw/events", rows))
print(json.dumps(versions))
"""


@pytest.mark.slow
def test_two_processes_append_at_once(lake_spec: dict[str, Any]) -> None:
    """Both commits present, versions consecutive, no row lost or doubled."""
    lake = DeltaLake(**lake_spec)
    lake.write(
        "raw/events",
        pa.table({"writer": pa.array([], pa.int64()), "seq": pa.array([], pa.int64())}),
    )
    commits = 12
    start = time.time() + 2.0  # after both interpreters have imported deltalake
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, json.dumps(lake_spec), str(w), str(commits), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(json.loads(out))
    mine = [set(v) for v in outs]
    assert not mine[0] & mine[1], "two writers were told they made the same version"
    history = lake.history("raw/events")
    assert [h.version for h in history] == list(range(2 * commits + 1))
    assert mine[0] | mine[1] == set(range(1, 2 * commits + 1))
    table = lake.read("raw/events")
    pairs = set(
        zip(table.column("writer").to_pylist(), table.column("seq").to_pylist(), strict=True)
    )
    assert table.num_rows == len(pairs) == 2 * commits * 50


@pytest.fixture
def authenticating_moto(tmp_path: Path) -> Iterator[str]:
    """A moto server that checks credentials after its first request (the bucket's)."""
    proc, endpoint = start_moto(
        env={"INITIAL_NO_AUTH_ACTION_COUNT": "1"}, log=tmp_path / "moto.log"
    )
    try:
        yield endpoint
    finally:
        stop_moto(proc)


@pytest.mark.s3
def test_wrong_credentials_are_one_line_naming_the_url(authenticating_moto: str) -> None:
    bucket = make_bucket(authenticating_moto)
    lake = DeltaLake(
        f"s3://{bucket}/lake", storage_options=s3_options(authenticating_moto, key="wrong")
    )
    for attempt in (
        lambda: lake.write("raw/t", pa.table({"a": [1]})),
        lambda: lake.read("raw/t"),
        lambda: lake.list(),
    ):
        with pytest.raises(LakeUnavailableError) as info:
            attempt()
        text = str(info.value)
        assert "\n" not in text
        assert (
            f"The lake at s3://{bucket}/lake (endpoint {authenticating_moto}) refused the credentials"
            in text
        )
        assert "AWS_ACCESS_KEY_ID" in text


@pytest.mark.s3
def test_unreachable_endpoint_is_one_line_naming_the_url(moto_endpoint: str) -> None:
    from support import free_port

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    bucket = make_bucket(moto_endpoint)
    lake = DeltaLake(f"s3://{bucket}/lake", storage_options=s3_options(dead))
    started = time.monotonic()
    with pytest.raises(LakeUnavailableError) as info:
        lake.read("raw/t")
    assert time.monotonic() - started < 30  # a few retries, not delta-rs's 3 minutes
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"Cannot reach the lake at s3://{bucket}/lake (endpoint {dead})")


@pytest.mark.s3
def test_missing_bucket(moto_endpoint: str) -> None:
    lake = DeltaLake("s3://no-such-bucket-here/lake", storage_options=s3_options(moto_endpoint))
    with pytest.raises(
        LakeUnavailableError, match=r"bucket 'no-such-bucket-here' .* does not exist"
    ):
        lake.write("raw/t", pa.table({"a": [1]}))


@pytest.mark.s3
def test_delta_rs_errors_are_translated_too(moto_endpoint: str) -> None:
    """The table path itself (delta-rs's own client) gives the same one line."""
    from support import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    lake = DeltaLake("s3://bucket/lake", storage_options={**s3_options(dead), "max_retries": "1"})
    with pytest.raises(LakeUnavailableError, match=r"^Cannot reach the lake at s3://bucket/lake"):
        lake._table("raw/t")
