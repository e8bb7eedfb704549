"""``dockyard batch``: score lake tables or files with a registered model, exactly once."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dockyard.cli._common import ago, console, esc, styled

if TYPE_CHECKING:
    from dockyard.batch.job import JobProgress

app = typer.Typer(help="Batch scoring: exactly-once, resumable jobs.", no_args_is_help=True)


class _Bar:
    """A progress bar over chunks showing rows and rows/s."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks  {task.fields[rows]:,} rows  {task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> _Bar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, p: JobProgress) -> None:
        if self._task is None:
            self._task = self._progress.add_task(
                esc(p.job_id), total=p.chunks_total, rows=0, rate=0.0
            )
        self._progress.update(
            self._task,
            completed=p.chunks_done + p.chunks_failed,
            rows=p.rows,
            rate=p.rows_per_second,
        )


@app.command("run")
def run(
    model: str = typer.Argument(..., help="churn, churn:3 or churn@production."),
    input: str = typer.Option(
        ...,
        "--input",
        "-i",
        help="lake://ZONE/NAME[@V], a Delta folder, parquet/CSV file or folder.",
    ),
    output: str = typer.Option(..., "--output", "-o", help="lake://ZONE/NAME or a Delta folder."),
    id_column: str | None = typer.Option(None, "--id-column", help="Input column kept as the id."),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", min=1, help="Rows per chunk."),
    executor: str = typer.Option("local", "--executor", help="local, dask or dask://HOST:PORT."),
    job_id: str | None = typer.Option(None, "--job-id", help="Name the job (to resume it)."),
    input_version: int | None = typer.Option(
        None, "--input-version", min=0, help="Input table version (default: latest, pinned)."
    ),
    filter: str | None = typer.Option(
        None, "--filter", help="Rows to score, e.g. \"region = 'EU' and age >= 18\"."
    ),
    rejects: str | None = typer.Option(
        None, "--rejects", help="Table of refused rows (default: OUTPUT__rejects)."
    ),
    proba: bool = typer.Option(False, "--proba", help="Add a proba_<class> column per class."),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow a pickled model (it can run code when loaded)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score INPUT with MODEL into OUTPUT; rerun with the same --job-id to resume."""
    from dockyard.batch import run as run_job

    with _Bar() as bar:
        summary = run_job(
            model,
            input=input,
            output=output,
            id_column=id_column,
            chunk_rows=chunk_rows,
            executor=executor,
            job_id=job_id,
            input_version=input_version,
            filter=filter,
            rejects=rejects,
            predict_proba=proba,
            trust_pickle=trust_pickle,
            progress=bar,
        )
    if as_json:
        from dataclasses import asdict

        console.print_json(json.dumps({**asdict(summary), "status": summary.status}))
    else:
        console.print(esc(summary.describe()), soft_wrap=True)
        for chunk_id, error in summary.errors[:10]:
            console.print(f"  [red]{esc(chunk_id)}[/] {esc(error)}", soft_wrap=True)
    if summary.chunks_failed:
        raise typer.Exit(1)


@app.command("status")
def status(
    job_id: str | None = typer.Argument(None, help="A job id (default: list recent jobs)."),
) -> None:
    """Chunks done/total, rows, rows/s and errors of a job (or the recent jobs)."""
    from dockyard.batch import list_jobs
    from dockyard.batch import status as job_status

    if job_id is None:
        jobs = list_jobs()
        if not jobs:
            console.print("No batch jobs yet. Start one with: dockyard batch run MODEL ...")
            return
        table = Table("job", "model", "status", "chunks", "rows", "rows/s", "updated")
        for job in jobs:
            rate = job.rows_per_second
            table.add_row(
                esc(job.job_id),
                esc(f"{job.spec.model_name}:{job.spec.model_version}"),
                styled(_status_word(job.status)),
                f"{job.chunks_done}/{job.chunks_total}",
                f"{job.rows:,}",
                f"{rate:,.0f}" if rate else "-",
                ago(job.updated_at),
            )
        console.print(table)
        return
    st = job_status(job_id)
    job = st.job
    rate = job.rows_per_second
    version = "" if job.spec.input_version is None else f" @ version {job.spec.input_version}"
    lines = [
        f"Job [bold]{esc(job.job_id)}[/]: {styled(_status_word(job.status))}",
        f"  model     {esc(job.spec.model_name)}:{job.spec.model_version} "
        f"({esc(job.spec.model_ref)})",
        f"  input     {esc(job.spec.input_uri)}{version}",
        f"  output    {esc(job.spec.output_uri)}"
        + (f" (version {job.output_version})" if job.output_version is not None else ""),
        f"  chunks    {job.chunks_done}/{job.chunks_total} done, {job.chunks_failed} failed",
        f"  rows      {job.rows:,} scored, {job.rejected:,} refused "
        f"(into {esc(job.spec.rejects_uri)})",
        f"  rows/s    {rate:,.0f}" if rate else "  rows/s    -",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)
    for chunk_id, error in st.errors[:20]:
        console.print(f"  [red]error[/] {esc(chunk_id)}: {esc(error)}", soft_wrap=True)


def _status_word(status: str) -> str:
    return {"succeeded": "completed"}.get(status, status)


@app.command("compare")
def compare(
    ref_a: str = typer.Argument(..., help="The version in use, e.g. churn:3."),
    ref_b: str = typer.Argument(..., help="The candidate, e.g. churn:4."),
    input: str = typer.Option(..., "--input", "-i", help="The rows to score with both."),
    sample_rows: int | None = typer.Option(
        None, "--sample-rows", min=1, help="Score the first N rows only."
    ),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled models."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Blue/green for batch: agreement, distributions and divergence of two versions."""
    from dockyard.batch import compare as compare_versions

    started = time.perf_counter()
    c = compare_versions(
        ref_a, ref_b, input=input, sample_rows=sample_rows, trust_pickle=trust_pickle
    )
    if as_json:
        console.print_json(json.dumps(c.to_dict()))
        return
    took = time.perf_counter() - started
    agreement = "-" if c.agreement_rate is None else f"{c.agreement_rate:.2%}"
    divergence = "-" if c.divergence is None else f"{c.divergence:.4f}"
    console.print(
        f"{esc(c.model_a)} vs {esc(c.model_b)} on {c.rows:,} rows of {esc(c.input)}"
        + ("" if c.input_version is None else f" @ version {c.input_version}")
        + f" ({took:.1f} s)",
        soft_wrap=True,
    )
    console.print(f"  agreement          {agreement}")
    console.print(f"  JS divergence      {divergence}")
    if c.rejected:
        console.print(f"  refused rows       {c.rejected:,} (left out of both)")
    if c.classes:
        table = Table("class", esc(c.model_a), esc(c.model_b), "difference")
        for k in c.classes:
            table.add_row(
                esc(k.label),
                f"{k.count_a:,}",
                f"{k.count_b:,}",
                f"{k.share_difference(c.rows):+.2%}",
            )
        console.print(table)
    for label, scores in ((c.model_a, c.scores_a), (c.model_b, c.scores_b)):
        if scores:
            figures = "  ".join(f"{k} {v:.4g}" for k, v in scores.items())
            console.print(f"  {esc(label)} scores: {figures}")
