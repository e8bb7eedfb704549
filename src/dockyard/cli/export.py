"""``dockyard export airflow|kubeflow``: a pipeline written for another engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dockyard.cli._common import console, esc

if TYPE_CHECKING:
    from dockyard.pipelines.pipeline import Pipeline

app = typer.Typer(
    help="Write a pipeline for another engine (Airflow DAG, Kubeflow Pipelines YAML).",
    no_args_is_help=True,
)

_TARGET = typer.Argument(..., help="FILE_OR_MODULE:PIPELINE, e.g. train.py:training")
_PARAMS = typer.Option(
    [], "--param", "-p", help="Pipeline parameter KEY=VALUE: the default of the engine's runs."
)
_STACK = typer.Option(
    None, "--stack", "-s", help="Stack the tasks use (default: the active one where they run)."
)
_DOCKYARD = typer.Option(
    "dockyard", "--dockyard-command", help="How the tasks call dockyard (a path if not on PATH)."
)


def load_pipeline(target: str) -> Pipeline:
    """The pipeline at ``target``, or UserCodeLoadError naming what it is instead."""
    from dockyard.errors import UserCodeLoadError
    from dockyard.pipelines.loader import load_object
    from dockyard.pipelines.pipeline import Pipeline

    obj = load_object(target)
    if not isinstance(obj, Pipeline):
        raise UserCodeLoadError(
            f"{target} is a {type(obj).__name__}, not a pipeline. Decorate it with @pipeline."
        )
    return obj


def _written(paths: list[Path]) -> None:
    for path in paths:
        console.print(f"Wrote {esc(path)}", soft_wrap=True)


@app.command("airflow")
def airflow(
    target: str = _TARGET,
    output: Path = typer.Option(Path("dags"), "--output", "-o", help="The DAGs folder."),
    schedule: str | None = typer.Option(
        None, "--schedule", help='A cron expression, e.g. "0 2 * * *" (default: none).'
    ),
    from_schedule: str | None = typer.Option(
        None, "--from-schedule", help="Take the cron and timezone of this dockyard schedule."
    ),
    dag_id: str | None = typer.Option(None, "--dag-id", help="Default: dockyard_<pipeline>."),
    param: list[str] = _PARAMS,
    stack_name: str | None = _STACK,
    dockyard_command: str = _DOCKYARD,
) -> None:
    """Write an Airflow 3 DAG: one BashOperator per step running dockyard step run."""
    from dockyard.errors import ExportError
    from dockyard.pipelines.export import export_pipeline
    from dockyard.pipelines.params import parse_cli_params

    timezone = "UTC"
    if schedule and from_schedule:
        raise ExportError("Give --schedule or --from-schedule, not both.")
    if schedule:
        from dockyard.schedules.timing import parse_cron

        schedule = parse_cron(schedule)
    if from_schedule:
        from dockyard.schedules.api import default_store

        found = default_store().get_schedule(from_schedule)
        schedule, timezone = found.cron, found.timezone
    paths = export_pipeline(
        load_pipeline(target),
        "airflow",
        output,
        params=parse_cli_params(param),
        stack=stack_name,
        schedule=schedule,
        timezone=timezone,
        dockyard_command=dockyard_command,
        dag_id=dag_id,
    )
    _written(paths)


@app.command("kubeflow")
def kubeflow(
    target: str = _TARGET,
    output: Path = typer.Option(
        Path("pipeline.yaml"), "--output", "-o", help="The pipeline YAML file to write."
    ),
    image: str = typer.Option(..., "--image", help="The image the steps run in."),
    param: list[str] = _PARAMS,
    stack_name: str | None = _STACK,
    dockyard_command: str = _DOCKYARD,
) -> None:
    """Compile a Kubeflow Pipelines v2 YAML with the kfp SDK: a component per step."""
    from dockyard.pipelines.export import export_pipeline
    from dockyard.pipelines.params import parse_cli_params

    paths = export_pipeline(
        load_pipeline(target),
        "kubeflow",
        output,
        params=parse_cli_params(param),
        stack=stack_name,
        dockyard_command=dockyard_command,
        image=image,
    )
    _written(paths)
