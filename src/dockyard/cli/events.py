"""``dockyard events``: dockyard's own events (runs, models, aliases, rollouts)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import typer

from dockyard._urls import mask_password
from dockyard.cli._common import console, stack

if TYPE_CHECKING:
    from dockyard.db.outbox import OutboxEvent

app = typer.Typer(
    help="Dockyard's own events: run finished, model registered, alias moved, rollout "
    "decisions (CloudEvents 1.0 on the stack's bus, topic dockyard.events).",
    no_args_is_help=True,
)


def _line(event: dict[str, Any]) -> str:
    data = json.dumps(event.get("data"), sort_keys=True, default=str)
    if len(data) > 120:  # --json prints every field in full
        data = data[:117] + "..."
    when = str(event.get("time", ""))[:19].replace("T", " ")
    subject = f" {event['subject']}" if event.get("subject") else ""
    return f"{when}  {event['type']:<28} {event['source']}{subject}  {data}"


def _as_dict(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "time": event.time.isoformat(),
        "data": event.data,
    }


@app.command("tail")
def tail(
    types: list[str] = typer.Option(
        [], "--type", "-t", help="Only these types (globs, e.g. dockyard.model.*); repeatable."
    ),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Recent events shown first."),
    follow: bool = typer.Option(
        True, "--follow/--no-follow", help="Keep printing new events as they are recorded."
    ),
    as_json: bool = typer.Option(False, "--json", help="One CloudEvent JSON object a line."),
    max_seconds: float | None = typer.Option(
        None, "--max-seconds", help="Stop following after this many seconds."
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Print dockyard's events as they are recorded (the stack's outbox, whether or not
    a bus is configured); Ctrl-C stops."""
    from dockyard.db.outbox import Outbox
    from dockyard.events.publishing import matches

    outbox = Outbox(stack(stack_name).database)
    last: int | None = None

    def show(events: list[OutboxEvent]) -> None:
        for event in events:
            if matches(event.type, types):
                record = _as_dict(event)
                text = json.dumps(record) if as_json else _line(record)
                console.print(text, markup=False, soft_wrap=True)

    recent = outbox.recent(limit=limit) if limit else []
    show(recent)
    last = recent[-1].seq if recent else _last_seq(outbox)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while follow and (deadline is None or time.monotonic() < deadline):
        events = outbox.recent(limit=500, after=last)
        if events:
            show(events)
            last = events[-1].seq
        else:
            time.sleep(0.5)


def _last_seq(outbox: Any) -> int:
    newest = outbox.recent(limit=1)
    return int(newest[0].seq) if newest else 0


@app.command("relay")
def relay(
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="Seconds between flushes."),
    once: bool = typer.Option(False, "--once", help="Send what is pending, then exit."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Send the stack's recorded events to its bus until SIGTERM (every dockyard command
    also sends them when it ends; run this for changes made from Python)."""
    import asyncio
    import signal

    from dockyard.errors import EventError
    from dockyard.events.bus import open_bus
    from dockyard.events.publishing import OutboxRelay, shared_bus_url

    s = stack(stack_name)
    url = shared_bus_url(s)
    if url is None:
        raise EventError(
            f"Stack {s.name!r} names no event bus to send events to. Add one: dockyard stack "
            "register NAME --event-bus redis://127.0.0.1:6379 (or set event_bus in "
            ".dockyard/config.yaml)."
        )

    async def main() -> None:
        bus = await open_bus(url)
        try:
            worker = OutboxRelay(s.database, bus)
            if once:
                console.print(f"Sent {await worker.flush()} events.", markup=False)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            where = mask_password(url)
            console.print(f"Relaying dockyard events to {where} (SIGTERM stops).", markup=False)
            await worker.run(stop, interval=interval)
        finally:
            await bus.aclose()

    asyncio.run(main())
