"""``dockyard consume``: score a stream of events with a registered model, at least once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from dockyard.cli._common import check_port, console, esc

if TYPE_CHECKING:
    from dockyard.events.consumer import ConsumerStats
    from dockyard.events.decisions import ConsumerConfig
    from dockyard.runtime.model import ModelRuntime

HELP = (
    "Score events from a topic with a model and publish predictions (at least once). "
    "'dockyard consume status' shows the consumers of this project."
)


def consume(
    model: str = typer.Argument(..., help="churn, churn:3 or churn@production."),
    bus: str | None = typer.Option(
        None,
        "--bus",
        help="redis://HOST:PORT/DB, nats://HOST:PORT, amqp://USER:PASS@HOST:PORT/, "
        "kafka://HOST:PORT or memory:// (default: the stack's event_bus).",
    ),
    input_topic: str = typer.Option(..., "--in", help="Topic of the input events."),
    output: str = typer.Option(..., "--out", help="Topic the predictions are published to."),
    group: str = typer.Option("scorers", "--group", help="Consumer group (shares the input)."),
    name: str | None = typer.Option(
        None, "--name", help="This consumer's name in the group (default: the host name)."
    ),
    max_batch: int = typer.Option(64, "--max-batch", help="Most events per model call."),
    max_latency_ms: float = typer.Option(
        10.0, "--max-latency-ms", help="Wait at most this long for a batch to fill."
    ),
    dead_letter: str | None = typer.Option(
        None, "--dead-letter", help="Topic for events that cannot be scored (default IN.dead)."
    ),
    id_field: str = typer.Option("id", "--id-field", help="Input field holding the event id."),
    max_deliveries: int = typer.Option(
        5, "--max-deliveries", help="Dead-letter an event delivered more often than this."
    ),
    proba: bool = typer.Option(False, "--proba", help="Publish class probabilities."),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow a pickled model (it can run code when loaded)."
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s", help="Stack of the model."),
    drift_window: int | None = typer.Option(
        None,
        "--drift-window",
        help="Compare every N scored events with the model's training profile; drift "
        "records the event dockyard.model.drift_detected.",
    ),
    max_drift_js: float = typer.Option(
        0.2, "--max-drift-js", help="Drift when the predictions' JS distance is above this."
    ),
    max_drift_psi: float = typer.Option(
        0.25, "--max-drift-psi", help="Drift when an input's PSI is above this."
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        callback=check_port,
        help="Serve Prometheus /metrics on 127.0.0.1:PORT while consuming.",
    ),
    exit_when_idle: float | None = typer.Option(
        None, "--exit-when-idle", help="Stop after this many seconds without events."
    ),
) -> None:
    """Score events from --in with MODEL and publish predictions to --out, until SIGTERM.

    An event is acknowledged only after its prediction is published and confirmed; events
    that cannot be scored go to the dead-letter topic with the reason.
    """
    from dockyard.events.consumer import consume as run_consumer

    def started(config: ConsumerConfig, runtime: ModelRuntime) -> None:
        console.print(
            f"Consuming {esc(config.input)} as {esc(config.group)}/{esc(config.name)} with "
            f"{esc(runtime.label)} -> {esc(config.output)} (dead letters: "
            f"{esc(config.dead_letter)}). Stop with Ctrl-C or SIGTERM.",
            soft_wrap=True,
        )

    last = [time.monotonic()]

    def progress(stats: ConsumerStats) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            console.print(_describe(stats), soft_wrap=True)

    stats = run_consumer(
        model,
        bus=bus,
        input=input_topic,
        output=output,
        group=group,
        name=name,
        max_batch=max_batch,
        max_latency_ms=max_latency_ms,
        dead_letter=dead_letter,
        id_field=id_field,
        max_deliveries=max_deliveries,
        stack=stack_name,
        trust_pickle=trust_pickle,
        predict_proba=proba,
        idle_exit_s=exit_when_idle,
        on_start=started,
        on_batch=progress,
        drift_window=drift_window,
        max_drift_js=max_drift_js,
        max_drift_psi=max_drift_psi,
        metrics_port=metrics_port,
    )
    console.print(f"Stopped: {_describe(stats)}", soft_wrap=True)


def _describe(stats: ConsumerStats) -> str:
    p99 = stats.p99_ms()
    return (
        f"{stats.scored:,} scored, {stats.dead_lettered:,} dead-lettered in "
        f"{stats.batches:,} batches ({stats.rate():,.0f} events/s"
        + (f", p99 {p99:.1f} ms" if p99 is not None else "")
        + ")"
    )


def status(
    as_json: bool = typer.Option(False, "--json", help="Print the consumers as JSON."),
) -> None:
    """Consumers of this project: state, events/s, pending, dead letters, p99 latency."""
    from dataclasses import asdict

    from rich.table import Table

    from dockyard.events.status import consumer_status

    consumers = consumer_status()
    if as_json:
        import json

        console.print_json(json.dumps([{**asdict(c), "state": c.state} for c in consumers]))
        return
    if not consumers:
        console.print(
            "No stream consumers in this project yet. Start one with: "
            "dockyard consume MODEL --bus URL --in TOPIC --out TOPIC"
        )
        return
    table = Table(
        "consumer", "model", "topics", "state", "events/s", "pending", "scored",
        "dead letters", "p99", "updated",
    )  # fmt: skip
    for c in consumers:
        state = {"running": "green", "stopped": "dim", "gone": "red"}[c.state]
        table.add_row(
            esc(f"{c.group}/{c.name}"),
            esc(c.model),
            esc(f"{c.input} -> {c.output}"),
            f"[{state}]{c.state}[/]",
            f"{c.events_per_s:,.0f}" if c.state == "running" else "-",
            "-" if c.pending < 0 else f"{c.pending:,}",
            f"{c.scored:,}",
            f"{c.dead_lettered:,}",
            "-" if c.p99_ms is None else f"{c.p99_ms:.1f} ms",
            _ago(c.updated_at),
        )
    console.print(table)


def _ago(epoch: float) -> str:
    from datetime import UTC, datetime

    from dockyard.cli._common import ago

    return ago(datetime.fromtimestamp(epoch, UTC))
