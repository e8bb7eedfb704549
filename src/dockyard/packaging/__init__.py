"""Packaging: pure renderers from plain data to Dockerfiles, Kubernetes manifests (with
Argo Rollouts), CloudFormation templates and GitHub Actions workflows.

Nothing here reads a store or a file: the plans (:mod:`dockyard.packaging.plans`) are
gathered by ``dockyard.rollout.images`` (model and pipeline images, workflows) and
``dockyard.rollout.packaging`` (deployments), which write the files.
"""

from dockyard.packaging.argo import render_argo
from dockyard.packaging.aws import render_cloudformation
from dockyard.packaging.docker import render_dockerfile, render_dockerignore, render_requirements
from dockyard.packaging.github import render_workflow
from dockyard.packaging.kubernetes import render_manifests
from dockyard.packaging.plans import (
    AnalysisPlan,
    DeploymentPlan,
    ImagePlan,
    Resources,
    RolloutPlan,
    VersionPlan,
    WorkflowPlan,
    check_image_repository,
    k8s_name,
)
from dockyard.packaging.text import to_yaml

__all__ = [
    "AnalysisPlan",
    "DeploymentPlan",
    "ImagePlan",
    "Resources",
    "RolloutPlan",
    "VersionPlan",
    "WorkflowPlan",
    "check_image_repository",
    "k8s_name",
    "render_argo",
    "render_cloudformation",
    "render_dockerfile",
    "render_dockerignore",
    "render_manifests",
    "render_requirements",
    "render_workflow",
    "to_yaml",
]
