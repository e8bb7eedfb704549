"""Kubernetes manifests: structure, and kubernetes-validate (strict) accepts every object."""

from __future__ import annotations

import dataclasses

import pytest

from dockyard.errors import PackagingError
from dockyard.packaging import (
    DeploymentPlan,
    VersionPlan,
    check_image_repository,
    k8s_name,
    render_manifests,
)
from packaging_checks import kubernetes_errors

PLAN = DeploymentPlan(
    name="churn-api",
    model="churn",
    versions=(VersionPlan(3, "stable", 75.0), VersionPlan(4, "candidate", 25.0)),
    image="ghcr.io/acme/churn-api",
    replicas=2,
    needs_token=True,
    metadata_url="postgresql+psycopg://dockyard:***@db:5432/dockyard",
)


def _by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def test_a_deployment_per_version_with_probes_resources_and_non_root() -> None:
    objects = render_manifests(PLAN)
    deployments = _by_kind(objects, "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == ["churn-api-v3", "churn-api-v4"]
    for deployment, version in zip(deployments, (3, 4), strict=True):
        spec = deployment["spec"]
        assert spec["replicas"] == 2
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"ghcr.io/acme/churn-api:v{version}"
        assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
        assert set(container["resources"]) == {"requests", "limits"}
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (
            spec["selector"]["matchLabels"].items()
            <= spec["template"]["metadata"]["labels"].items()
        )
        env = {e["name"]: e for e in container["env"]}
        assert (
            env["DOCKYARD_SERVE_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "churn-api-secrets"
        )


def test_services_autoscalers_config_and_secret() -> None:
    objects = render_manifests(PLAN)
    services = {s["metadata"]["name"] for s in _by_kind(objects, "Service")}
    assert services == {"churn-api", "churn-api-v3", "churn-api-v4"}
    hpas = _by_kind(objects, "HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas} == {"churn-api-v3", "churn-api-v4"}
    (config,) = _by_kind(objects, "ConfigMap")
    assert config["data"]["DOCKYARD_MODEL"] == "churn"
    assert "***" in config["data"]["DOCKYARD_METADATA_URL_HINT"]  # never the password
    (secret,) = _by_kind(objects, "Secret")
    assert set(secret["stringData"]) == {"DOCKYARD_METADATA_URL", "DOCKYARD_SERVE_TOKEN"}
    assert not any(secret["stringData"].values())  # placeholders the operator fills


def test_kubernetes_validate_strict_accepts_every_object() -> None:
    objects = render_manifests(PLAN)
    assert kubernetes_errors(objects) == []


def test_kubernetes_validate_catches_a_broken_object() -> None:
    """The validator really runs: an unknown field fails in strict mode."""
    broken = render_manifests(PLAN)[-1] | {"spec": {"nonsense": 1}}
    assert kubernetes_errors([broken])


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("ghcr.io/acme/churn-api:v3", "has a tag"),
        ("Acme/Churn", "is not a valid image repository"),
        ("acme//churn", "is not a valid image repository"),
        ("acme/churn@sha256:abc", "has a digest"),
    ],
)
def test_invalid_image_names(image: str, message: str) -> None:
    with pytest.raises(PackagingError, match=message):
        check_image_repository(image)


def test_valid_image_names() -> None:
    for image in ("churn", "localhost:5000/churn", "ghcr.io/acme/churn-api", "a.b/c_d/e__f"):
        assert check_image_repository(image) == image


def test_k8s_names() -> None:
    assert k8s_name("Churn_API") == "churn-api"
    with pytest.raises(PackagingError, match="cannot be a Kubernetes name"):
        k8s_name("___")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"namespace": "ML_Serving"}, "is not a Kubernetes namespace"),
        (
            {"prometheus_url": "prometheus:9090"},
            "--prometheus-url 'prometheus:9090' is not an http",
        ),
        ({"divergence_url": "ftp://x/y"}, "--divergence-url 'ftp://x/y' is not an http"),
        ({"versions": ()}, "has no model version"),
    ],
)
def test_bad_plan_values(changes: dict, message: str) -> None:
    with pytest.raises(PackagingError, match=message):
        dataclasses.replace(PLAN, **changes)
