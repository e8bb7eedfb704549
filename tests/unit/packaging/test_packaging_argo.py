"""Argo Rollouts: every object fits its CRD schema, and the steps, weights and thresholds
are the deploy spec's."""

from __future__ import annotations

import dataclasses
import re

import pytest

from dockyard.errors import PackagingError
from dockyard.packaging import DeploymentPlan, VersionPlan, render_argo
from dockyard.packaging.argo import duration
from dockyard.rollout.packaging import rollout_plan
from dockyard.rollout.spec import RolloutSpec
from packaging_checks import argo_errors, kubernetes_errors

SPEC = RolloutSpec.from_cli(
    strategy="canary",
    steps="5,20,50,100",
    interval="45s",
    max_error_rate=0.02,
    max_p99_ms=80,
    max_divergence=0.2,
    min_requests=150,
    failure_limit=2,
)


def _plan(spec: RolloutSpec = SPEC, **changes: object) -> DeploymentPlan:
    plan = DeploymentPlan(
        name="churn-api",
        model="churn",
        versions=(VersionPlan(3, "stable", 100.0), VersionPlan(4, "candidate", 0.0)),
        image="ghcr.io/acme/churn-api",
        rollout=rollout_plan(spec),
        divergence_url="http://dockyard-analysis.ml.svc/divergence",
    )
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


def _one(objects: list[dict], kind: str) -> dict:
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


def _limit(metric: dict) -> float:
    return float(re.fullmatch(r"result(?:\[0\])? <= (.+)", metric["successCondition"]).group(1))


def test_every_argo_object_fits_its_crd_schema() -> None:
    for spec in (SPEC, RolloutSpec.from_cli(strategy="bluegreen", bake="60s", max_p99_ms=50)):
        objects = render_argo(_plan(spec))
        for obj in objects:
            if obj["apiVersion"].startswith("argoproj.io/"):
                assert argo_errors(obj) == [], obj["kind"]
        # the rest (services, autoscaler, config) are plain Kubernetes
        plain = [o for o in objects if not o["apiVersion"].startswith("argoproj.io/")]
        assert kubernetes_errors(plain) == []


def test_the_schema_check_catches_a_wrong_step() -> None:
    rollout = _one(render_argo(_plan()), "Rollout")
    rollout["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": "ten"}
    assert argo_errors(rollout)
    typo = _one(render_argo(_plan()), "Rollout")
    typo["spec"]["strategy"]["canary"]["stepz"] = []
    assert argo_errors(typo) == ["/spec/strategy/canary/stepz: unknown field"]


def test_canary_steps_weights_and_thresholds_are_the_deploy_specs() -> None:
    objects = render_argo(_plan())
    steps = _one(objects, "Rollout")["spec"]["strategy"]["canary"]["steps"]
    weights = [s["setWeight"] for s in steps if "setWeight" in s]
    # the last weight (100) is Argo's own promotion once every step passed, as locally
    assert weights == [int(w) for w in SPEC.steps[:-1]]
    pauses = [s["pause"]["duration"] for s in steps if "pause" in s]
    assert pauses == [duration(SPEC.interval_s)] * len(weights) == ["45s"] * 3
    analyses = [s["analysis"] for s in steps if "analysis" in s]
    assert len(analyses) == len(weights)
    # each step: weight, then the interval, then the analysis of that window
    assert [next(iter(s)) for s in steps] == ["setWeight", "pause", "analysis"] * 3

    template = _one(objects, "AnalysisTemplate")
    assert analyses[0]["templates"] == [{"templateName": template["metadata"]["name"]}]
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    a = SPEC.analysis
    assert _limit(metrics["error-rate"]) == a.max_error_rate
    assert _limit(metrics["p99-ms"]) == a.max_p99_ms
    assert _limit(metrics["divergence"]) == a.max_divergence
    assert metrics["candidate-requests"]["successCondition"] == f"result[0] >= {a.min_requests}"
    for name in ("error-rate", "p99-ms", "divergence"):
        assert metrics[name]["failureLimit"] == a.failure_limit - 1
        assert metrics[name]["count"] == a.failure_limit
    # the Prometheus metrics are the serve processes' real ones
    assert "dockyard_requests_total" in metrics["error-rate"]["provider"]["prometheus"]["query"]
    assert (
        "dockyard_request_duration_seconds_bucket"
        in (metrics["p99-ms"]["provider"]["prometheus"]["query"])
    )
    assert metrics["divergence"]["provider"]["web"]["jsonPath"] == "{$.divergence}"
    args = {a["name"]: a["value"] for a in analyses[0]["args"]}
    assert args == {"stable-version": "3", "candidate-version": "4"}


