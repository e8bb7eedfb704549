"""The ``dockyard`` command: a thin layer of Typer commands over the contexts."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import typer

from dockyard.cli import artifacts as artifacts_cmd
from dockyard.cli import batch as batch_cmd
from dockyard.cli import consume as consume_cmd
from dockyard.cli import dashboard as dashboard_cmd
from dockyard.cli import deploy as deploy_cmd
from dockyard.cli import events as events_cmd
from dockyard.cli import export as export_cmd
from dockyard.cli import lake as lake_cmd
from dockyard.cli import models as models_cmd
from dockyard.cli import package as package_cmd
from dockyard.cli import runs as runs_cmd
from dockyard.cli import schedule as schedule_cmd
from dockyard.cli import serve as serve_cmd
from dockyard.cli import stack as stack_cmd
from dockyard.cli import trigger as trigger_cmd
from dockyard.cli._common import console, err_console, esc

app = typer.Typer(
    name="dockyard",
    help="Pipelines on a laptop to models on live traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(artifacts_cmd.app, name="artifacts")
app.add_typer(stack_cmd.app, name="stack")
app.add_typer(models_cmd.app, name="models")
app.add_typer(lake_cmd.app, name="lake")
app.add_typer(batch_cmd.app, name="batch")
app.command("consume", help=consume_cmd.HELP)(consume_cmd.consume)
app.add_typer(events_cmd.app, name="events")
app.add_typer(trigger_cmd.app, name="trigger")
app.command("triggers", help=trigger_cmd.TRIGGERS_HELP)(trigger_cmd.triggers)
# `dockyard consume status`: `consume` takes a MODEL argument, so its status is a hidden
# command of its own that main() routes to (a Typer group would read "status" as MODEL).
app.command("consume-status", hidden=True)(consume_cmd.status)
app.command("serve")(serve_cmd.serve)
app.command("deploy")(deploy_cmd.deploy)
app.add_typer(deploy_cmd.rollout_app, name="rollout")
app.add_typer(deploy_cmd.deployments_app, name="deployments")
app.add_typer(schedule_cmd.app, name="schedule")
app.command("scheduler", help=schedule_cmd.SCHEDULER_HELP)(schedule_cmd.scheduler)
app.command("containerize")(package_cmd.containerize)
app.add_typer(package_cmd.app, name="package")
app.command("dashboard", help=dashboard_cmd.HELP)(dashboard_cmd.dashboard)
step_app = typer.Typer(
    help="Run single steps (what external orchestrators call).", no_args_is_help=True
)
app.add_typer(step_app, name="step")
app.add_typer(export_cmd.app, name="export")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """dockyard: write a pipeline once, run it on any stack, serve and roll out its model."""


@app.command()
def init(
    path: Path | None = typer.Argument(
        None,
        help="Project folder, created if missing (default: DOCKYARD_HOME, else the "
        "current folder).",
        show_default=False,
    ),
) -> None:
    """Create a dockyard project: .dockyard/ with the embedded default stack."""
    from dockyard.errors import ConfigError
    from dockyard.settings import Settings
    from dockyard.stacks.config import ProjectConfig

    root = (path or Settings.from_env().home or Path(".")).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the project folder {root}: {exc.strerror or exc} "
            f"({exc.filename}). Pick another folder."
        ) from exc
    config = ProjectConfig.load(root)
    existed = config.path.exists()
    config.save()
    verb = "Already a dockyard project" if existed else "Initialised dockyard project"
    console.print(
        f"{verb} in [bold]{esc(root)}[/] (stack: {esc(config.active_stack)}).", soft_wrap=True
    )
    console.print("Next: [bold]dockyard run path/to/pipeline.py:my_pipeline[/]")


@app.command()
def run(
    target: str = typer.Argument(..., help="FILE_OR_MODULE:PIPELINE, e.g. train.py:training"),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Pipeline parameter KEY=VALUE (repeatable; VALUE read as YAML)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML run config."),
    stack_name: str | None = typer.Option(None, "--stack", "-s", help="Stack to run on."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Execute every step again."),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow loading pickled artifacts from other processes."
    ),
) -> None:
    """Run a pipeline on the active (or given) stack, with live progress."""
    from dockyard.cli._progress import RichProgress
    from dockyard.errors import UserCodeLoadError
    from dockyard.pipelines.loader import load_object
    from dockyard.pipelines.params import parse_cli_params
    from dockyard.pipelines.pipeline import Pipeline

    obj = load_object(target)
    if not isinstance(obj, Pipeline):
        raise UserCodeLoadError(
            f"{target} is a {type(obj).__name__}, not a pipeline. Decorate it with @pipeline."
        )
    # Set by ``dockyard triggers`` for the runs it starts: the run records its cause.
    triggered_by = os.environ.get("DOCKYARD_TRIGGERED_BY")
    extra = {"triggered_by": json.loads(triggered_by)} if triggered_by else None
    with RichProgress(console, obj.name) as progress:
        result = obj.run(
            parse_cli_params(param),
            config=config,
            stack=stack_name,
            enable_cache=False if no_cache else None,
            trust_pickle=trust_pickle or None,
            progress=progress,
            extra=extra,
        )
    cached = sum(1 for s in result.steps.values() if s.cache_hit)
    console.print(
        f"Run [bold]{result.id[:8]}[/] of {esc(result.pipeline)} {esc(result.status)} "
        f"({len(result.steps)} steps, {cached} cached). "
        f"Details: dockyard runs show {result.id[:8]}"
    )


@step_app.command("run")
def step_run(
    run_id: str = typer.Option(..., "--run", help="Run id (or unique prefix)."),
    step: str = typer.Option(..., "--step", help="Step invocation name."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
    retries: int | None = typer.Option(
        None,
        "--retries",
        min=0,
        help="Tries after a failure, in place of the step's own "
        "(0 where the orchestrator retries the task).",
    ),
) -> None:
    """Execute exactly one step of a planned run in this process."""
    from dockyard.pipelines import run_step

    result = run_step(run_id, step, stack_name, retries=retries)
    console.print(f"Step {step} of run {result.run_id[:8]}: {result.status}", markup=False)


@step_app.command("plan")
def step_plan(
    target: str = typer.Argument(..., help="FILE_OR_MODULE:PIPELINE, e.g. train.py:training"),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Pipeline parameter KEY=VALUE (repeatable; VALUE read as YAML)."
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
    key: str | None = typer.Option(
        None,
        "--key",
        help="The engine's id of its run: planning again with it returns "
        "the same run (a retried plan task).",
    ),
) -> None:
    """Record a run of a pipeline without executing it; print its id (the last line).

    External orchestrators then run each step with dockyard step run and end the run with
    dockyard step finish.
    """
    from dockyard.cli.export import load_pipeline
    from dockyard.pipelines.external import start_run
    from dockyard.pipelines.params import parse_cli_params

    record = start_run(load_pipeline(target), parse_cli_params(param), stack=stack_name, key=key)
    print(record.id, flush=True)


@step_app.command("finish")
def step_finish(
    run_id: str | None = typer.Option(None, "--run", help="Run id (or unique prefix)."),
    key: str | None = typer.Option(None, "--key", help="Or: the key the run was planned with."),
    pipeline: str | None = typer.Option(None, "--pipeline", help="The pipeline, with --key."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Record the end of a run whose steps an external orchestrator ran; exit 1 when a
    step failed (steps never run are recorded as skipped)."""
    from dockyard.errors import ConfigError, RunFailed
    from dockyard.pipelines.external import end_run

    if (run_id is None) == (key is None) or (key is not None and not pipeline):
        raise ConfigError("Give --run RUN, or --key KEY with --pipeline NAME.")
    record = end_run(run_id, stack_name, key=key, pipeline=pipeline)
    if record.status != "completed":
        raise RunFailed(record.error or f"Run {record.id[:8]} failed.", run_id=record.id)
    console.print(f"Run {record.id[:8]} of {record.pipeline}: completed", markup=False)


