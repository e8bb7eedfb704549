"""The plain data every renderer takes: frozen dataclasses, no stores, no I/O.

The assembly layers (``dockyard.rollout.images`` for images and workflows,
``dockyard.rollout.packaging`` for deployments) gather these from the registry and the
deployment store; the renderers in this package turn them into text or dictionaries. So
a renderer can be tested with values typed in a test, and a second front end (an API, a
dashboard) builds the same plan instead of copying the renderers' logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockyard.errors import PackagingError

__all__ = [
    "SERVE_PORT",
    "AnalysisPlan",
    "DeploymentPlan",
    "ImagePlan",
    "Resources",
    "RolloutPlan",
    "VersionPlan",
    "WorkflowPlan",
    "check_image_repository",
    "k8s_name",
]

#: The port ``dockyard serve`` listens on inside a container.
SERVE_PORT = 8080
#: The V2 health routes every probe and health check uses.
READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"
#: The non-root user the images run as (a fixed UID, so Kubernetes can check it).
USER_ID = 10001

# Docker's reference grammar (distribution/reference): an optional registry host[:port],
# then lowercase path components separated by '/', each of [a-z0-9] runs joined by '.',
# '_', '__' or '-'s; a tag is up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'.
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_image_repository(image: str) -> str:
    """``image`` if it is a valid image repository (``ghcr.io/acme/churn-api``), without
    a tag: dockyard tags one image per model version (``v3``).

    Raises:
        PackagingError: not a valid repository name, or it carries a tag or digest.
    """
    if "@" in image:
        raise PackagingError(
            f"Image {image!r} has a digest; give the repository only (e.g. "
            "ghcr.io/acme/churn-api): dockyard tags one image per model version (v3)."
        )
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        raise PackagingError(
            f"Image {image!r} has a tag; give the repository only (e.g. "
            "ghcr.io/acme/churn-api): dockyard tags one image per model version (v3)."
        )
    if len(image) > 255 or not _REPOSITORY.match(image):
        raise PackagingError(
            f"{image!r} is not a valid image repository: use lowercase letters, digits and "
            "'.', '_', '-' in '/'-separated parts, optionally after a registry host, e.g. "
            "ghcr.io/acme/churn-api."
        )
    return image


def check_image_tag(tag: str) -> str:
    """``tag`` if Docker accepts it as a tag.

    Raises:
        PackagingError: not a valid tag.
    """
    if not _TAG.match(tag):
        raise PackagingError(
            f"{tag!r} is not a valid image tag: up to 128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'."
        )
    return tag


def check_http_url(url: str, what: str) -> str:
    """``url`` if it is an absolute http(s) URL.

    Raises:
        PackagingError: it is not, naming ``what`` (the option) and the value.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise PackagingError(
            f"{what} {url!r} is not an http(s) URL; give one like "
            "http://prometheus.monitoring.svc:9090."
        )
    return url


def k8s_name(name: str) -> str:
    """``name`` as a Kubernetes object name (an RFC 1123 label, at most 63 characters).

    Raises:
        PackagingError: nothing usable is left once lowercased and cleaned.
    """
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].rstrip("-")
    if not cleaned or not _DNS_LABEL.match(cleaned):
        raise PackagingError(
            f"{name!r} cannot be a Kubernetes name; use letters, digits and '-' (e.g. churn-api)."
        )
    return cleaned


@dataclass(frozen=True)
class ImagePlan:
    """A container image that runs ``dockyard serve`` for one model version, or the
    steps of a pipeline.

    Attributes:
        python: ``major.minor`` of the base image (``python:3.11-slim``).
        requirements: ``(distribution, version)`` pins, the model version's recorded
            libraries first; ``dockyard`` itself is one of them.
        dockyard_extras: extras installed with dockyard (``serving`` for a model).
        model: ``name:version`` served (None for a pipeline image).
        baked: the model's artifact is copied into the image (``model/``); otherwise the
            serve spec names the artifact store and the container pulls it at start.
        pipeline_files: files copied to ``/app`` for a pipeline image.
        entrypoint: the command the image runs.
        health: add a ``HEALTHCHECK`` on the V2 ready route (serving images).
    """

    python: str
    requirements: tuple[tuple[str, str], ...]
    model: str | None = None
    baked: bool = True
    pipeline_files: tuple[str, ...] = ()
    pipeline: str | None = None
    dockyard_extras: tuple[str, ...] = ("serving",)
    port: int = SERVE_PORT
    health: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d{1,2}", self.python):
            raise PackagingError(
                f"Python version {self.python!r} is not MAJOR.MINOR like 3.11; the base "
                "image is python:MAJOR.MINOR-slim."
            )


