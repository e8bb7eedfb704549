"""A GitHub Actions CI/CD workflow: install, test, train, register, canary, promote.

Jobs, each needing the one before:

``test``
    check out, set up Python, install the project, run its tests;
``train``
    run the training pipeline (``dockyard run FILE:PIPELINE``), which registers the model
    (a ``register_model`` step or a ``Model`` output), and show the version it made;
``canary``
    ``dockyard deploy`` of the newest version with the canary deploy spec and ``--wait``
    (exit 0 only when every analysis passed; 3 rolled back, 4 aborted, 5 still running),
    moving the candidate alias (``staging``) when it completes;
``promote``
    in the ``production`` environment (add required reviewers there for a manual gate):
    point the production alias at the version the canary passed.

The stores must outlive a runner: the workflow reads the stack from repository settings
(``DOCKYARD_STACK``, and the secrets it names), never from the runner's disk. The canary
and promote jobs run on ``deploy_runner`` (a self-hosted runner on the serving machine by
default): a deployment started on a GitHub-hosted runner would end with the job.
"""

from __future__ import annotations

from typing import Any

from dockyard.packaging.plans import WorkflowPlan

__all__ = ["deploy_args", "render_workflow"]


def deploy_args(plan: WorkflowPlan) -> list[str]:
    """The ``dockyard deploy`` arguments of the canary, from its deploy spec."""
    spec = plan.rollout
    args = [
        "dockyard",
        "deploy",
        plan.deployment,
        "--model",
        plan.model,
        "--strategy",
        spec.strategy,
        "--interval",
        f"{spec.interval_s:g}s",
        "--alias",
        plan.candidate_alias,
    ]
    if spec.strategy == "canary":
        args += ["--steps", ",".join(f"{s:g}" for s in spec.steps)]
    if spec.strategy == "bluegreen" and spec.bake_s:
        args += ["--bake", f"{spec.bake_s:g}s"]
    a = spec.analysis
    for flag, value in (
        ("--max-error-rate", a.max_error_rate),
        ("--max-p99-ms", a.max_p99_ms),
        ("--max-divergence", a.max_divergence),
    ):
        if value is not None:
            args += [flag, f"{value:g}"]
    args += ["--min-requests", str(a.min_requests), "--failure-limit", str(a.failure_limit)]
    return [*args, "--wait"]


def _setup(plan: WorkflowPlan) -> list[dict[str, Any]]:
    return [
        {"uses": "actions/checkout@v4"},
        {
            "uses": "actions/setup-python@v5",
            "with": {"python-version": plan.python, "cache": "pip"},
        },
        {"name": "Install", "run": plan.install},
    ]


def render_workflow(plan: WorkflowPlan) -> dict[str, Any]:
    """The workflow as a mapping (dump it as YAML)."""
    version = (
        'python -c "from dockyard.registry import get_model_version; '
        f"print(get_model_version('{plan.model}@{plan.candidate_alias}').version)\""
    )
    return {
        "name": f"train and deploy {plan.model}",
        "on": {"push": {"branches": [plan.branch]}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": f"deploy-{plan.deployment}", "cancel-in-progress": False},
        "env": {
            "DOCKYARD_STACK": "${{ vars.DOCKYARD_STACK }}",
            "DOCKYARD_METADATA_URL": "${{ secrets.DOCKYARD_METADATA_URL }}",
        },
        "jobs": {
            "test": {
                "runs-on": "ubuntu-latest",
                "steps": [*_setup(plan), {"name": "Test", "run": plan.test}],
            },
            "train": {
                "needs": "test",
                "runs-on": "ubuntu-latest",
                "steps": [
                    *_setup(plan),
                    {"name": "Train and register", "run": f"dockyard run {plan.pipeline}"},
                    {
                        "name": "Show the registered model",
                        "run": f"dockyard models show {plan.model}",
                    },
                ],
            },
            "canary": {
                "needs": "train",
                "runs-on": plan.deploy_runner,
                "environment": "staging",
                "steps": [
                    *_setup(plan),
                    {"name": "Deploy as a canary", "run": " ".join(deploy_args(plan))},
                ],
            },
            "promote": {
                "needs": "canary",
                "if": "success()",
                "runs-on": plan.deploy_runner,
                "environment": "production",
                "steps": [
                    *_setup(plan),
                    {
                        "name": "Promote the version the canary passed",
                        "run": (
                            f"VERSION=$({version})\n"
                            f'dockyard models alias "{plan.model}:$VERSION" {plan.alias}'
                        ),
                    },
                ],
            },
        },
    }
