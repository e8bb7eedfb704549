"""Drive the ``dockyard`` command in a subprocess, in a temporary project, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rollout_support import Project

PIPELINE = """
from typing import Annotated
from dockyard import pipeline, step


@step
def numbers(n: int = 3) -> list:
    print(f"making {n} numbers")
    return list(range(n))


@step(retries=1, retry_backoff_s=0.01)
def total(xs: list, scale: float = 1.0, offset: float = 0.0) -> Annotated[float, "total"]:
    return sum(xs) * scale + offset


@pipeline
def sums(n: int = 3, scale: float = 1.0):
    total(numbers(n=n), scale=scale)
"""


@pytest.fixture
def cli(project: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    (project / "flow.py").write_text(PIPELINE)
    env = {**os.environ, "DOCKYARD_HOME": str(project), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("DOCKYARD_STACK", None)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "dockyard", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def proj(project: Path) -> Iterator[Project]:
    """A project whose deployments are brought down (and their processes killed) after."""
    p = Project(project)
    p.cli("init")
    yield p
    p.close()
