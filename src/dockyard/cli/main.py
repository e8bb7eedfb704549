"""The ``dockyard`` command: a thin layer of Typer commands over the contexts."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dockyard.cli import artifacts as artifacts_cmd
from dockyard.cli import deploy as deploy_cmd
from dockyard.cli import models as models_cmd
from dockyard.cli import runs as runs_cmd
from dockyard.cli import serve as serve_cmd
from dockyard.cli import stack as stack_cmd
from dockyard.cli._common import console, err_console

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
app.command("serve")(serve_cmd.serve)
app.command("deploy")(deploy_cmd.deploy)
app.add_typer(deploy_cmd.rollout_app, name="rollout")
app.add_typer(deploy_cmd.deployments_app, name="deployments")
step_app = typer.Typer(
    help="Run single steps (what external orchestrators call).", no_args_is_help=True
)
app.add_typer(step_app, name="step")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """dockyard: write a pipeline once, run it on any stack, serve and roll out its model."""


@app.command()
def init(
    path: Path = typer.Argument(Path("."), help="Project folder (created if missing)."),
) -> None:
    """Create a dockyard project: .dockyard/ with the embedded default stack."""
    from dockyard.stacks.config import ProjectConfig

    root = path.resolve()
    root.mkdir(parents=True, exist_ok=True)
    config = ProjectConfig.load(root)
    existed = config.path.exists()
    config.save()
    verb = "Already a dockyard project" if existed else "Initialised dockyard project"
    console.print(f"{verb} in [bold]{root}[/] (stack: {config.active_stack}).")
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
    with RichProgress(console, obj.name) as progress:
        result = obj.run(
            parse_cli_params(param),
            config=config,
            stack=stack_name,
            enable_cache=False if no_cache else None,
            trust_pickle=trust_pickle or None,
            progress=progress,
        )
    cached = sum(1 for s in result.steps.values() if s.cache_hit)
    console.print(
        f"Run [bold]{result.id[:8]}[/] of {result.pipeline} {result.status} "
        f"({len(result.steps)} steps, {cached} cached). "
        f"Details: dockyard runs show {result.id[:8]}"
    )


@step_app.command("run")
def step_run(
    run_id: str = typer.Option(..., "--run", help="Run id (or unique prefix)."),
    step: str = typer.Option(..., "--step", help="Step invocation name."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Execute exactly one step of a planned run in this process."""
    from dockyard.pipelines import run_step

    result = run_step(run_id, step, stack_name)
    console.print(f"Step {step} of run {result.run_id[:8]}: {result.status}")


def main() -> None:
    """Entry point: one clear error line (exit 1), the traceback only with --debug."""
    import click

    from dockyard.errors import DockyardError
    from dockyard.settings import Settings

    argv = sys.argv[1:]
    debug = "--debug" in argv or Settings.from_env().debug
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    try:
        app(args=argv, prog_name="dockyard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except DockyardError as exc:
        if debug:
            err_console.print_exception()
        err_console.print(f"[red]Error:[/] {exc}", soft_wrap=True)
        if not debug:
            err_console.print("[dim](run with --debug for the traceback)[/]")
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)
