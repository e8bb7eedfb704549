"""``dockyard artifacts get ID -o PATH``: every way the output path can be wrong gets
one line naming the path and what to do, never an OSError's traceback."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard import pipeline, step
from dockyard.cli import main as cli_main
from dockyard.stacks.stack import clear_cache


@step
def answer() -> int:
    return 42


@pipeline
def one() -> None:
    answer()


@pytest.fixture
def artifact(project: Path) -> Iterator[str]:
    clear_cache()
    run = one()
    yield run.steps["answer"].outputs["output"].id
    clear_cache()


def _get(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["dockyard", "artifacts", "get", *argv])
    with pytest.raises(SystemExit) as info:
        cli_main.main()
    return int(info.value.code or 0)


def _first_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.splitlines()[0]


def test_writes_the_bytes(monkeypatch, capsys, artifact: str, project: Path) -> None:
    assert _get(monkeypatch, artifact[:8], "-o", "out/a.json") == 0
    assert (project / "out" / "a.json").read_text() == "42"


def test_a_folder(monkeypatch, capsys, artifact: str, project: Path) -> None:
    assert _get(monkeypatch, artifact[:8], "-o", ".") == 1
    assert _first_line(capsys) == (
        f"Error: --output . is a folder; give the file to write, e.g. -o {artifact[:8]}.bin"
    )


def test_a_folder_that_cannot_be_created(monkeypatch, capsys, artifact, project: Path) -> None:
    (project / "a-file").write_text("")
    assert _get(monkeypatch, artifact[:8], "-o", "a-file/sub/x.json") == 1
    line = _first_line(capsys)
    assert line.startswith("Error: Cannot create the folder a-file/sub for --output: ")
    assert line.endswith("Pick another path.")


def test_a_file_that_cannot_be_written(monkeypatch, capsys, artifact, project: Path) -> None:
    def refuse(self: Path, data: bytes) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", refuse)
    assert _get(monkeypatch, artifact[:8], "-o", "x.json") == 1
    assert (
        _first_line(capsys) == "Error: Cannot write x.json: Permission denied. Pick another path."
    )
