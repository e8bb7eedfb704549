"""Package a deployment for Kubernetes (plain or with Argo Rollouts) and for AWS.

The assembly half of :mod:`dockyard.packaging`: it reads the deployment's stored rollout
state (its versions, the candidate's share of traffic, the deploy spec that drives the
local gateway) and the stack's metadata store URL, builds a
:class:`~dockyard.packaging.plans.DeploymentPlan`, and writes what the renderers return.
It lives in ``rollout`` because a deployment, its spec and its state are this context's;
the renderers below know nothing of stores.

Example::

    from dockyard.rollout.packaging import package_k8s

    bundle = package_k8s("churn-api", "k8s/", image="ghcr.io/acme/churn-api", rollouts="argo")
    print(bundle.files)   # ('churn-api.yaml',)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import PackagingError, RecordNotFoundError
from dockyard.rollout.images import Bundle, write_files
from dockyard.rollout.machine import RolloutState

if TYPE_CHECKING:
    from dockyard.packaging.plans import AnalysisPlan, DeploymentPlan, RolloutPlan
    from dockyard.rollout.analysis import AnalysisConfig
    from dockyard.rollout.spec import RolloutSpec
    from dockyard.stacks.stack import Stack

__all__ = ["ROLLOUT_TOOLS", "deployment_plan", "package_aws", "package_k8s", "rollout_plan"]

ROLLOUT_TOOLS = ("argo",)


def _analysis_plan(config: AnalysisConfig) -> AnalysisPlan:
    from dockyard.packaging.plans import AnalysisPlan

    return AnalysisPlan(
        max_error_rate=config.max_error_rate,
        max_p99_ms=config.max_p99_ms,
        max_divergence=config.max_divergence,
        min_requests=config.min_requests,
        failure_limit=config.failure_limit,
        relative=frozenset(config.relative),  # type: ignore[arg-type]
    )


def rollout_plan(spec: RolloutSpec) -> RolloutPlan:
    """A deploy spec in the plain numbers the renderers take."""
    from dockyard.packaging.plans import RolloutPlan

    return RolloutPlan(
        strategy=spec.strategy,
        steps=tuple(spec.steps),
        interval_s=spec.interval_s,
        bake_s=spec.bake_s,
        mirror=spec.mirror,
        analysis=_analysis_plan(spec.analysis),
        post_switch=_analysis_plan(spec.post_switch_analysis()),
    )


def _stack(stack: Stack | str | None) -> Stack:
    from dockyard.stacks.stack import Stack, load_stack

    return stack if isinstance(stack, Stack) else load_stack(stack)


def deployment_plan(
    name: str,
    *,
    image: str | None = None,
    stack: Stack | str | None = None,
    spec: RolloutSpec | None = None,
    namespace: str | None = None,
    prometheus_url: str | None = None,
    divergence_url: str | None = None,
) -> DeploymentPlan:
    """The plan of the stored deployment ``name``.

    Args:
        image: the image repository (default: the deployment's name); version ``N``
            runs ``IMAGE:vN`` (``dockyard containerize MODEL:N`` builds it).
        spec: a deploy spec to use instead of the deployment's recorded one.

    Raises:
        PackagingError: no such deployment, it has no version, or an invalid image.
    """
    from dockyard.db import mask_url
    from dockyard.packaging.plans import (
        DeploymentPlan,
        VersionPlan,
        check_image_repository,
        k8s_name,
    )

    if image is not None:
        check_image_repository(image)  # the user's input first, before any store
    s = _stack(stack)
    try:
        record = s.deployment_store.get_deployment(name)
    except RecordNotFoundError:
        known = [d.name for d in s.deployment_store.list_deployments()]
        raise PackagingError(
            f"No deployment named {name!r} on stack {s.name!r}"
            + (f" (deployments: {', '.join(known)})" if known else " (it has none)")
            + "; deploy one first: dockyard deploy NAME --model MODEL."
        ) from None
    state = RolloutState.from_dict(record.state)
    routes = state.routes()
    stable, candidate = state.stable, routes["candidate"]
    if stable is None:
        stable, candidate = state.candidate, None
    if stable is None:
        raise PackagingError(
            f"Deployment {name!r} has no model version yet (phase {state.phase}); deploy "
            "a version first."
        )
    weight = float(routes["weight"]) if candidate is not None else 0.0
    versions = [VersionPlan(stable, "stable", 100.0 - weight)]
    if candidate is not None:
        versions.append(VersionPlan(candidate, "candidate", weight))
    rollout = spec or state.rollout_spec
    metadata = s.component_config("metadata_store").get("url")
    plan = DeploymentPlan(
        name=name,
        model=state.model,
        versions=tuple(versions),
        image=image or k8s_name(name),
        rollout=rollout_plan(rollout),
        replicas=rollout.replicas or 1,
        needs_token=rollout.needs_token,
        metadata_url=mask_url(metadata) if isinstance(metadata, str) else None,
        namespace=namespace,
        divergence_url=divergence_url,
    )
    if prometheus_url:
        plan = dataclasses.replace(plan, prometheus_url=prometheus_url)
    return plan


def package_k8s(
    name: str,
    out_dir: str | Path,
    *,
    rollouts: str | None = None,
    **options: object,
) -> Bundle:
    """Write ``NAME.yaml`` (every object, ``kubectl apply -f`` order) under ``out_dir``.

    Args:
        rollouts: ``argo`` for an Argo Rollouts ``Rollout`` and ``AnalysisTemplate``
            instead of a Deployment per version.
        options: :func:`deployment_plan`'s.

    Raises:
        PackagingError: as :func:`deployment_plan`, an unknown ``rollouts``, or a deploy
            spec Argo cannot run (shadow, relative limits).
    """
    from dockyard.packaging.argo import render_argo
    from dockyard.packaging.kubernetes import render_manifests
    from dockyard.packaging.text import to_yaml

    if rollouts is not None and rollouts not in ROLLOUT_TOOLS:
        raise PackagingError(
            f"Unknown rollout tool {rollouts!r}; use one of {', '.join(ROLLOUT_TOOLS)} (or "
            "none for a Deployment per version)."
        )
    plan = deployment_plan(name, **options)  # type: ignore[arg-type]
    objects = render_argo(plan) if rollouts == "argo" else render_manifests(plan)
    header = f"Written by dockyard package k8s for deployment {name}."
    return write_files(out_dir, {f"{plan.name}.yaml": to_yaml(objects, header=header)})


def package_aws(name: str, out_dir: str | Path, **options: object) -> Bundle:
    """Write ``NAME.cfn.yaml``, the CloudFormation template, under ``out_dir``.

    Raises:
        PackagingError: as :func:`deployment_plan`.
    """
    from dockyard.packaging.aws import render_cloudformation
    from dockyard.packaging.text import to_yaml

    plan = deployment_plan(name, **options)  # type: ignore[arg-type]
    text = to_yaml(
        render_cloudformation(plan), header=f"Written by dockyard package aws for {name}."
    )
    return write_files(out_dir, {f"{plan.name}.cfn.yaml": text})
