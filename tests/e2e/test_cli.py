"""The CLI as a user drives it: init, run, inspect, stacks, and every bad input's message."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest


def _run_id(out: str) -> str:
    match = re.search(r"Run ([0-9a-f]{8})", out)
    assert match, out
    return match.group(1)


def test_init_run_list_show_logs(cli, project: Path) -> None:
    assert "Initialised dockyard project" in cli("init").stdout
    out = cli("run", "flow.py:sums", "-p", "n=4", "-p", "scale=0.5").stdout
    run_id = _run_id(out)
    assert "completed" in out
    assert "numbers" in out

    listing = cli("runs", "list").stdout
    assert run_id in listing
    assert "sums" in listing

    shown = cli("runs", "show", run_id).stdout
    assert "total <- numbers" in shown
    assert "n=4" in shown

    assert "making 4 numbers" in cli("runs", "logs", run_id, "numbers").stdout

    again = cli("run", "flow.py:sums", "-p", "n=4", "-p", "scale=0.5").stdout
    assert "2 cached" in again
    assert "hit" in cli("runs", "show", _run_id(again)).stdout


def test_run_config_file_and_no_cache(cli, project: Path) -> None:
    (project / "run.yaml").write_text(
        "parameters: {n: 5}\nsteps:\n  total:\n    parameters: {offset: 2.0}\n"
    )
    run_id = _run_id(cli("run", "flow.py:sums", "--config", "run.yaml").stdout)
    assert "n=5" in cli("runs", "show", run_id).stdout
    out = cli("run", "flow.py:sums", "--config", "run.yaml", "--no-cache").stdout
    assert "0 cached" in out


def test_artifacts_show_and_get(cli, project: Path) -> None:
    run_id = _run_id(cli("run", "flow.py:sums", "-p", "n=3").stdout)
    shown = cli("runs", "show", run_id).stdout
    artifact = re.search(r"total=([0-9a-f]{8})", shown).group(1)
    info = cli("artifacts", "show", artifact).stdout
    assert "builtins.float" in info
    assert f"run {run_id} step total" in info
    cli("artifacts", "get", artifact, "-o", "out/total.json")
    assert (project / "out/total.json").read_text() == "3.0"


def test_artifacts_verify_finds_damaged_bytes(cli, project: Path) -> None:
    """`artifacts verify` reads every artifact back: a blob damaged on disk is named, and
    the command exits 1, before a cached rerun or a deployment trips on it."""
    run_id = _run_id(cli("run", "flow.py:sums", "-p", "n=3").stdout)
    assert "All 2 artifacts verified." in cli("artifacts", "verify", "--run", run_id).stdout
    blob = next(p for p in (project / ".dockyard/artifacts").rglob("*") if p.is_file())
    blob.write_bytes(blob.read_bytes() + b" damaged")
    proc = cli("artifacts", "verify", ok=False)
    assert proc.returncode == 1
    assert "corrupted" in proc.stdout and "1 of 2 artifacts have a problem." in proc.stdout


def test_stack_register_use_show_delete(cli, project: Path) -> None:
    cli("init")
    out = cli(
        "stack", "register", "fast", "--orchestrator", "local-parallel",
        "--orchestrator-option", "workers=2", "--use",
    ).stdout  # fmt: skip
    assert "made it active" in out
    listing = cli("stack", "list").stdout
    assert re.search(r"\*\s+fast\s+local-parallel", listing)
    assert "workers=2" in cli("stack", "show", "fast").stdout
    assert "completed" in cli("run", "flow.py:sums").stdout
    err = cli("stack", "delete", "fast", ok=False)
    assert err.returncode == 1
    assert "is active; switch first" in err.stderr
    cli("stack", "use", "default")
    cli("stack", "delete", "fast")
    assert "fast" not in cli("stack", "list").stdout


def test_step_run_executes_one_step_in_a_fresh_process(cli, project: Path) -> None:
    run_id = _run_id(cli("run", "flow.py:sums", "-p", "n=6").stdout)
    out = cli("step", "run", "--run", run_id, "--step", "total").stdout
    assert "Step total of run" in out
    bad = cli("step", "run", "--run", run_id, "--step", "nope", ok=False)
    assert "has no step 'nope'. Its steps: numbers, total" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "missing.py:sums"), "No such file: "),
        (("run", "flow.py:nope"), "flow.py has no 'nope'. Pipelines defined there: sums."),
        (("run", "no_such_module:sums"), "No module named 'no_such_module'"),
        (("run", "flow.py:sums", "-p", "m=1"), "Pipeline 'sums' has no parameter 'm'"),
        (("run", "flow.py:sums", "-p", "n=lots"), "Parameter 'n' of pipeline 'sums' expects int"),
        (("run", "flow.py:sums", "--stack", "ghost"), "Unknown stack 'ghost'. Stacks: default."),
        (("runs", "show", "ffffffff"), "No run matches 'ffffffff'"),
        (("stack", "register", "x", "--orchestrator", "kubernetes"), "Unknown orchestrator 'kubernetes'. Installed: dask, local, local-parallel"),
        (("artifacts", "show", "0000dead"), "0000dead"),
    ],
)  # fmt: skip
def test_bad_input_gets_one_clear_line(cli, args, message) -> None:
    proc = cli(*args, ok=False)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_syntax_error_in_user_file(cli, project: Path) -> None:
    (project / "broken.py").write_text("from dockyard import pipeline\n\ndef oops(:\n    pass\n")
    proc = cli("run", "broken.py:oops", ok=False)
    assert proc.returncode == 1
    assert "Syntax error in" in proc.stderr
    assert "broken.py, line 3" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_debug_shows_the_traceback(cli) -> None:
    proc = cli("run", "flow.py:nope", "--debug", ok=False)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr


def test_failing_step_exit_code_and_message(cli, project: Path) -> None:
    (project / "bad.py").write_text(
        "from dockyard import pipeline, step\n\n"
        "@step\ndef boom() -> int:\n    raise ValueError('the data is wrong')\n\n"
        "@pipeline\ndef p():\n    boom()\n"
    )
    proc = cli("run", "bad.py:p", ok=False)
    assert proc.returncode == 1
    assert "Step 'boom' failed" in proc.stderr
    assert "ValueError: the data is wrong" in proc.stderr
    assert "dockyard runs logs" in proc.stderr


def test_unreachable_postgres(cli) -> None:
    cli(
        "stack", "register", "pg", "--metadata-url",
        "postgresql+psycopg://ml:secret@127.0.0.1:1/dockyard", "--use",
    )  # fmt: skip
    proc = cli("run", "flow.py:sums", ok=False)
    assert proc.returncode == 1
    assert "Cannot reach the metadata database" in proc.stderr
    assert "secret" not in proc.stderr


def test_metadata_db_from_a_newer_dockyard(cli, project: Path) -> None:
    cli("run", "flow.py:sums")
    db = project / ".dockyard" / "metadata.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    proc = cli("runs", "list", ok=False)
    assert proc.returncode == 1
    assert "9999_future" in proc.stderr
    assert "upgrade dockyard" in proc.stderr.lower()


def test_help_explains(cli) -> None:
    out = cli("--help").stdout
    for command in ("init", "run", "runs", "artifacts", "stack", "step"):
        assert command in out
    assert "FILE_OR_MODULE:PIPELINE" in cli("run", "--help").stdout
