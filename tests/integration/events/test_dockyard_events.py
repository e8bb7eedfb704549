"""Dockyard's own events on a real bus: recorded with each change, published as
CloudEvents, never lost while the bus is down (scenario 6 of the events issue)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.events.bus import open_bus
from dockyard.events.publishing import EVENTS_TOPIC, read_cloudevent

pytestmark = pytest.mark.redis

FLOW = """
from typing import Annotated
from dockyard import pipeline, register_model, step


@step
def train() -> Annotated[int, "version"]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    return register_model("events-model", model).version


@pipeline
def training():
    train()
"""


class Forwarder:
    """A TCP forwarder from a local port to Redis: stopped, the bus is down."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def start(self) -> None:
        async def serve() -> None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

        self.thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(timeout=5)

    def stop(self) -> None:
        async def close() -> None:
            if self.server is not None:
                self.server.close()
                await self.server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def events_db(redis_url: str) -> Iterator[str]:
    """A Redis database of its own for the events topic (other tests use database 9)."""
    base = redis_url.rsplit("/", 1)[0]
    url = f"{base}/12"

    async def clean() -> None:
        import redis.asyncio as redis

        client = redis.from_url(url)
        await client.flushdb()
        await client.aclose()

    asyncio.run(clean())
    yield url
    asyncio.run(clean())


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKYARD_HOME": str(project), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("DOCKYARD_STACK", None)
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _read_events(url: str) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        bus = await open_bus(url)
        try:
            messages = await bus.consume(EVENTS_TOPIC, "test-reader", "r1", timeout=1.0)
            await bus.ack(messages)
            return [read_cloudevent(m.payload) | {"key": m.key} for m in messages]
        finally:
            await bus.aclose()

    return asyncio.run(go())


def test_events_wait_while_the_bus_is_down_and_go_out_in_order(
    project: Path, events_db: str
) -> None:
    port = _free_port()
    db = events_db.rsplit("/", 1)[1]
    bus_url = f"redis://127.0.0.1:{port}/{db}"
    (project / "flow.py").write_text(FLOW)
    assert _cli(project, "stack", "register", "ev", "--event-bus", bus_url, "--use").returncode == 0

    started = time.monotonic()
    run = _cli(project, "run", "flow.py:training")
    assert run.returncode == 0, run.stderr  # the bus is down: the run and the registration stand
    assert time.monotonic() - started < 60
    alias = _cli(project, "models", "alias", "events-model:1", "production")
    assert alias.returncode == 0, alias.stderr

    tail = _cli(project, "events", "tail", "--no-follow", "--json", "--type", "dockyard.model.*")
    shown = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [e["type"] for e in shown] == ["dockyard.model.registered", "dockyard.model.alias_moved"]

    forwarder = Forwarder(port, int(events_db.rsplit(":", 1)[1].split("/")[0]))
    forwarder.start()
    try:
        relayed = _cli(project, "events", "relay", "--once")
        assert relayed.returncode == 0, relayed.stderr
        assert "Sent 3 events." in relayed.stdout
        events = _read_events(events_db)
        assert [e["type"] for e in events] == [
            "dockyard.model.registered",
            "dockyard.run.completed",
            "dockyard.model.alias_moved",
        ]
        registered, completed, moved = events
        assert registered["specversion"] == "1.0"
        assert registered["source"] == "/models/events-model"
        assert registered["data"]["version"] == 1  # type: ignore[index]
        assert completed["data"]["pipeline"] == "training"  # type: ignore[index]
        assert moved["data"] == {  # type: ignore[comparison-overlap]
            "name": "events-model", "alias": "production", "version": 1, "previous_version": None,
        }  # fmt: skip
        assert all(e["key"] == e["id"] for e in events)  # the CloudEvent id deduplicates

        # Once the bus is up, a command sends its own events as it ends.
        again = _cli(project, "models", "alias", "events-model:1", "staging")
        assert again.returncode == 0, again.stderr
        assert [e["subject"] for e in _read_events(events_db)] == ["staging"]
        assert "Sent 0 events." in _cli(project, "events", "relay", "--once").stdout
    finally:
        forwarder.stop()


def test_relay_without_a_bus_says_how_to_add_one(project: Path) -> None:
    proc = _cli(project, "events", "relay", "--once")
    assert proc.returncode == 1
    assert "names no event bus" in proc.stderr and "--event-bus" in proc.stderr


def test_an_unknown_bus_scheme_is_refused_when_registering(project: Path) -> None:
    proc = _cli(project, "stack", "register", "x", "--event-bus", "mqtt://127.0.0.1:1883")
    assert proc.returncode == 1
    assert "Unknown event bus" in proc.stderr and "redis://" in proc.stderr