@dataclass(frozen=True)
class Resources:
    """CPU and memory a serve process asks for (requests) and may use (limits)."""

    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"


@dataclass(frozen=True)
class AnalysisPlan:
    """The thresholds of one analysis, exactly as the deploy spec has them."""

    max_error_rate: float | None = None
    max_p99_ms: float | None = None
    max_divergence: float | None = None
    min_requests: int = 100
    failure_limit: int = 1
    #: checks whose limit is a factor of the stable version's figure (``error_rate``, ``p99``)
    relative: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RolloutPlan:
    """A deploy spec's strategy, in plain numbers (see ``dockyard.rollout.spec``)."""

    strategy: str = "canary"
    steps: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0)
    interval_s: float = 30.0
    bake_s: float = 0.0
    mirror: float = 100.0
    analysis: AnalysisPlan = field(default_factory=AnalysisPlan)
    #: Blue/green after the switch: only the absolute limits (no stable to compare with).
    post_switch: AnalysisPlan = field(default_factory=AnalysisPlan)


@dataclass(frozen=True)
class VersionPlan:
    """One model version of a deployment and the share of traffic it has now."""

    version: int
    role: str  # "stable" or "candidate"
    weight: float

    @property
    def tag(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class DeploymentPlan:
    """A deployment as the Kubernetes and AWS renderers need it.

    Attributes:
        name: the deployment's name (``churn-api``).
        model: the model's name (``churn``).
        versions: stable first, then the candidate if a rollout is under way.
        image: the image repository; version ``N`` runs ``image:vN``.
        replicas: pods (tasks) per version.
        rollout: the deploy spec that drives the local gateway.
        needs_token: the serve processes require a bearer token (from the Secret).
        metadata_url: the metadata store URL, credentials masked (the real one goes in
            the Secret by the operator).
        namespace: Kubernetes namespace (None: the current one).
        prometheus_url: where the Argo analysis reads the serve processes' metrics.
        divergence_url: the dockyard endpoint Argo's ``web`` metric asks for the
            prediction divergence (None: no divergence metric).
    """

    name: str
    model: str
    versions: tuple[VersionPlan, ...]
    image: str
    rollout: RolloutPlan = field(default_factory=RolloutPlan)
    replicas: int = 1
    resources: Resources = field(default_factory=Resources)
    needs_token: bool = False
    metadata_url: str | None = None
    namespace: str | None = None
    prometheus_url: str = "http://prometheus.monitoring.svc:9090"
    divergence_url: str | None = None
    max_replicas: int = 5

    def __post_init__(self) -> None:
        check_image_repository(self.image)
        if not self.versions:
            raise PackagingError(f"Deployment {self.name!r} has no model version to package.")
        if self.namespace is not None and not _DNS_LABEL.match(self.namespace):
            raise PackagingError(
                f"{self.namespace!r} is not a Kubernetes namespace: lowercase letters, digits "
                "and '-', starting and ending with a letter or digit (e.g. ml-serving)."
            )
        for what, url in (
            ("--prometheus-url", self.prometheus_url),
            ("--divergence-url", self.divergence_url),
        ):
            if url is not None:
                check_http_url(url, what)

    @property
    def stable(self) -> VersionPlan:
        return self.versions[0]

    @property
    def candidate(self) -> VersionPlan | None:
        return self.versions[1] if len(self.versions) > 1 else None

    def image_of(self, version: VersionPlan) -> str:
        return f"{self.image}:{version.tag}"


@dataclass(frozen=True)
class WorkflowPlan:
    """A GitHub Actions CI/CD workflow: test, train, register, canary, promote.

    Attributes:
        pipeline: ``FILE:PIPELINE`` that trains and registers the model.
        model: the model the pipeline registers; the canary deploys ``model@candidate_alias``.
        deployment: the deployment the canary goes to.
        rollout: the canary's deploy spec.
    """

    pipeline: str
    model: str
    deployment: str
    rollout: RolloutPlan = field(default_factory=RolloutPlan)
    python: str = "3.11"
    candidate_alias: str = "staging"
    alias: str = "production"
    branch: str = "main"
    install: str = "pip install -e '.[all,test]'"
    test: str = "pytest -q"
    #: Where the canary and promote jobs run: the machine the deployment lives on (a
    #: deployment started on a GitHub-hosted runner would end with the job).
    deploy_runner: str = "self-hosted"
