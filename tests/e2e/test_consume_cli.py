"""``dockyard consume``: bad input is one line naming the value and the fix, before any
model is loaded or broker touched where it can be."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _consume(cli: Cli, *args: str, bus: str = "redis://127.0.0.1:6379/9") -> str:
    return _error(
        cli(
            "consume",
            "churn@production",
            "--bus",
            bus,
            "--in",
            "customers.events",
            "--out",
            "churn.predictions",
            *args,
            ok=False,
        )
    )


def test_unreachable_broker_names_the_url_with_the_password_masked(cli: Cli) -> None:
    line = _consume(cli, bus="amqp://scorer:hunter2@127.0.0.1:1/")
    assert "Cannot reach the event bus amqp://scorer:***@127.0.0.1:1/" in line
    assert "hunter2" not in line
    assert "Check that RabbitMQ is running there" in line


def test_unknown_scheme_lists_the_known_ones(cli: Cli) -> None:
    line = _consume(cli, bus="mqtt://127.0.0.1:1883")
    assert "Unknown event bus 'mqtt://127.0.0.1:1883': scheme 'mqtt' is not installed" in line
    assert "Known schemes: amqp://" in line and "redis://" in line and "nats://" in line


@pytest.mark.parametrize("topic", ["customers events", "orders.>", "bad..name"])
def test_a_topic_name_brokers_refuse_is_named(cli: Cli, topic: str) -> None:
    line = _error(
        cli("consume", "churn", "--bus", "memory://", "--in", topic, "--out", "out", ok=False)
    )
    assert f"input topic name {topic!r} is not accepted" in line
    assert "e.g. customers.events" in line


def test_max_batch_zero_is_refused(cli: Cli) -> None:
    line = _consume(cli, "--max-batch", "0")
    assert "--max-batch must be a whole number of at least 1" in line and "got 0" in line


def test_status_without_consumers_says_how_to_start_one(cli: Cli) -> None:
    out = cli("consume", "status").stdout
    assert "No stream consumers in this project yet" in out
    assert cli("consume", "status", "--json").stdout.strip() == "[]"


def test_a_group_that_scores_another_model_is_refused(cli: Cli, project) -> None:
    """A consumer group's place in the stream belongs to the model it scores: another
    model in the same group would take over its pending events."""
    import json
    import time

    from dockyard.events.status import ConsumerStatus, status_dir, write_status

    write_status(
        status_dir(project / ".dockyard"),
        ConsumerStatus(
            group="scorers", name="scorer-1", model="iris:2", bus="memory://", input="customers.events",
            output="x", dead_letter="x.dead", pid=1, host="elsewhere", started_at=time.time(),
            updated_at=time.time(), running=False, scored=10, dead_lettered=0, events_per_s=0.0,
            p99_ms=None, pending=0,
        ),
    )  # fmt: skip
    line = _consume(cli, bus="memory://")
    assert "Consumer group 'scorers' on 'customers.events' (memory://) scores model iris:2" in line
    assert "Use another --group for churn@production" in line
    assert json.loads(next((project / ".dockyard" / "consumers").glob("*.json")).read_text())