def main() -> None:
    """Entry point: one clear error line, the traceback only with --debug.

    Exit codes: 0 done, 1 refused or failed (a ``DockyardError``, a file that cannot be
    read or written, anything unexpected), 2 a usage error (as click's), 130 interrupted.
    """
    from dockyard.settings import Settings

    argv = sys.argv[1:]
    debug = "--debug" in argv or Settings.from_env().debug
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    if argv[:2] == ["consume", "status"]:
        argv = ["consume-status", *argv[2:]]
    try:
        code = app(args=argv, prog_name="dockyard", standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:  # the one place every error meets the user (Ctrl-C too)
        code = _report(exc, debug)
    _send_events()
    # Without standalone mode, typer returns the code of an Exit (e.g. 0 after --help).
    sys.exit(code if isinstance(code, int) else 0)


def _send_events() -> None:
    """Send the events this command recorded (a run finished, a version registered...) to
    the active stack's bus, when it names one: best effort, a few seconds at most. A bus
    that is down leaves them in the outbox for the next command or ``events relay``."""
    import logging

    try:
        from dockyard.settings import CONFIG_DIR, find_project_root
        from dockyard.stacks.stack import load_stack

        if not (find_project_root() / CONFIG_DIR / "config.yaml").is_file():
            return  # no project here (``--help`` in any folder): nothing recorded
        stack = load_stack()
        if stack.components.get("event_bus"):
            from dockyard.events.publishing import flush_outbox

            flush_outbox(stack)
    except Exception as exc:  # never changes what the command did or its exit code
        logging.getLogger("dockyard.events").debug("events not sent: %s", exc)


def _report(exc: BaseException, debug: bool) -> int:
    """Print ``exc`` as one line on stderr (verbatim: never read as Rich markup) and
    return the exit code."""
    import errno

    from dockyard.errors import DockyardError

    if isinstance(exc, typer.TyperException):  # click's errors, as Typer vendors them
        return _usage_error(exc)
    if isinstance(exc, typer.Abort | EOFError):
        err_console.print("Aborted.")
        return 130
    if isinstance(exc, KeyboardInterrupt):
        err_console.print("Interrupted.")
        return 130
    if isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        _silence_stdout()  # `dockyard runs list | head`: the reader left; say nothing
        return 1
    if isinstance(exc, DockyardError):
        message = str(exc)
    elif isinstance(exc, OSError):
        message = _os_error(exc)
    elif isinstance(exc, Exception):
        message = (
            f"unexpected {type(exc).__name__}: {exc}. This is a bug in dockyard or in a "
            "plug-in; please report it with the traceback (--debug)."
        )
    else:  # pragma: no cover - GeneratorExit and the like are not ours to catch
        raise exc
    if debug:
        err_console.print_exception()
    _print_error(message)
    for note in getattr(exc, "__notes__", ()):  # e.g. "the end of run ... was not recorded"
        err_console.print(str(note), style="dim", markup=False, highlight=False)
    if not debug:
        err_console.print("(run with --debug for the traceback)", style="dim", markup=False)
    return 1


def _usage_error(exc: typer.TyperException) -> int:
    """A usage error, on one line with where to find help (click prints three)."""
    code = int(getattr(exc, "exit_code", 1))
    message = exc.format_message()
    if type(exc).__name__ == "NoArgsIsHelpError":  # Typer has printed the help already
        if message:
            console.print(message, markup=False, highlight=False)
        return code
    option = getattr(exc, "option_name", None)
    if isinstance(option, str) and not _OPTION.match(option):
        message = (
            f"{message.rstrip()}. A value that starts with '-' goes after '--' (CMD -- VALUE)."
        )
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and code == 2:
        stop = "" if message.rstrip().endswith((".", "!", "?", ")")) else "."
        message = f"{message.rstrip()}{stop} Try '{ctx.command_path} --help' for help."
    _print_error(message)
    return code


#: What an option looks like; anything else click took for one was meant as a value.
_OPTION = re.compile(r"^--?[A-Za-z0-9][\w-]*$")


def _print_error(message: str) -> None:
    from rich.text import Text

    # A Text is printed as it is: "[/red]" in a run id or the [postgres] of a pip hint
    # are the user's characters, not markup. soft_wrap keeps it one line.
    err_console.print(Text.assemble(("Error:", "red"), " ", message), soft_wrap=True)


def _os_error(exc: OSError) -> str:
    """``Not a directory: /x/y. Check the path ...``: the file named, and what to do."""
    what = exc.strerror or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    where = f": {' -> '.join(names)}" if names else ""
    detail = "" if exc.strerror or not str(exc) else f" ({exc})"
    return (
        f"{what}{where}{detail}. Check that the path exists, is the kind of file expected "
        "and that you may use it, or change it in the command or the project config."
    )


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - no real stdout to redirect
        pass
