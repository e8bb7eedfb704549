"""``dockyard schedule ...`` (define schedules) and ``dockyard scheduler`` (run them).

Thin commands over :mod:`dockyard.schedules`; the scheduler loop itself is
:class:`dockyard.schedules.Scheduler`.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from dockyard.cli._common import ago, console, esc, seconds

if TYPE_CHECKING:
    from dockyard.schedules.store import ScheduleRecord

_MISSED = (
    "Missed runs: a schedule with --catch-up once (the default) whose runs were missed "
    "while no scheduler was running runs once when one starts, not once per missed slot; "
    "with --catch-up skip they are not run and the schedule goes on from its next slot."
)
_ADD_HELP = (
    "Add a schedule: run a dockyard command on a cron schedule.\n\n"
    'Example: dockyard schedule add nightly --cron "0 2 * * *" -- batch run '
    "churn@production --input lake://curated/customers --output lake://predictions/churn"
    "\n\n"
    'Pipelines: dockyard schedule add hourly --cron "0 * * * *" -- run train.py:training '
    "-p n=10\n\n"
    "Everything after '--' is the command, passed through as it is. The schedules run "
    f"while 'dockyard scheduler' runs.\n\n{_MISSED}"
)
#: The help of ``dockyard scheduler`` (registered in cli/main.py).
SCHEDULER_HELP = (
    "Run due schedules in the foreground, each as a 'dockyard ...' subprocess in the "
    "project folder.\n\n"
    "SIGTERM or Ctrl-C stops it cleanly: nothing new starts, a running command gets "
    "SIGTERM (then SIGKILL after --stop-timeout) and is recorded as terminated. Two "
    "schedulers never run one schedule at once: each run is claimed in the database.\n\n"
    f"{_MISSED}"
)

app = typer.Typer(
    help="Run dockyard commands (pipelines, batch jobs) on a cron schedule. Define them "
    "here; 'dockyard scheduler' runs what is due.",
    no_args_is_help=True,
)

_OUTCOME_STYLE = {
    "succeeded": "green",
    "running": "yellow",
    "failed": "red",
    "error": "red",
    "timed_out": "red",
    "lost": "magenta",
    "terminated": "magenta",
    "skipped": "dim",
}


def _outcome(value: str | None) -> str:
    if value is None:
        return "-"
    return f"[{_OUTCOME_STYLE.get(value, 'white')}]{esc(value)}[/]"


def _when(value: datetime | None, timezone: str = "UTC") -> str:
    if value is None:
        return "-"
    from dockyard.schedules.timing import zone

    local = value.astimezone(zone(timezone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z")


def _next_due(record: ScheduleRecord) -> str:
    if record.paused:
        return "-"
    late = record.next_due_at <= datetime.now(UTC) and record.running_run is None
    return _when(record.next_due_at, record.timezone) + (" (due now)" if late else "")


def _state(record: ScheduleRecord) -> str:
    if record.paused:
        return "[dim]paused[/]"
    return "[yellow]running[/]" if record.running_run else "active"


@app.command("add", help=_ADD_HELP)
def add(
    name: str = typer.Argument(..., help="Schedule name, e.g. nightly-scoring."),
    command: list[str] = typer.Argument(
        None,
        metavar="-- COMMAND...",
        help="The dockyard command to run, after '--' (without 'dockyard'), e.g. "
        "-- batch run churn@production --input lake://curated/customers --output "
        "lake://predictions/churn, or -- run train.py:training -p n=10.",
        show_default=False,
    ),
    cron: str = typer.Option(
        ...,
        "--cron",
        help="Cron expression (minute hour day-of-month month day-of-week), e.g. "
        "'0 2 * * *' for every day at 02:00.",
    ),
    timezone: str = typer.Option(
        "UTC", "--timezone", "--tz", help="IANA timezone the cron is read in, e.g. Europe/Madrid."
    ),
    catch_up: str = typer.Option(
        "once", "--catch-up", help="Missed-run policy: once (run missed runs once) or skip."
    ),
    stack_name: str | None = typer.Option(
        None, "--stack", "-s", help="Stack the command runs on (default: the active stack)."
    ),
) -> None:
    """Add a schedule: run a dockyard command on a cron schedule (help: _ADD_HELP)."""
    from dockyard import schedules

    record = schedules.add(
        name,
        cron,
        list(command or []),
        timezone=timezone,
        catch_up=catch_up,
        stack=stack_name,
    )
    console.print(
        f"Added schedule [bold]{esc(record.name)}[/] ({esc(record.cron)}, "
        f"{esc(record.timezone)}): dockyard {esc(' '.join(record.argv))}. "
        f"Next run {_when(record.next_due_at, record.timezone)}; runs while "
        "'dockyard scheduler' runs.",
        soft_wrap=True,
    )


@app.command("list")
def list_() -> None:
    """List schedules with their next due time and last outcome."""
    from dockyard import schedules

    records = schedules.list_schedules()
    if not records:
        console.print(
            "No schedules. Add one with: dockyard schedule add NAME --cron '0 2 * * *' "
            "-- run FILE:PIPELINE",
            markup=False,
        )
        return
    table = Table(
        "name",
        "cron",
        "catch-up",
        "command",
        "state",
        "next due",
        "last run",
        "last outcome",
        box=None,
    )
    for r in records:
        table.add_row(
            esc(r.name),
            esc(f"{r.cron} {r.timezone}"),
            esc(r.catch_up),
            esc(" ".join(r.argv)),
            _state(r),
            _next_due(r),
            ago(r.last_run_at),
            _outcome(r.last_outcome),
        )
    console.print(table)


@app.command("remove")
def remove(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """Remove a schedule and its history (a run in progress is not stopped)."""
    from dockyard import schedules

    schedules.remove(name)
    console.print(f"Removed schedule {name}.", markup=False)


@app.command("pause")
def pause(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """Pause a schedule: the scheduler starts no run of it until it is resumed."""
    from dockyard import schedules

    schedules.pause(name)
    console.print(
        f"Paused schedule {name}. Resume it with: dockyard schedule resume {name}",
        markup=False,
    )


@app.command("resume")
def resume(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """Resume a paused schedule from its next slot (slots passed while paused are not run)."""
    from dockyard import schedules

    record = schedules.resume(name)
    console.print(
        f"Resumed schedule {esc(name)}; next run {_when(record.next_due_at, record.timezone)}.",
        soft_wrap=True,
    )


@app.command("history")
def history(
    name: str = typer.Argument(..., help="Schedule name."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs, newest first."),
    output: bool = typer.Option(False, "--output", help="Print the output tail of each run."),
) -> None:
    """The runs of a schedule: when, outcome, exit code, duration, output."""
    from dockyard import schedules

    runs = schedules.history(name, limit=limit)
    if not runs:
        console.print(
            f"Schedule {name} has not run yet. 'dockyard scheduler' runs what is due.",
            markup=False,
        )
        return
    table = Table("run", "due", "started", "outcome", "exit", "took", "runner", "output", box=None)
    for r in runs:
        lines = r.output_tail.strip().splitlines()
        table.add_row(
            r.id[:8],
            _when(r.due_at),
            _when(r.started_at),
            _outcome(r.outcome),
            "-" if r.exit_code is None else str(r.exit_code),
            seconds(r.duration_s),
            esc(r.runner),
            esc(lines[-1][:80] if lines else ""),
        )
    console.print(table)
    if output:
        for r in runs:
            console.rule(f"run {r.id[:8]} ({r.outcome})")
            console.print(r.output_tail, markup=False, highlight=False)


def scheduler(
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    tick: float = typer.Option(
        10.0, "--tick", min=0.1, help="Longest sleep between two looks at the schedules (s)."
    ),
    stop_timeout: float = typer.Option(
        10.0,
        "--stop-timeout",
        min=0.0,
        help="On SIGTERM/SIGINT, how long a running command may take to exit before it is "
        "killed (s).",
    ),
    max_run: float = typer.Option(
        24 * 3600.0, "--max-run", min=1.0, help="Stop a run that takes longer (s)."
    ),
) -> None:
    """Run due schedules in the foreground (help: SCHEDULER_HELP)."""
    from dockyard.schedules import Scheduler, api
    from dockyard.settings import find_project_root

    store = api.default_store()
    sched = Scheduler(
        store,
        cwd=find_project_root(),
        tick=tick,
        stop_timeout_s=stop_timeout,
        max_run_s=max_run,
        report=_report,
    )

    def _stop(signum: int, _frame: Any) -> None:
        _report(f"{signal.Signals(signum).name} received: stopping")
        sched.stop()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if not once:
            _report(
                f"scheduler started ({len(store.list_schedules())} schedules, tick {tick:g} s); "
                "SIGTERM or Ctrl-C stops it"
            )
        runs = sched.serve(once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if once and not runs:
        _report("nothing due")
    _report("scheduler stopped" if not once else f"done: {len(runs)} run(s)")


def _report(line: str) -> None:
    stamp = datetime.now().astimezone().strftime("%H:%M:%S")
    console.print(f"{stamp}  {line}", markup=False, highlight=False, soft_wrap=True)
