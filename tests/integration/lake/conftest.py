"""Lakes to test on: a local folder, and S3 on moto's server run as a subprocess.

delta-rs has its own HTTP client, so moto's in-process mock would never see its calls:
the server is a separate process on 127.0.0.1, reached through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.lake.delta import DeltaLake
from lake_moto import make_bucket, s3_options, start_moto, stop_moto


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server, one per test session, stopped at the end."""
    proc, endpoint = start_moto(log=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield endpoint
    finally:
        stop_moto(proc)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def lake_spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The config of an empty lake (``path`` plus ``storage_options``), on each backend."""
    if request.param == "local":
        return {"path": str(tmp_path / "lake")}
    endpoint = request.getfixturevalue("moto_endpoint")
    return {
        "path": f"s3://{make_bucket(endpoint)}/lake",
        "storage_options": s3_options(endpoint),
    }


@pytest.fixture
def make_lake(lake_spec: dict[str, Any]) -> Callable[..., DeltaLake]:
    return lambda **extra: DeltaLake(**lake_spec, **extra)


@pytest.fixture
def lake(make_lake: Callable[..., DeltaLake]) -> DeltaLake:
    return make_lake()
