"""``dockyard serve``: one registered model version as an HTTP service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dockyard.cli._common import check_port, console, esc

if TYPE_CHECKING:
    from dockyard.runtime.spec import RuntimeSpec


def _spec_from_file(path: Path, *, trust_pickle: bool, predict_proba: bool) -> RuntimeSpec:
    """The version a ``serve.json`` (``dockyard containerize``) resolved; trust and
    probabilities are the file's unless this command line adds them."""
    import dataclasses
    import json

    from dockyard.errors import ServingError, UnsafeArtifactError
    from dockyard.runtime.spec import RuntimeSpec

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServingError(f"Cannot read the serve spec {path}: {exc.strerror or exc}.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServingError(f"The serve spec {path} is not JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise ServingError(f"The serve spec {path} must hold a JSON object.")
    spec = RuntimeSpec.from_dict(data, base_dir=str(path.resolve().parent))
    spec = dataclasses.replace(
        spec,
        trust_pickle=spec.trust_pickle or trust_pickle,
        predict_proba=spec.predict_proba or predict_proba,
    )
    if spec.artifact.unsafe and not spec.trust_pickle:
        raise UnsafeArtifactError(
            f"{spec.label} was saved with pickle and {path} does not trust it; add "
            "--trust-pickle if you trust where the model came from."
        )
    return spec


def _positive(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"{value} is not a size; give a number of megabytes above 0.")
    return value


def serve(
    ref: str | None = typer.Argument(
        None, help="Model to serve: NAME, NAME:VERSION or NAME@ALIAS.", show_default=False
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", "-p", callback=check_port, help="TCP port."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="uvicorn worker processes."),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="DOCKYARD_SERVE_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' on inference routes.",
    ),
    max_batch_size: int = typer.Option(
        32, "--max-batch-size", min=1, help="Most rows merged into one model call."
    ),
    max_latency_ms: float = typer.Option(
        0.0,
        "--max-latency-ms",
        min=0,
        help="Longest a request may wait for others to join its model call (0: never "
        "wait; requests that arrive while the model is busy are merged anyway).",
    ),
    no_batching: bool = typer.Option(False, "--no-batching", help="One model call per request."),
    predict_proba: bool = typer.Option(
        False, "--predict-proba", help="Answer class probabilities instead of labels."
    ),
    max_body_mb: float = typer.Option(
        8.0, "--max-body-mb", callback=_positive, help="Larger bodies get 413."
    ),
    trust_pickle: bool = typer.Option(
        False,
        "--trust-pickle",
        help="Allow a pickled model artifact (loading it can run arbitrary code).",
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
    spec_file: Path | None = typer.Option(
        None,
        "--spec",
        help="Serve the version resolved in this file (written by 'dockyard containerize') "
        "instead of REF: no project or metadata store is needed.",
    ),
) -> None:
    """Serve a model version: Open Inference Protocol (V2) routes, POST /predict,
    /docs, /metrics, with adaptive micro-batching."""
    from dockyard.cli._common import stack
    from dockyard.runtime.spec import RuntimeSpec
    from dockyard.serving.config import ServeConfig
    from dockyard.serving.server import exec_serve
    from dockyard.settings import Settings

    trust = trust_pickle or Settings.from_env().trust_pickle
    if spec_file is not None:
        if ref is not None:
            raise typer.BadParameter("give a model REF or --spec FILE, not both.")
        spec = _spec_from_file(spec_file, trust_pickle=trust, predict_proba=predict_proba)
    elif ref is None:
        raise typer.BadParameter("give the model to serve: NAME, NAME:VERSION or NAME@ALIAS.")
    else:
        s = stack(stack_name)
        # Every problem (unknown version, pickle without trust, bytes gone) is raised
        # here, before any serving process starts.
        spec = RuntimeSpec.resolve(ref, s, trust_pickle=trust, predict_proba=predict_proba)
        s.close()  # the service needs nothing more from the stores
    config = ServeConfig(
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
        batching=not no_batching and max_batch_size > 1,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        token=token,
        predict_proba=predict_proba,
    )
    console.print(
        f"Serving [bold]{esc(spec.label)}[/] on http://{esc(host)}:{port}  "
        f"(V2: /v2/models/{esc(spec.name)}/infer, plain: /predict, docs: /docs, metrics: /metrics; "
        f"{workers} worker{'s' if workers > 1 else ''}, pid {os.getpid()})"
    )
    # A lean process of its own (same pid): it loads the model, never the CLI's libraries.
    exec_serve([spec], config, host=host, port=port, workers=workers)
