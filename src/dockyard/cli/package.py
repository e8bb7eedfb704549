"""``dockyard containerize`` and ``dockyard package k8s|aws|github-actions``: printing
over ``dockyard.rollout.images`` and ``dockyard.rollout.packaging``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dockyard.cli._common import console, esc

if TYPE_CHECKING:
    from dockyard.rollout.images import Bundle

app = typer.Typer(
    help="Package a deployment for Kubernetes (optionally Argo Rollouts) or AWS, or write "
    "a CI/CD workflow.",
    no_args_is_help=True,
)

_OUT = typer.Option(..., "--out", "-o", help="Folder to write to (created if missing).")
_STACK = typer.Option(None, "--stack", "-s", help="Stack whose stores to use.")
_IMAGE = typer.Option(
    None,
    "--image",
    help="Image repository without a tag, e.g. ghcr.io/acme/churn-api; version N runs "
    "IMAGE:vN (default: the deployment's name).",
)


def _written(bundle: Bundle, what: str) -> None:
    console.print(f"Wrote {what} to [bold]{esc(bundle.out_dir)}[/]:")
    for name in bundle.files:
        console.print(f"  {esc(name)}")
    for note in bundle.notes:
        console.print(f"[yellow]Note:[/] {esc(note)}")


def containerize(
    ref: str | None = typer.Argument(
        None, help="Model version to serve: NAME, NAME:VERSION or NAME@ALIAS.", show_default=False
    ),
    out: Path = _OUT,
    pipeline: str | None = typer.Option(
        None, "--pipeline", help="FILE:PIPELINE: an image for its steps instead of a model."
    ),
    pull: bool = typer.Option(
        False,
        "--pull",
        help="Read the model from the artifact store at start instead of baking it in.",
    ),
    wheel: Path | None = typer.Option(
        None, "--wheel", help="A dockyard wheel to install in the image (copied to wheels/)."
    ),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="Allow a pickled model (recorded in the serve spec)."
    ),
    stack_name: str | None = _STACK,
) -> None:
    """Write a Docker build context: Dockerfile, .dockerignore, requirements.txt and the
    model's serve spec (or a pipeline's file)."""
    from dockyard.rollout.images import containerize as containerize_model
    from dockyard.rollout.images import containerize_pipeline

    if pipeline is not None and ref is None:
        bundle = containerize_pipeline(pipeline, out, wheel=wheel)
        _written(bundle, f"an image for the steps of {pipeline}")
    elif ref is not None and pipeline is None:
        bundle = containerize_model(
            ref, out, stack=stack_name, bake=not pull, wheel=wheel, trust_pickle=trust_pickle
        )
        _written(bundle, f"an image serving {ref}")
    else:
        raise typer.BadParameter("give a model REF or --pipeline FILE:PIPELINE (one of them).")
    console.print(f"Build it with: docker build -t IMAGE:TAG {esc(bundle.out_dir)}")


@app.command("k8s")
def k8s(
    deployment: str = typer.Argument(..., help="Deployment name, e.g. churn-api."),
    out: Path = _OUT,
    rollouts: str | None = typer.Option(
        None, "--rollouts", help="argo: an Argo Rollouts Rollout and AnalysisTemplate."
    ),
    image: str | None = _IMAGE,
    namespace: str | None = typer.Option(None, "--namespace", "-n"),
    prometheus_url: str | None = typer.Option(
        None, "--prometheus-url", help="Prometheus the Argo analysis queries."
    ),
    divergence_url: str | None = typer.Option(
        None,
        "--divergence-url",
        help="Endpoint answering the prediction divergence (see docs/run-anywhere.md).",
    ),
    stack_name: str | None = _STACK,
) -> None:
    """Kubernetes manifests for a deployment: Deployments (or an Argo Rollout), Services,
    autoscaler, ConfigMap and Secret."""
    from dockyard.rollout.packaging import package_k8s

    bundle = package_k8s(
        deployment,
        out,
        rollouts=rollouts,
        image=image,
        stack=stack_name,
        namespace=namespace,
        prometheus_url=prometheus_url,
        divergence_url=divergence_url,
    )
    _written(bundle, "Kubernetes manifests")


@app.command("aws")
def aws(
    deployment: str = typer.Argument(..., help="Deployment name, e.g. churn-api."),
    out: Path = _OUT,
    image: str | None = _IMAGE,
    stack_name: str | None = _STACK,
) -> None:
    """A CloudFormation template: ECR, ECS Fargate per version behind a weighted ALB."""
    from dockyard.rollout.packaging import package_aws

    bundle = package_aws(deployment, out, image=image, stack=stack_name)
    _written(bundle, "a CloudFormation template")


@app.command("github-actions")
def github_actions(
    out: Path = _OUT,
    pipeline: str = typer.Option(
        ..., "--pipeline", help="FILE:PIPELINE that trains and registers the model."
    ),
    model: str = typer.Option(..., "--model", "-m", help="The model the pipeline registers."),
    deployment: str = typer.Option(..., "--deployment", "-d", help="Where the canary goes."),
    deploy_file: Path | None = typer.Option(
        None, "--file", "-f", help="Deploy file (YAML) with the canary's rollout spec."
    ),
    python: str | None = typer.Option(None, "--python", help="e.g. 3.12 (default: this one)."),
) -> None:
    """A GitHub Actions workflow: install, test, train, register, canary, promote."""
    from dockyard.rollout.images import github_workflow
    from dockyard.rollout.packaging import rollout_plan
    from dockyard.rollout.spec import RolloutSpec, load_deploy_file

    spec = load_deploy_file(deploy_file).spec if deploy_file else RolloutSpec()
    bundle = github_workflow(
        out,
        pipeline=pipeline,
        model=model,
        deployment=deployment,
        rollout=rollout_plan(spec),
        python=python,
    )
    _written(bundle, "a GitHub Actions workflow")
