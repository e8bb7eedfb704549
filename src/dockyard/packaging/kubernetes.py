"""Kubernetes manifests for a deployment, from a :class:`DeploymentPlan`.

Per model version: a ``Deployment`` (its pods run the version's image; readiness on
``/v2/health/ready``, liveness on ``/v2/health/live``; requests and limits; non-root,
read-only root filesystem, no privilege escalation, every capability dropped), a
``Service`` and a ``HorizontalPodAutoscaler`` (``autoscaling/v2``, CPU). One ``Service``
named after the deployment selects every version's pods, so without a service mesh the
traffic splits by pod count, the way plain Kubernetes does it; Argo Rollouts
(:mod:`dockyard.packaging.argo`) gives the deploy spec's weights exactly. A ``ConfigMap``
holds the non-secret settings and a ``Secret`` the metadata store URL and serve token,
left for the operator to fill (dockyard never writes a credential to a file). The serve
pods read only the token (``DOCKYARD_SERVE_TOKEN``, when the deployment requires one):
their image carries the resolved version (``dockyard serve --spec``) and needs no store.
The metadata store URL is kept there for the jobs that do (pipeline steps, batch); dockyard
itself does not read it from the environment yet (see ``docs/run-anywhere.md``).
"""

from __future__ import annotations

from typing import Any

from dockyard.packaging.plans import (
    LIVE_PATH,
    READY_PATH,
    SERVE_PORT,
    USER_ID,
    DeploymentPlan,
    VersionPlan,
    k8s_name,
)

__all__ = ["render_manifests"]

PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"
VERSION_LABEL = "dockyard.dev/model-version"
#: Secret keys the serve containers read; the operator fills them (kubectl create secret).
SECRET_KEYS = ("DOCKYARD_METADATA_URL", "DOCKYARD_SERVE_TOKEN")


def _meta(plan: DeploymentPlan, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {PART_OF: "dockyard", NAME: k8s_name(plan.name), **(labels or {})},
    }
    if plan.namespace:
        meta["namespace"] = plan.namespace
    return meta


def config_name(plan: DeploymentPlan) -> str:
    return k8s_name(f"{plan.name}-config")


def secret_name(plan: DeploymentPlan) -> str:
    return k8s_name(f"{plan.name}-secrets")


def version_name(plan: DeploymentPlan, version: VersionPlan) -> str:
    return k8s_name(f"{plan.name}-{version.tag}")


def selector(plan: DeploymentPlan, version: VersionPlan | None = None) -> dict[str, str]:
    labels = {NAME: k8s_name(plan.name)}
    if version is not None:
        labels[VERSION_LABEL] = str(version.version)
    return labels


def container(plan: DeploymentPlan, version: VersionPlan) -> dict[str, Any]:
    """The serve container of ``version``: the same in a Deployment and a Rollout."""
    # The image serves the version in its own serve spec (dockyard serve --spec): it
    # needs no store, so only the serve token comes from the Secret.
    env: list[dict[str, Any]] = []
    if plan.needs_token:
        env.append(
            {
                "name": "DOCKYARD_SERVE_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": secret_name(plan), "key": "DOCKYARD_SERVE_TOKEN"}
                },
            }
        )
    r = plan.resources

    def probe(path: str, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 3,
            "failureThreshold": failures,
        }

    return {
        "name": "serve",
        "image": plan.image_of(version),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": SERVE_PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": config_name(plan)}}],
        **({"env": env} if env else {}),
        "readinessProbe": probe(READY_PATH, 5, 3),
        "livenessProbe": {**probe(LIVE_PATH, 10, 3), "initialDelaySeconds": 10},
        "startupProbe": probe(LIVE_PATH, 2, 60),
        "resources": {
            "requests": {"cpu": r.cpu_request, "memory": r.memory_request},
            "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # the serve process writes its spec hand-over file to a temporary folder
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def pod_template(plan: DeploymentPlan, version: VersionPlan) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {PART_OF: "dockyard", **selector(plan, version)},
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(SERVE_PORT),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": USER_ID,
                "fsGroup": USER_ID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            # SIGTERM: the app reports not ready, drains, then stops (serving/server.py)
            "terminationGracePeriodSeconds": 30,
            "containers": [container(plan, version)],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def service(plan: DeploymentPlan, name: str, version: VersionPlan | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(plan, name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(plan, version),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def config_objects(plan: DeploymentPlan) -> list[dict[str, Any]]:
    """The ConfigMap (non-secret settings) and the Secret (placeholders to fill)."""
    config = {
        "DOCKYARD_DEPLOYMENT": plan.name,
        "DOCKYARD_MODEL": plan.model,
        "DOCKYARD_LOG_LEVEL": "info",
    }
    if plan.metadata_url:
        config["DOCKYARD_METADATA_URL_HINT"] = plan.metadata_url  # credentials masked
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(plan, config_name(plan)),
            "data": config,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(plan, secret_name(plan)),
            "type": "Opaque",
            # Filled by the operator: kubectl create secret generic NAME
            # --from-literal=DOCKYARD_METADATA_URL=... --dry-run=client -o yaml | kubectl apply -f -
            "stringData": dict.fromkeys(SECRET_KEYS, ""),
        },
    ]


def hpa(plan: DeploymentPlan, kind: str, api_version: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(plan, target),
        "spec": {
            "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": target},
            "minReplicas": plan.replicas,
            "maxReplicas": max(plan.replicas, plan.max_replicas),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def render_manifests(plan: DeploymentPlan) -> list[dict[str, Any]]:
    """Every object of the plain Kubernetes packaging, in ``kubectl apply`` order."""
    objects = config_objects(plan)
    objects.append(service(plan, k8s_name(plan.name)))
    for version in plan.versions:
        name = version_name(plan, version)
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": _meta(plan, name, {VERSION_LABEL: str(version.version)}),
                "spec": {
                    "replicas": plan.replicas,
                    "selector": {"matchLabels": selector(plan, version)},
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                    },
                    "template": pod_template(plan, version),
                },
            }
        )
        objects.append(service(plan, name, version))
        objects.append(hpa(plan, "Deployment", "apps/v1", name))
    return objects
