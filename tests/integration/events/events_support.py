"""Helpers of the stream-scoring tests (fixtures are in conftest.py); importable by the
consumer subprocesses, which load the Picky model by reference to this module."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dockyard.events import EventBus, Message, Outgoing, open_bus

FEATURES = ["f0", "f1", "f2", "f3"]
HERE = Path(__file__).parent


class Picky:
    """Class 1 when f0 > 0; raises on a row whose f0 is exactly 666 (a poison record
    the signature accepts)."""

    n_features_in_ = 4

    def predict(self, x: Any) -> Any:
        arr = np.asarray(x, dtype=float)
        if (arr[:, 0] == 666).any():
            raise RuntimeError("cannot score the number of the beast")
        return (arr[:, 0] > 0).astype(np.int64)


def event(i: int) -> bytes:
    rng = np.random.default_rng(i)
    values = rng.normal(size=4).round(4).tolist()
    return json.dumps({"id": i, "features": dict(zip(FEATURES, values, strict=True))}).encode()


@dataclass
class Stream:
    """One test's topics on one broker."""

    url: str
    input: str
    output: str
    dead: str

    @classmethod
    def fresh(cls, url: str) -> Stream:
        base = f"t{uuid.uuid4().hex[:10]}"
        return cls(url, f"{base}.in", f"{base}.out", f"{base}.dead")

    def run(self, coro: Any) -> Any:
        return asyncio.run(asyncio.wait_for(coro, timeout=120))

    async def bus(self) -> EventBus:
        return await open_bus(self.url)

    def prepare(self) -> None:
        """Create the groups that read input, output and dead letters (RabbitMQ keeps
        only what is published after a group exists)."""

        async def go() -> None:
            async with await self.bus() as bus:
                await bus.create_group(self.input, "scorers")
                await bus.create_group(self.output, "check")
                await bus.create_group(self.dead, "check")

        self.run(go())

    def publish(self, payloads: list[bytes]) -> None:
        async def go() -> None:
            async with await self.bus() as bus:
                for start in range(0, len(payloads), 500):
                    chunk = payloads[start : start + 500]
                    await bus.publish_many(
                        self.input,
                        # keyed by content: NATS drops a repeated key as a duplicate
                        [Outgoing(p, hashlib.sha1(p).hexdigest()) for p in chunk],
                    )

        self.run(go())

    def read(
        self, topic: str, want: int, idle_s: float = 3.0, limit_s: float = 90.0
    ) -> list[Message]:
        """Messages of ``topic`` (group ``check``) until ``want`` distinct ones (by
        deduplication key: repeats are expected after a kill) came, or none for
        ``idle_s`` seconds (bounded by ``limit_s``)."""

        async def go() -> list[Message]:
            got: list[Message] = []
            keys: set[str] = set()
            async with await self.bus() as bus:
                deadline = time.monotonic() + limit_s
                last = time.monotonic()
                for _ in range(100_000):
                    if len(keys) >= want or time.monotonic() > deadline:
                        break
                    if time.monotonic() - last > idle_s:
                        break
                    batch = await bus.consume(
                        topic, "check", "reader", max_messages=500, timeout=0.2
                    )
                    if batch:
                        last = time.monotonic()
                        await bus.ack(batch)
                        got += batch
                        keys.update(m.key for m in batch)
            return got

        return list(self.run(go()))

    def predictions(self, want: int, **kw: Any) -> dict[Any, dict[str, Any]]:
        """Output records by input id, repeats dropped by deduplication key."""
        out: dict[str, dict[str, Any]] = {}
        for m in self.read(self.output, want, **kw):
            out.setdefault(m.key, json.loads(m.payload))
        return {body["id"]: body for body in out.values()}

    def pending(self, group: str = "scorers") -> int:
        async def go() -> int:
            async with await self.bus() as bus:
                return await bus.pending(self.input, group)

        return int(self.run(go()))

    def clean(self) -> None:
        async def go() -> None:
            async with await self.bus() as bus:
                for t in (self.input, self.output, self.dead):
                    await bus.delete_topic(t, groups=["scorers", "check"])

        self.run(go())


def start_consumer(project: Path, stream: Stream, *args: str) -> subprocess.Popen[str]:
    """``python -m dockyard consume churn@production ...`` as a user starts it."""
    env = {
        **os.environ,
        "DOCKYARD_HOME": str(project),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dockyard",
            "consume",
            "churn@production",
            "--bus",
            stream.url,
            "--in",
            stream.input,
            "--out",
            stream.output,
            "--dead-letter",
            stream.dead,
            *args,
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str], seconds: float = 60) -> str:
    """The consumer's first line ("Consuming ..."), printed once the bus is connected and
    the model loaded; fails if it exits or stays silent for ``seconds``."""
    import select

    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("Consuming"):
        rest = kill(proc)
        raise AssertionError(f"the consumer did not start:\n{line}{rest}")
    return line


def kill(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> str:
    """Send ``sig`` and return the process's output."""
    if proc.poll() is None:
        proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return out
