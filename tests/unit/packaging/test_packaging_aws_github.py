"""CloudFormation (cfn-lint: no errors, no warnings) and the GitHub Actions workflow
(check-jsonschema's GitHub workflow schema)."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from dockyard.packaging import (
    DeploymentPlan,
    VersionPlan,
    WorkflowPlan,
    render_cloudformation,
    render_workflow,
    to_yaml,
)
from dockyard.packaging.github import deploy_args
from dockyard.rollout.packaging import rollout_plan
from dockyard.rollout.spec import RolloutSpec
from packaging_checks import cfn_lint, github_workflow_errors

PLAN = DeploymentPlan(
    name="churn-api",
    model="churn",
    versions=(VersionPlan(3, "stable", 90.0), VersionPlan(4, "candidate", 10.0)),
    image="ghcr.io/acme/churn-api",
)


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cloudformation_structure() -> None:
    t = render_cloudformation(PLAN)
    assert len(_of_type(t, "AWS::ECR::Repository")) == 1
    assert len(_of_type(t, "AWS::Logs::LogGroup")) == 1
    services = _of_type(t, "AWS::ECS::Service")
    assert len(services) == 2
    assert all(s["Properties"]["LaunchType"] == "FARGATE" for s in services.values())
    groups = _of_type(t, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {g["Properties"]["HealthCheckPath"] for g in groups.values()} == {"/v2/health/ready"}
    (listener,) = _of_type(t, "AWS::ElasticLoadBalancingV2::Listener").values()
    forward = listener["Properties"]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    weights = [t["Parameters"][f["Weight"]["Ref"]]["Default"] for f in forward]
    assert weights == [90, 10]  # blue/green by weights: the deployment's current split
    assert {"TaskCpu", "TaskMemory", "DesiredCount", "ImageTagV3", "ImageTagV4"} <= set(
        t["Parameters"]
    )


@pytest.mark.parametrize("needs_token", [False, True])
def test_cfn_lint_finds_nothing(tmp_path: Path, needs_token: bool) -> None:
    template = tmp_path / "churn-api.cfn.yaml"
    plan = dataclasses.replace(PLAN, needs_token=needs_token)
    template.write_text(to_yaml(render_cloudformation(plan)))
    assert cfn_lint(template) == []


def test_a_required_token_comes_from_secrets_manager() -> None:
    t = render_cloudformation(dataclasses.replace(PLAN, needs_token=True))
    assert "ServeTokenSecretArn" in t["Parameters"]
    for task in _of_type(t, "AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert container["Secrets"] == [
            {"Name": "DOCKYARD_SERVE_TOKEN", "ValueFrom": {"Ref": "ServeTokenSecretArn"}}
        ]
    assert "Secrets" not in str(render_cloudformation(PLAN))


def test_cfn_lint_really_runs(tmp_path: Path) -> None:
    t = render_cloudformation(PLAN)
    t["Resources"]["Cluster"]["Properties"]["NoSuchProperty"] = 1
    template = tmp_path / "broken.yaml"
    template.write_text(to_yaml(t))
    assert any("NoSuchProperty" in line for line in cfn_lint(template))


WORKFLOW = WorkflowPlan(
    pipeline="train.py:training",
    model="churn",
    deployment="churn-api",
    rollout=rollout_plan(
        RolloutSpec.from_cli(steps="10,50,100", interval="1m", max_error_rate=0.01)
    ),
)


def test_workflow_jobs_in_order() -> None:
    jobs = render_workflow(WORKFLOW)["jobs"]
    assert list(jobs) == ["test", "train", "canary", "promote"]
    assert [jobs[j].get("needs") for j in jobs] == [None, "test", "train", "canary"]
    runs = {j: [s.get("run", "") for s in jobs[j]["steps"]] for j in jobs}
    assert "pytest -q" in runs["test"]
    assert "dockyard run train.py:training" in runs["train"]
    assert jobs["promote"]["environment"] == "production"
    assert jobs["canary"]["runs-on"] == jobs["promote"]["runs-on"] == "self-hosted"


def test_workflow_canary_is_the_deploy_spec() -> None:
    args = deploy_args(WORKFLOW)
    options = dict(zip(args[3::2], args[4::2], strict=False))
    assert options["--strategy"] == "canary"
    assert options["--steps"] == "10,50,100"
    assert options["--interval"] == "60s"
    assert options["--max-error-rate"] == "0.01"
    assert args[-1] == "--wait"
    run = render_workflow(WORKFLOW)["jobs"]["canary"]["steps"][-1]["run"]
    assert shlex.split(run) == args


def test_workflow_fits_the_github_schema(tmp_path: Path) -> None:
    workflow = tmp_path / "dockyard.yml"
    workflow.write_text(to_yaml(render_workflow(WORKFLOW)))
    assert github_workflow_errors(workflow) == ""


def test_workflow_schema_check_really_runs(tmp_path: Path) -> None:
    data = render_workflow(WORKFLOW)
    data["jobs"]["test"]["timeout-minutes"] = "soon"
    data["jobs"]["test"]["no-such-key"] = 1
    workflow = tmp_path / "broken.yml"
    workflow.write_text(to_yaml(data))
    assert github_workflow_errors(workflow) != ""
