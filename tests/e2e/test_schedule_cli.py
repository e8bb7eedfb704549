"""``dockyard schedule ...`` and ``dockyard scheduler`` driven as a user does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]

SLOW_FLOW = """
import time
from dockyard import pipeline, step


@step
def wait(seconds: float = 60.0) -> float:
    print("waiting", flush=True)
    time.sleep(seconds)
    return seconds


@pipeline
def slow(seconds: float = 60.0):
    wait(seconds=seconds)
"""


def _error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("Error: "), proc.stderr
    return first


class Scheduler:
    """A ``dockyard scheduler`` in the background whose output lines are collected."""

    def __init__(self, project: Path, *args: str) -> None:
        env = {**os.environ, "DOCKYARD_HOME": str(project), "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop("DOCKYARD_STACK", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dockyard", "scheduler", *args],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the scheduler's output:\n{''.join(self.lines)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        took = time.monotonic() - started
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code, took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def test_a_scheduled_pipeline_runs_and_its_history_shows_success(cli: Cli) -> None:
    cli("init")
    added = cli(
        "schedule", "add", "every-second", "--cron", "* * * * * *",
        "--", "run", "flow.py:sums", "-p", "n=4", "--no-cache",
    )  # fmt: skip
    assert "Added schedule every-second" in added.stdout
    listed = cli("schedule", "list").stdout
    # The '--' passed the rest through unparsed: the pipeline's options are the command's.
    assert "run flow.py:sums -p n=4 --no-cache" in listed
    assert "active" in listed
    time.sleep(1.1)
    ran = cli("scheduler", "--once")
    assert "every-second: succeeded (exit code 0)" in ran.stdout, ran.stdout
    history = cli("schedule", "history", "every-second", "--output").stdout
    assert "succeeded" in history
    assert "making 4 numbers" in history  # the run's output tail
    assert "sums" in cli("runs", "list").stdout  # a real pipeline run was recorded
    assert "succeeded" in cli("schedule", "list").stdout


def test_pause_resume_remove(cli: Cli) -> None:
    cli("init")
    cli("schedule", "add", "nightly", "--cron", "0 2 * * *", "--tz", "Europe/Madrid",
        "--", "run", "flow.py:sums")  # fmt: skip
    assert "Paused schedule nightly" in cli("schedule", "pause", "nightly").stdout
    assert "paused" in cli("schedule", "list").stdout
    assert "next run" in cli("schedule", "resume", "nightly").stdout
    assert "has not run yet" in cli("schedule", "history", "nightly").stdout
    assert "Removed schedule nightly" in cli("schedule", "remove", "nightly").stdout
    assert "No schedules" in cli("schedule", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["add", "x", "--cron", "0 25 * * *", "--", "run", "flow.py:sums"],
            "Error: Invalid cron expression '0 25 * * *' for schedule 'x': "
            "[0 25 * * *] is not acceptable, out of range. Use five fields",
        ),
        (
            ["add", "x", "--cron", "0 2 * * *", "--", "frobnicate", "now"],
            "Error: Unknown command 'frobnicate' for schedule 'x': a schedule runs a "
            "dockyard command, one of run, batch",
        ),
        (["add", "x", "--cron", "0 2 * * *"], "Error: No command given for schedule 'x'"),
        (
            ["add", "x", "--cron", "0 2 * * *", "--catch-up", "all", "--", "run", "f.py:p"],
            "Error: Unknown missed-run policy 'all'",
        ),
        (["remove", "nope"], "Error: No schedule named 'nope'. List schedules with"),
        (["pause", "nope"], "Error: No schedule named 'nope'."),
        (["resume", "nope"], "Error: No schedule named 'nope'."),
        (["history", "nope"], "Error: No schedule named 'nope'."),
    ],
)
def test_bad_input_is_one_line_naming_it(cli: Cli, args: list[str], message: str) -> None:
    cli("init")
    line = _error_line(cli("schedule", *args, ok=False))
    assert line.startswith(message), line


def test_a_duplicate_name_is_refused(cli: Cli) -> None:
    cli("init")
    cli("schedule", "add", "nightly", "--cron", "0 2 * * *", "--", "run", "flow.py:sums")
    again = ["add", "nightly", "--cron", "0 3 * * *", "--", "run", "flow.py:sums"]
    line = _error_line(cli("schedule", *again, ok=False))
    assert line == (
        "Error: A schedule named 'nightly' exists already. Pick another name, or remove it "
        "first with: dockyard schedule remove nightly"
    )


def test_help_states_the_missed_run_policy(cli: Cli) -> None:
    for command in (["scheduler", "--help"], ["schedule", "add", "--help"]):
        text = " ".join(cli(*command).stdout.split())
        assert "runs once when one starts, not once per missed slot" in text
        assert "skip" in text


def test_sigterm_stops_an_idle_scheduler_cleanly(cli: Cli, project: Path) -> None:
    cli("init")
    cli("schedule", "add", "nightly", "--cron", "0 2 * * *", "--", "run", "flow.py:sums")
    scheduler = Scheduler(project, "--tick", "0.5")
    try:
        scheduler.wait_for("scheduler started")
        code, took = scheduler.stop()
    finally:
        scheduler.kill()
    assert code == 0, "".join(scheduler.lines)
    assert took < 5
    assert "scheduler stopped" in "".join(scheduler.lines)


def test_sigterm_during_a_run_terminates_it_and_records_the_outcome(
    cli: Cli, project: Path
) -> None:
    cli("init")
    (project / "slow.py").write_text(SLOW_FLOW)
    cli("schedule", "add", "slow", "--cron", "* * * * * *", "--", "run", "slow.py:slow")
    scheduler = Scheduler(project, "--tick", "0.5", "--stop-timeout", "3")
    try:
        scheduler.wait_for("slow: running dockyard run slow.py:slow")
        time.sleep(1.5)  # let the pipeline's step start
        code, took = scheduler.stop()
    finally:
        scheduler.kill()
    output = "".join(scheduler.lines)
    assert code == 0, output
    assert took < 8, output
    assert "SIGTERM received: stopping" in output
    assert "slow: terminated" in output
    history = cli("schedule", "history", "slow").stdout
    assert "terminated" in history
    assert "running" not in cli("schedule", "list").stdout
