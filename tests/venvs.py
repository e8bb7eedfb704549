"""Isolated virtual environments for engines whose pins clash with ours (Airflow, kfp).

Each is built once from a lock file in the repository (``pip install -r LOCK``) into a
folder at the repository root ignored by git (``.venv-airflow/``...), and reused while
the lock's SHA-256 matches the one recorded inside it. When it cannot be built (no
network to the package index, no ``venv`` module) the test is skipped with the reason,
or fails under ``DOCKYARD_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 900


def _unavailable(message: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and DOCKYARD_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def isolated_venv(
    name: str, lock: Path, *, editable_dockyard: bool = False, root: Path | None = None
) -> Path:
    """``ROOT/.venv-<name>`` built from ``lock`` (plus dockyard itself, editable, when
    asked); its ``bin`` folder. The stamp is written last, so a build cut short is
    started again by the next test run."""
    digest = hashlib.sha256(lock.read_bytes())
    digest.update(f"editable={editable_dockyard}".encode())
    want = digest.hexdigest()
    venv = (root or ROOT) / f".venv-{name}"
    stamp = venv / "lock.sha256"
    if stamp.is_file() and stamp.read_text().strip() == want:
        return venv / "bin"
    # Built in place, never renamed: its scripts' #! lines name this folder.
    shutil.rmtree(venv, ignore_errors=True)
    started = time.monotonic()
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(lock)],
    ]
    if editable_dockyard:
        steps.append(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
             "-e", str(ROOT)]
        )  # fmt: skip
    for argv in steps:
        try:
            left = max(1.0, BUILD_TIMEOUT_S - (time.monotonic() - started))
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=left)
        except (OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(venv, ignore_errors=True)
            _unavailable(f"cannot build the isolated {name} venv from {lock.name}: {exc}")
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            tail = "\n".join(line for line in proc.stderr.splitlines() if "is ignored" not in line)[
                -1500:
            ]
            _unavailable(f"cannot build the isolated {name} venv from {lock.name}: {tail}")
    (venv / "build_seconds").write_text(f"{time.monotonic() - started:.0f}\n")
    stamp.write_text(want + "\n")
    return venv / "bin"
