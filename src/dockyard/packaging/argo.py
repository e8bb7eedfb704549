"""Argo Rollouts objects from the deploy spec that drives the local gateway.

One ``Rollout`` runs the deployment's pods (its pod template is the newest version's:
the candidate during a rollout, else the stable one) with the spec's strategy, and one
``AnalysisTemplate`` judges a candidate with the same thresholds as ``rollout/analysis.py``:

=================  ===========================================================
RolloutSpec        Argo Rollouts
=================  ===========================================================
canary steps       ``setWeight: w`` then ``pause: {duration: interval}`` then an
                   ``analysis`` step, for every weight but the last 100 (passing
                   the step before 100 completes the rollout, as locally)
failure_limit      each metric is measured ``failure_limit`` times, ``interval``
                   apart, with ``failureLimit: failure_limit - 1``
min_requests       a ``candidate-requests`` metric that is *inconclusive* below it
                   (Argo pauses the rollout; locally it waits for more traffic)
max_error_rate     ``prometheus``: 5xx answers over answers of the candidate
                   version (``dockyard_requests_total{code=~"5.."}``) in the window
max_p99_ms         ``prometheus``: ``histogram_quantile(0.99, ...
                   dockyard_request_duration_seconds_bucket ...) * 1000``
max_divergence     ``web``: ``GET <divergence_url>?model=&stable=&candidate=``
                   answering ``{"divergence": <JS distance>}`` (see
                   ``docs/run-anywhere.md``: dockyard does not serve this route
                   in Kubernetes yet, so the URL is the operator's to give)
bluegreen          ``blueGreen``: preview service, ``autoPromotionSeconds: bake``,
                   ``postPromotionAnalysis`` with the absolute limits only (as
                   ``RolloutSpec.post_switch_analysis``), ``scaleDownDelaySeconds:
                   interval`` (blue kept warm)
direct             a canary without steps
shadow             refused: mirroring needs a traffic router (Istio) in Argo
=================  ===========================================================

A relative threshold (factors of the stable figures) is refused too: it has no one-query
form yet. A measurement with no requests at all is NaN, which meets neither condition,
so it is inconclusive, never a pass.
"""

from __future__ import annotations

import math
from typing import Any

from dockyard.errors import PackagingError
from dockyard.packaging.kubernetes import (
    config_objects,
    hpa,
    pod_template,
    selector,
    service,
)
from dockyard.packaging.plans import AnalysisPlan, DeploymentPlan, k8s_name

__all__ = ["API_VERSION", "duration", "render_argo"]

API_VERSION = "argoproj.io/v1alpha1"


