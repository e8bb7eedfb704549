"""The rollout spec: every operator mistake gets a message that names it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import RolloutError
from dockyard.rollout.spec import RolloutSpec, load_deploy_file, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25), ("2", 2.0), (1.5, 1.5)],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5s", "5 minutes", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(RolloutError, match="duration"):
        parse_duration(text, "interval")


def test_cli_values() -> None:
    spec = RolloutSpec.from_cli(
        strategy="canary",
        steps="10,25,50,100",
        interval="30s",
        max_error_rate=0.01,
        max_p99_ms=50,
        max_divergence=0.1,
        min_requests=200,
        sticky_header="X-User-Id",
        failover=False,
    )
    assert spec.steps == (10.0, 25.0, 50.0, 100.0)
    assert spec.interval_s == 30.0
    a = spec.analysis
    assert (a.max_error_rate, a.max_p99_ms, a.max_divergence, a.min_requests) == (
        0.01,
        50.0,
        0.1,
        200,
    )
    assert spec.sticky_header == "x-user-id" and spec.failover is False


def test_explicit_thresholds_replace_the_default_error_check() -> None:
    assert RolloutSpec.from_cli().analysis.max_error_rate == 0.01
    only_p99 = RolloutSpec.from_cli(max_p99_ms=50)
    assert only_p99.analysis.max_error_rate is None and only_p99.analysis.max_p99_ms == 50


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("10,50,25,100", "Canary steps must increase: 25 comes after 50"),
        ("10,10,100", "must increase"),
        ("10,150", "Canary step 150 .* is over 100"),
        ("10,25,50", "must end at 100; '10,25,50' ends at 50"),
        ("0,100", "must be above 0"),
        ("-10,100", "must be above 0"),
        ("ten,100", "is not a number"),
    ],
)
def test_bad_steps(steps: str, message: str) -> None:
    with pytest.raises(RolloutError, match=message):
        RolloutSpec.from_cli(steps=steps)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_error_rate", -0.1, "--max-error-rate must not be negative"),
        ("max_p99_ms", -1, "--max-p99-ms must not be negative"),
        ("max_divergence", -0.5, "--max-divergence must not be negative"),
        ("max_error_rate", 5, "fraction from 0 to 1"),
        ("max_divergence", 2, "from 0 to 1"),
        ("min_requests", 0, "min_requests must be a whole number >= 1"),
    ],
)
def test_bad_thresholds(option: str, value: float, message: str) -> None:
    with pytest.raises(RolloutError, match=message):
        RolloutSpec.from_cli(**{option: value})  # type: ignore[arg-type]


def test_unknown_strategy() -> None:
    with pytest.raises(RolloutError, match="Unknown strategy 'rolling'; use one of canary"):
        RolloutSpec.from_cli(strategy="rolling")


def test_other_bad_values() -> None:
    with pytest.raises(RolloutError, match="mirror must be a percent"):
        RolloutSpec.from_cli(strategy="shadow", mirror=0)
    with pytest.raises(RolloutError, match="Invalid alias"):
        RolloutSpec.from_cli(alias="prod uction")
    with pytest.raises(RolloutError, match="interval must be above 0"):
        RolloutSpec.from_cli(interval="0s")


def test_round_trip() -> None:
    spec = RolloutSpec.from_cli(strategy="bluegreen", bake="1m", max_p99_ms=40, relative=True)
    assert RolloutSpec.from_dict(spec.to_dict()) == spec


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(
        "name: churn-api\nmodel: churn:4\nport: 8088\n"
        "rollout:\n  strategy: canary\n  steps: [20, 100]\n  interval: 5s\n"
        "  analysis: {max_error_rate: 0.02, min_requests: 50}\n"
    )
    file = load_deploy_file(path)
    assert (file.name, file.model, file.port) == ("churn-api", "churn:4", 8088)
    assert file.spec.steps == (20.0, 100.0) and file.spec.interval_s == 5.0
    assert file.spec.analysis.max_error_rate == 0.02
    assert RolloutSpec.from_yaml(path) == file.spec
    # command-line values override the file's
    over = RolloutSpec.from_cli(strategy="canary", interval="1s", base=file.spec)
    assert over.interval_s == 1.0 and over.steps == (20.0, 100.0)
    assert over.analysis.max_error_rate == 0.02


def test_bad_yaml_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rollout:\n  strategy: canary\n  stepz: [10, 100]\n")
    with pytest.raises(RolloutError, match="Unknown rollout setting"):
        load_deploy_file(bad)
    bad.write_text("rollout:\n  steps: [50, 10, 100]\n")
    with pytest.raises(RolloutError, match="must increase"):
        load_deploy_file(bad)
    bad.write_text(": : :\n  - [")
    with pytest.raises(RolloutError, match="not valid YAML"):
        load_deploy_file(bad)
    with pytest.raises(RolloutError, match="No deploy file"):
        load_deploy_file(tmp_path / "missing.yaml")
