"""A project filled by real pipeline runs (lake reads and writes, a registered model in two
versions, a failed run, a crashed run), shared by the dashboard's page tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pytest

import dockyard.lake
from dockyard import Model, pipeline, step
from dockyard.lake import DatasetRef
from dockyard.stacks.stack import clear_cache, load_stack


@step
def load(data: DatasetRef = dockyard.lake.ref("curated/points")) -> pd.DataFrame:
    print(f"loading {data}")
    return dockyard.lake.open().read(data.name, version=data.version).to_pandas()


@step
def features(df: pd.DataFrame) -> pd.DataFrame:
    out = df.assign(z=df.x * 2)
    dockyard.lake.open().write("features/points", out, mode="overwrite")
    return out


@step
def train(df: pd.DataFrame, c: float = 1.0) -> Annotated[Model, "points"]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c).fit(df[["x", "z"]], df.y)
    acc = float(model.score(df[["x", "z"]], df.y))
    return Model(model, metrics={"accuracy": acc, "c": c}, sample=df[["x", "z"]])


@step
def evaluate(df: pd.DataFrame, c: float = 1.0) -> Annotated[dict, "metrics"]:
    print("evaluating")
    print("WARNING: a line to search for")
    return {"rows": float(len(df)), "c": c}


@pipeline
def training(c: float = 1.0) -> None:
    df = features(load())
    train(df, c=c)
    evaluate(df, c=c)


@step
def broken() -> int:
    raise ValueError("this step fails on purpose")


@pipeline
def failing() -> None:
    broken()


@dataclass
class Filled:
    root: Path
    runs: list[str]
    failed_run: str
    crashed_run: str
    batch_job: str


CRASH = """
import os
from dockyard.stacks.stack import load_stack
md = load_stack().metadata_store
run = md.create_run("nightly", spec={"invocations": {}}, params={}, stack="default")
print(run.id, flush=True)
os._exit(9)  # killed before recording its end
"""


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    root = tmp_path_factory.mktemp("dash") / "proj"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("DOCKYARD_HOME", str(root))
        mp.delenv("DOCKYARD_STACK", raising=False)
        clear_cache()
        frame = pd.DataFrame({"x": [float(i) for i in range(40)], "y": [i % 2 for i in range(40)]})
        dockyard.lake.open().write("curated/points", frame)
        ids = [training(c=1.0).id, training(c=0.5).id]
        from dockyard.errors import StepFailed

        with pytest.raises(StepFailed):
            failing()
        from dockyard import batch

        job = batch.run(
            "points:2", input="lake://features/points", output="lake://predictions/points"
        ).job_id
        md = load_stack().metadata_store
        failed = md.page_runs(pipeline="failing", limit=1).runs[0].run.id
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH],
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()[0]
        yield Filled(root, ids, failed, crashed, job)
        clear_cache()


def client_class() -> Any:
    """Starlette's TestClient (Starlette 1.x warns that it prefers httpx2 over httpx; the
    test extra has httpx, which it still supports)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # StarletteDeprecationWarning: httpx, not httpx2
        from starlette.testclient import TestClient

    return TestClient


@pytest.fixture
def client(filled: Filled) -> Iterator[Any]:
    from dockyard.dashboard import create_app

    TestClient = client_class()

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(filled.root)
        mp.setenv("DOCKYARD_HOME", str(filled.root))
        with TestClient(create_app(token="s3cret-token"), base_url="http://127.0.0.1") as c:
            yield c