def duration(seconds: float) -> str:
    """Seconds as an Argo duration (``30s``, ``2m``, ``1h``; whole seconds, at least 1)."""
    whole = max(1, math.ceil(seconds))
    for unit, size in (("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def template_name(plan: DeploymentPlan) -> str:
    return k8s_name(f"{plan.name}-analysis")


def _selector(plan: DeploymentPlan, version_arg: str) -> str:
    return f'model="{plan.model}",version="{{{{args.{version_arg}}}}}"'


def _queries(plan: DeploymentPlan, window: str) -> dict[str, str]:
    """PromQL over the candidate's series in the window. A series that does not exist
    yet counts 0 (``or vector(0)``), so no traffic gives 0 requests and a NaN rate
    (0/0) or p99: inconclusive, never an error that would abort the rollout."""
    sel = _selector(plan, "candidate-version")
    requests = f"(sum(increase(dockyard_requests_total{{{sel}}}[{window}])) or vector(0))"
    errors = f'(sum(increase(dockyard_requests_total{{{sel},code=~"5.."}}[{window}])) or vector(0))'
    p99 = (
        "(histogram_quantile(0.99, sum by (le) "
        f"(rate(dockyard_request_duration_seconds_bucket{{{sel}}}[{window}]))) * 1000"
        " or vector(NaN))"
    )
    return {"requests": requests, "error-rate": f"{errors} / {requests}", "p99-ms": p99}


def _metric(
    name: str, provider: dict[str, Any], ok: str, bad: str, analysis: AnalysisPlan, every: str
) -> dict[str, Any]:
    metric: dict[str, Any] = {
        "name": name,
        "successCondition": ok,
        "failureCondition": bad,
        "failureLimit": analysis.failure_limit - 1,
        "provider": provider,
    }
    if analysis.failure_limit > 1:
        metric["count"] = analysis.failure_limit
        metric["interval"] = every
    return metric


def analysis_metrics(plan: DeploymentPlan, analysis: AnalysisPlan) -> list[dict[str, Any]]:
    """The metrics of one AnalysisTemplate for ``analysis``'s thresholds."""
    window = duration(plan.rollout.interval_s)
    queries = _queries(plan, window)

    def prometheus(query: str) -> dict[str, Any]:
        return {"prometheus": {"address": "{{args.prometheus-url}}", "query": query}}

    metrics = [
        {
            "name": "candidate-requests",
            # Inconclusive below min_requests (neither condition holds): never a pass.
            "successCondition": f"result[0] >= {analysis.min_requests}",
            "failureCondition": "false",
            "inconclusiveLimit": 0,
            "provider": prometheus(queries["requests"]),
        }
    ]
    if analysis.max_error_rate is not None:
        limit = analysis.max_error_rate
        metrics.append(
            _metric(
                "error-rate",
                prometheus(queries["error-rate"]),
                f"result[0] <= {limit!r}",
                f"result[0] > {limit!r}",
                analysis,
                window,
            )
        )
    if analysis.max_p99_ms is not None:
        limit = analysis.max_p99_ms
        metrics.append(
            _metric(
                "p99-ms",
                prometheus(queries["p99-ms"]),
                f"result[0] <= {limit!r}",
                f"result[0] > {limit!r}",
                analysis,
                window,
            )
        )
    if analysis.max_divergence is not None:
        if not plan.divergence_url:
            raise PackagingError(
                f"The deploy spec of {plan.name!r} limits the prediction divergence "
                f"({analysis.max_divergence:g}), which Argo reads from a dockyard endpoint "
                "over HTTP; give its URL with --divergence-url (the contract is in "
                "docs/run-anywhere.md), or deploy without --max-divergence."
            )
        limit = analysis.max_divergence
        url = (
            "{{args.divergence-url}}?model={{args.model}}"
            "&stable={{args.stable-version}}&candidate={{args.candidate-version}}"
        )
        metrics.append(
            _metric(
                "divergence",
                {"web": {"url": url, "jsonPath": "{$.divergence}", "timeoutSeconds": 10}},
                f"result <= {limit!r}",
                f"result > {limit!r}",
                analysis,
                window,
            )
        )
    return metrics


def analysis_template(plan: DeploymentPlan, name: str, analysis: AnalysisPlan) -> dict[str, Any]:
    args: list[dict[str, Any]] = [
        {"name": "model", "value": plan.model},
        {"name": "stable-version"},
        {"name": "candidate-version"},
        {"name": "prometheus-url", "value": plan.prometheus_url},
    ]
    if plan.divergence_url and analysis.max_divergence is not None:
        args.append({"name": "divergence-url", "value": plan.divergence_url})
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": "dockyard"}}
    if plan.namespace:
        meta["namespace"] = plan.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": meta,
        "spec": {"args": args, "metrics": analysis_metrics(plan, analysis)},
    }


def _run_args(plan: DeploymentPlan) -> list[dict[str, str]]:
    newest = plan.candidate or plan.stable
    return [
        {"name": "stable-version", "value": str(plan.stable.version)},
        {"name": "candidate-version", "value": str(newest.version)},
    ]


def _strategy(plan: DeploymentPlan, stable_svc: str, canary_svc: str) -> dict[str, Any]:
    spec = plan.rollout
    analysis = {"templates": [{"templateName": template_name(plan)}], "args": _run_args(plan)}
    if spec.strategy == "canary":
        steps: list[dict[str, Any]] = []
        for weight in spec.steps[:-1]:  # passing the step before 100 completes it
            steps.append({"setWeight": _weight(weight)})
            steps.append({"pause": {"duration": duration(spec.interval_s)}})
            steps.append({"analysis": analysis})
        return {
            "canary": {"stableService": stable_svc, "canaryService": canary_svc, "steps": steps}
        }
    if spec.strategy == "direct":
        return {"canary": {"steps": []}}
    if spec.strategy == "bluegreen":
        blue_green: dict[str, Any] = {
            "activeService": stable_svc,
            "previewService": canary_svc,
            "autoPromotionEnabled": True,
            "scaleDownDelaySeconds": max(1, math.ceil(spec.interval_s)),
            "postPromotionAnalysis": {
                "templates": [{"templateName": k8s_name(f"{plan.name}-post-switch")}],
                "args": _run_args(plan),
            },
        }
        if spec.bake_s > 0:
            blue_green["autoPromotionSeconds"] = max(1, math.ceil(spec.bake_s))
        return {"blueGreen": blue_green}
    raise PackagingError(
        f"Deployment {plan.name!r} uses the {spec.strategy} strategy, which Argo Rollouts "
        "runs only with a traffic router that mirrors requests (Istio); dockyard does not "
        "generate that yet. Package a canary or blue/green deploy spec."
    )


def _weight(weight: float) -> int:
    if not float(weight).is_integer():
        raise PackagingError(
            f"Canary step {weight:g}% is not a whole percent; Argo's setWeight takes whole "
            "percents. Use steps such as 10,25,50,100."
        )
    return int(weight)


def _check_relative(plan: DeploymentPlan) -> None:
    relative = plan.rollout.analysis.relative
    if relative:
        raise PackagingError(
            f"The deploy spec of {plan.name!r} has relative limits ({', '.join(sorted(relative))}: "
            "factors of the stable version's figures); the Argo packaging supports absolute "
            "limits only for now. Deploy with absolute limits (without --relative)."
        )


def render_argo(plan: DeploymentPlan) -> list[dict[str, Any]]:
    """The ConfigMap and Secret, the services, the ``AnalysisTemplate``\\ (s), the
    ``Rollout`` and its autoscaler."""
    _check_relative(plan)
    name = k8s_name(plan.name)
    second = "preview" if plan.rollout.strategy == "bluegreen" else "canary"
    stable_svc, canary_svc = name, k8s_name(f"{plan.name}-{second}")
    strategy = _strategy(plan, stable_svc, canary_svc)
    objects = config_objects(plan)
    objects.append(service(plan, stable_svc))
    objects.append(service(plan, canary_svc))
    if plan.rollout.strategy == "canary":
        objects.append(analysis_template(plan, template_name(plan), plan.rollout.analysis))
    elif plan.rollout.strategy == "bluegreen":
        post = k8s_name(f"{plan.name}-post-switch")
        objects.append(analysis_template(plan, post, plan.rollout.post_switch))
    newest = plan.candidate or plan.stable
    template = pod_template(plan, newest)
    # Argo adds its own pod-template-hash label to tell versions apart; the version label
    # stays on the pods (metrics and logs), but the selector must not pin one version.
    meta: dict[str, Any] = {
        "name": name,
        "labels": {"app.kubernetes.io/part-of": "dockyard", **selector(plan)},
    }
    if plan.namespace:
        meta["namespace"] = plan.namespace
    objects.append(
        {
            "apiVersion": API_VERSION,
            "kind": "Rollout",
            "metadata": meta,
            "spec": {
                "replicas": plan.replicas,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": selector(plan)},
                "template": template,
                "strategy": strategy,
            },
        }
    )
    objects.append(hpa(plan, "Rollout", API_VERSION, name))
    return objects
