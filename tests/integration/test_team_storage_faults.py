"""Storage faults on the production adapters (issue #8, items 20 to 22).

PostgreSQL: a connection dropped under a statement (``pg_terminate_backend`` on the test
database's own connections, as a restart does) is retried by the idempotent writes, so
the run completes; an outage that lasts fails the run with one line, stored as such.
S3 (moto): an object damaged without changing its size is repaired by ``--no-cache``
(and by a plain rerun, for small artifacts); a missing bucket is named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dockyard.errors import ArtifactError, MetadataUnavailableError
from dockyard.stacks.config import ProjectConfig
from dockyard.stacks.stack import Stack, clear_cache, load_stack

FLOW = """
from typing import Annotated
from dockyard import pipeline, step

CALLS = []


@step
def numbers(n: int = 5) -> list:
    CALLS.append("numbers")
    return list(range(n))


@step
def total(xs: list) -> Annotated[int, "total"]:
    CALLS.append("total")
    return sum(xs)


@pipeline
def report(n: int = 5):
    total(numbers(n=n))
"""


def _stack(project: Path, components: dict[str, Any]) -> Any:
    config = ProjectConfig.load(project)
    config.register("team", {"orchestrator": {"flavor": "local"}, **components})
    config.active_stack = "team"
    config.save()
    (project / "flow.py").write_text(FLOW)
    clear_cache()
    from dockyard.pipelines.loader import load_module

    return load_module(str(project / "flow.py"))


@pytest.fixture
def cleanup() -> Iterator[None]:
    yield
    clear_cache()


def _local_artifacts() -> dict[str, Any]:
    return {"artifact_store": {"flavor": "local", "path": "artifacts"}}


def _s3(s3_endpoint: str, path: str) -> dict[str, Any]:
    return {
        "artifact_store": {
            "flavor": "fsspec",
            "path": path,
            "storage_options": {
                "client_kwargs": {"endpoint_url": s3_endpoint},
                "key": "testing",
                "secret": "testing",
                "skip_instance_cache": True,
            },
        }
    }


class _Dropper:
    """Terminates the PostgreSQL backend under the next ``times`` statements that start
    with ``words``, just before they run (what a server restart does to them)."""

    def __init__(self, stack: Stack, admin: sa.Engine, words: str, times: int) -> None:
        self.engine, self.admin, self.words, self.left = stack.database.engine, admin, words, times
        self.dropped = 0
        sa.event.listen(self.engine, "before_cursor_execute", self)

    def __call__(self, conn: sa.Connection, _c: object, statement: str, *_a: object) -> None:
        if self.left and statement.lstrip().upper().startswith(self.words):
            self.left -= 1
            self.dropped += 1
            pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            with self.admin.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self)


@pytest.fixture
def pg_admin(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_a_dropped_connection_under_a_step_record_does_not_fail_the_run(
    project: Path, postgres_url: str, pg_admin: sa.Engine, cleanup: None
) -> None:
    flow = _stack(
        project, {**_local_artifacts(), "metadata_store": {"flavor": "sql", "url": postgres_url}}
    )
    dropper = _Dropper(load_stack(), pg_admin, "INSERT INTO STEP_RUNS", times=2)
    try:
        run = flow.report(n=4)
    finally:
        dropper.remove()
    assert dropper.dropped == 2
    assert run.status == "completed"
    assert run.steps["total"].outputs["total"].load() == 6
    assert [r.status for r in load_stack().metadata_store.list_runs()] == ["completed"]


@pytest.mark.postgres
def test_a_lasting_outage_fails_the_run_with_one_stored_line(
    project: Path, postgres_url: str, pg_admin: sa.Engine, cleanup: None
) -> None:
    flow = _stack(
        project, {**_local_artifacts(), "metadata_store": {"flavor": "sql", "url": postgres_url}}
    )
    dropper = _Dropper(load_stack(), pg_admin, "DELETE FROM STEP_RUNS", times=50)
    try:
        with pytest.raises(MetadataUnavailableError) as info:
            flow.report(n=4)
    finally:
        dropper.remove()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Lost the connection to the metadata database at postgresql")
    (run,) = load_stack().metadata_store.list_runs()
    assert run.status == "failed"
    assert run.error == f"MetadataUnavailableError: {message}"
    assert "[SQL" not in run.error


@pytest.mark.s3
def test_a_same_size_corruption_on_s3_is_repaired(
    project: Path, s3_endpoint: str, s3_bucket: str, cleanup: None
) -> None:
    """The issue's repro on moto: run, flip one byte of the object with boto3, rerun
    with --no-cache: the object is written again (it used to be skipped forever)."""
    import boto3

    flow = _stack(
        project,
        {
            **_s3(s3_endpoint, s3_bucket),
            "metadata_store": {"flavor": "sql", "url": "sqlite:///metadata.db"},
        },
    )
    run = flow.report(n=4)
    uri = run.steps["total"].outputs["total"].uri
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

    def flip() -> None:
        body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        body[0] ^= 0x01
        client.put_object(Bucket=bucket, Key=key, Body=bytes(body))

    flip()
    repaired = flow.report.with_options(enable_cache=False)(n=4)
    assert repaired.steps["total"].outputs["total"].load() == 6

    flip()
    flow.CALLS.clear()
    again = flow.report(n=4)  # small blobs are checked before a cache hit is taken
    assert flow.CALLS == ["total"]
    assert again.steps["total"].outputs["total"].load() == 6


@pytest.mark.s3
def test_a_missing_bucket_is_named(project: Path, s3_endpoint: str, cleanup: None) -> None:
    flow = _stack(
        project,
        {
            **_s3(s3_endpoint, "s3://no-such-bucket-here/art"),
            "metadata_store": {"flavor": "sql", "url": "sqlite:///metadata.db"},
        },
    )
    with pytest.raises(ArtifactError) as info:
        flow.report(n=2)
    assert str(info.value) == (
        "Cannot write an artifact to the artifact store at s3://no-such-bucket-here/art: "
        "the store's bucket 'no-such-bucket-here' does not exist, or these credentials "
        "cannot see it; create it (e.g. aws s3 mb s3://no-such-bucket-here) or fix the "
        "artifact_store path in the stack, then run again (the steps that completed are "
        "reused from the cache)."
    )