def test_every_prometheus_query_parses() -> None:
    """The queries as Prometheus reads them, once Argo has put the arguments in."""
    import promql_parser

    template = _one(render_argo(_plan()), "AnalysisTemplate")
    queries = [
        m["provider"]["prometheus"]["query"]
        for m in template["spec"]["metrics"]
        if "prometheus" in m["provider"]
    ]
    assert len(queries) == 3
    for query in queries:
        filled = query.replace("{{args.candidate-version}}", "4")
        assert "{{" not in filled
        promql_parser.parse(filled)  # raises ValueError on a syntax error
    with pytest.raises(ValueError, match="parenthesis"):
        promql_parser.parse(queries[0].replace("{{args.candidate-version}}", "4")[:-1])


def test_bluegreen_bake_and_post_switch_limits() -> None:
    spec = RolloutSpec.from_cli(
        strategy="bluegreen", bake="2m", interval="30s", max_error_rate=0.01, max_p99_ms=40
    )
    objects = render_argo(_plan(spec))
    blue_green = _one(objects, "Rollout")["spec"]["strategy"]["blueGreen"]
    assert blue_green["autoPromotionSeconds"] == spec.bake_s == 120
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    assert {blue_green["activeService"], blue_green["previewService"]} == services
    assert blue_green["scaleDownDelaySeconds"] == spec.interval_s
    template = _one(objects, "AnalysisTemplate")
    assert blue_green["postPromotionAnalysis"]["templates"] == [
        {"templateName": template["metadata"]["name"]}
    ]
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    post = spec.post_switch_analysis()
    assert _limit(metrics["error-rate"]) == post.max_error_rate
    assert _limit(metrics["p99-ms"]) == post.max_p99_ms
    assert "divergence" not in metrics


def test_the_rollout_runs_the_newest_version() -> None:
    rollout = _one(render_argo(_plan()), "Rollout")
    (container,) = rollout["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/acme/churn-api:v4"


def test_shadow_is_refused_with_the_reason() -> None:
    with pytest.raises(PackagingError, match="traffic router that mirrors"):
        render_argo(_plan(RolloutSpec.from_cli(strategy="shadow", mirror=50)))


def test_divergence_without_an_endpoint_is_refused() -> None:
    with pytest.raises(PackagingError, match="--divergence-url"):
        render_argo(_plan(divergence_url=None))


def test_relative_limits_are_refused() -> None:
    spec = RolloutSpec.from_cli(strategy="canary", max_p99_ms=1.5, relative=True)
    with pytest.raises(PackagingError, match="relative limits"):
        render_argo(_plan(spec))


def test_fractional_weights_are_refused() -> None:
    spec = RolloutSpec.from_cli(strategy="canary", steps="12.5,100")
    with pytest.raises(PackagingError, match="whole percent"):
        render_argo(_plan(spec))


def test_absent_crd_schemas_skip_with_the_reason_or_fail_in_ci(monkeypatch, tmp_path) -> None:
    import packaging_checks
    from support import REQUIRE_SERVICES

    monkeypatch.setattr(packaging_checks, "ARGO_SCHEMAS", tmp_path)
    expected = pytest.fail.Exception if REQUIRE_SERVICES else pytest.skip.Exception
    with pytest.raises(expected, match=r"rollout-crd\.yaml is absent"):
        packaging_checks.argo_schema("Rollout")
