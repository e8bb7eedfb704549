"""Stream scoring on the real brokers (Redis Streams, NATS JetStream, RabbitMQ): the
issue's scenarios, each run against every broker.

The consumer runs in-process for the volume scenario and as ``python -m dockyard
consume`` subprocesses where it is killed. Buses use ``ack_wait=2`` so a dead consumer's
messages come back within seconds (NATS, Redis claims)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from events_support import Stream, event, kill, start_consumer, wait_ready

from dockyard.events import consume, consumer_status

pytestmark = pytest.mark.slow


def _wait_for_progress(stream: Stream, published: int, seconds: float = 60) -> None:
    """Until the consumer group has taken some of ``published`` (a consumer is running)."""
    deadline = time.monotonic() + seconds
    for _ in range(10_000):
        if stream.pending() < published or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _finish(proc: subprocess.Popen[str], seconds: float = 90) -> str:
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        out = kill(proc)
        raise AssertionError(f"the consumer did not stop by itself:\n{out}") from None
    assert proc.returncode == 0, out
    return out


def test_ten_thousand_events_give_every_id_once_after_deduplication(
    churn: Path, stream: Stream
) -> None:
    stream.publish([event(i) for i in range(10_000)])
    stats = consume(
        "churn@production",
        bus=stream.url,
        input=stream.input,
        output=stream.output,
        dead_letter=stream.dead,
        name="scorer-1",
        max_messages=10_000,
        idle_exit_s=20,
    )
    assert (stats.scored, stats.dead_lettered) == (10_000, 0)
    assert stats.model_calls < 10_000 / 8  # scored in batches
    predictions = stream.predictions(10_000)
    assert sorted(predictions) == list(range(10_000))
    assert all(p["prediction"] in (0, 1) and p["version"] == 1 for p in predictions.values())
    assert stream.pending() == 0


def test_a_consumer_killed_mid_stream_and_restarted_loses_nothing(
    churn: Path, stream: Stream
) -> None:
    s = stream
    published = 0
    for _ in range(5):  # killed five times, each time while events keep coming
        proc = start_consumer(churn, s, "--name", "scorer-1", "--max-batch", "16")
        wait_ready(proc)
        s.publish([event(i) for i in range(published, published + 100)])
        published += 100
        _wait_for_progress(s, published)
        s.publish([event(i) for i in range(published, published + 200)])
        published += 200
        kill(proc, signal.SIGKILL)
        assert proc.returncode == -signal.SIGKILL
    (killed,) = consumer_status(churn / ".dockyard")
    assert (killed.name, killed.state) == ("scorer-1", "gone")  # it could not say it stopped
    final = start_consumer(churn, s, "--name", "scorer-1", "--exit-when-idle", "3")
    out = _finish(final)
    assert "Stopped:" in out
    predictions = s.predictions(published)
    missing = sorted(set(range(published)) - set(predictions))
    letters = s.read(s.dead, published, idle_s=0.5)
    assert not missing, (missing[:20], s.pending(), [m.headers for m in letters[:3]], out)
    assert s.pending() == 0


def test_two_consumers_share_a_group_and_one_takes_over_when_the_other_dies(
    churn: Path, stream: Stream
) -> None:
    s = stream
    a = start_consumer(churn, s, "--name", "scorer-a", "--max-batch", "8")
    b = start_consumer(churn, s, "--name", "scorer-b", "--max-batch", "8", "--exit-when-idle", "4")
    wait_ready(a)
    wait_ready(b)
    published = 0
    for _ in range(6):  # a steady stream while both run
        s.publish([event(i) for i in range(published, published + 100)])
        published += 100
        time.sleep(0.25)
    kill(a, signal.SIGKILL)  # whatever it held goes to b
    s.publish([event(i) for i in range(published, published + 300)])
    published += 300
    _finish(b)
    predictions = s.predictions(published)
    assert sorted(predictions) == list(range(published))
    assert {p["consumer"] for p in predictions.values()} == {"scorers/scorer-a", "scorers/scorer-b"}
    assert s.pending() == 0


def test_sigterm_finishes_the_batch_acknowledges_and_exits(churn: Path, stream: Stream) -> None:
    proc = start_consumer(churn, stream, "--name", "scorer-1")
    wait_ready(proc)
    stream.publish([event(i) for i in range(300)])
    _wait_for_progress(stream, 300)
    out = kill(proc, signal.SIGTERM)
    assert proc.returncode == 0, out
    assert "Stopped:" in out
    assert stream.pending() in (0, *range(1, 300))  # nothing in flight: only unread ones
    done = stream.predictions(300, idle_s=1)
    (record,) = consumer_status(churn / ".dockyard")
    assert (record.group, record.name, record.state) == ("scorers", "scorer-1", "stopped")
    assert (record.model, record.input) == ("churn:1", stream.input)
    assert record.scored == len(done) and record.dead_lettered == 0
    rest = consume(
        "churn@production",
        bus=stream.url,
        input=stream.input,
        output=stream.output,
        dead_letter=stream.dead,
        name="scorer-1",
        idle_exit_s=2,
    )
    assert rest.scored == 300 - len(done)  # nothing was scored twice: all was acked
    assert stream.pending() == 0
