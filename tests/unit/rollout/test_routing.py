"""The routing table: weights, sticky clients, edges and validation."""

from __future__ import annotations

import random
import threading

import pytest

from dockyard.errors import RolloutError
from dockyard.rollout.routing import Backend, RouteTable, RouteTableRef, sticky_bucket

STABLE = Backend("1", "http://127.0.0.1:9001")
CANDIDATE = Backend("2", "http://127.0.0.1:9002/")
SHADOW = Backend("3", "http://127.0.0.1:9003")
KEYS = [f"user-{i}" for i in range(10_000)]


def table(weight: float, **kwargs: object) -> RouteTable:
    return RouteTable(stable=STABLE, candidate=CANDIDATE, weight=weight, **kwargs)


@pytest.mark.parametrize("weight", [1, 10, 25, 50, 90])
def test_random_split_converges_to_the_weight(weight: float) -> None:
    random.seed(weight)
    t = table(weight)
    share = sum(t.choose().version == "2" for _ in range(10_000)) / 100
    assert share == pytest.approx(weight, abs=1.5)


@pytest.mark.parametrize("weight", [1, 10, 25, 50, 90])
def test_sticky_split_converges_to_the_weight_over_keys(weight: float) -> None:
    t = table(weight, sticky_header="X-User-Id")
    share = sum(t.choose(k).version == "2" for k in KEYS) / 100
    assert share == pytest.approx(weight, abs=1.5)


def test_sticky_key_stays_on_one_version_while_the_weight_is_unchanged() -> None:
    t = table(30, sticky_header="x-user-id")
    first = {k: t.choose(k).version for k in KEYS[:2000]}
    for _ in range(3):
        assert {k: t.choose(k).version for k in KEYS[:2000]} == first
    # a fresh but equal table (as after a controller restart) routes the same way
    again = table(30, sticky_header="x-user-id")
    assert {k: again.choose(k).version for k in KEYS[:2000]} == first


def test_sticky_keys_never_move_back_to_stable_as_the_weight_grows() -> None:
    on_candidate: set[str] = set()
    for weight in (0, 5, 10, 25, 50, 75, 99, 100):
        t = table(weight, sticky_header="x-user-id")
        now = {k for k in KEYS if t.choose(k) == CANDIDATE}
        assert on_candidate <= now, "a client went back from candidate to stable"
        # minimal movement: only the clients needed to reach the new weight move
        assert len(now) / 100 == pytest.approx(weight, abs=1.5)
        on_candidate = now
    assert len(on_candidate) == len(KEYS)


def test_weight_edges_route_everything_to_one_side() -> None:
    zero, full = table(0, sticky_header="x-user-id"), table(100, sticky_header="x-user-id")
    for key in [*KEYS[:500], None]:
        assert zero.choose(key) == STABLE
        assert full.choose(key) == CANDIDATE
    assert RouteTable(stable=STABLE).choose("anyone") == STABLE


def test_sticky_bucket_is_deterministic_and_in_range() -> None:
    points = [sticky_bucket(k) for k in KEYS[:1000]]
    assert points == [sticky_bucket(k) for k in KEYS[:1000]]
    assert all(0.0 <= p < 100.0 for p in points)
    assert sticky_bucket("a", "salt1") != sticky_bucket("a", "salt2")


def test_mirroring_follows_the_percent() -> None:
    random.seed(7)
    assert not table(10).should_mirror()  # no shadow configured
    t = RouteTable(stable=STABLE, shadow=SHADOW, mirror_percent=30)
    share = sum(t.should_mirror() for _ in range(10_000)) / 100
    assert share == pytest.approx(30, abs=1.5)
    full = RouteTable(stable=STABLE, shadow=SHADOW, mirror_percent=100)
    assert all(full.should_mirror() for _ in range(1000))
    assert not RouteTable(stable=STABLE, shadow=SHADOW, mirror_percent=0).should_mirror()
    assert t.choose() == STABLE  # the shadow never answers clients


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidate": CANDIDATE, "weight": 101}, "from 0 to 100"),
        ({"candidate": CANDIDATE, "weight": -1}, "from 0 to 100"),
        ({"candidate": CANDIDATE, "weight": "lots"}, "must be a number"),
        ({"weight": 10}, "without a candidate"),
        ({"shadow": SHADOW, "mirror_percent": 150}, "from 0 to 100"),
        ({"mirror_percent": 5}, "without a shadow"),
    ],
)
def test_bad_tables_are_rejected_with_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(RolloutError, match=message):
        RouteTable(stable=STABLE, **kwargs)


def test_bad_backends_are_rejected() -> None:
    with pytest.raises(RolloutError, match="http://"):
        Backend("1", "127.0.0.1:9001")
    with pytest.raises(RolloutError, match="version"):
        Backend("", "http://127.0.0.1:9001")
    assert CANDIDATE.url == "http://127.0.0.1:9002"  # trailing slash dropped


def test_table_round_trips_through_a_dict() -> None:
    t = table(25, shadow=SHADOW, mirror_percent=50, sticky_header="X-User-Id")
    assert t.sticky_header == "x-user-id"
    assert RouteTable.from_dict(t.to_dict()) == t
    with pytest.raises(RolloutError, match="Not a route table"):
        RouteTable.from_dict({"candidate": None})


def test_ref_swaps_tables_atomically() -> None:
    ref = RouteTableRef(table(10))
    assert ref().weight == 10
    assert ref.update(weight=50).weight == 50
    assert ref().weight == 50
    ref.set(RouteTable(stable=STABLE))
    assert ref().candidate is None
    with pytest.raises(RolloutError):
        ref.update(weight=200)
    with pytest.raises(RolloutError):
        ref.set("not a table")  # type: ignore[arg-type]

    ref.set(table(0))
    seen: list[float] = []

    def reader() -> None:
        for _ in range(2000):
            seen.append(ref().weight)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for weight in range(101):
        ref.update(weight=weight)
    for thread in threads:
        thread.join()
    assert all(0 <= w <= 100 for w in seen)
    assert ref().weight == 100


def test_public_api_is_lazy_and_complete() -> None:
    import subprocess
    import sys

    import dockyard.rollout as rollout

    code = (
        "import sys, dockyard.rollout as r; r.RouteTable; r.analyze; r.RolloutMetrics; "
        "print(sorted(m for m in ('httpx', 'starlette', 'fastapi', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for name in rollout.__all__:
        assert getattr(rollout, name) is not None
    with pytest.raises(AttributeError):
        _ = rollout.nope


def test_a_backend_with_replicas_round_trips() -> None:
    backend = Backend("3", "http://127.0.0.1:1/", ("http://127.0.0.1:2",))
    assert backend.urls == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert Backend.from_dict(backend.to_dict()) == backend
    assert Backend("3", "http://x").to_dict() == {"version": "3", "url": "http://x"}
    with pytest.raises(RolloutError, match="give a base URL"):
        Backend("3", "http://x", ("ftp://y",))
