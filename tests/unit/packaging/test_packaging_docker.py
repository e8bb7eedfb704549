"""The Dockerfile renderer: structure of what it writes, and hadolint finds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.errors import PackagingError
from dockyard.packaging import (
    ImagePlan,
    render_dockerfile,
    render_dockerignore,
    render_requirements,
)
from dockyard.packaging.docker import serve_command
from dockyard.packaging.plans import USER_ID
from packaging_checks import hadolint

PLAN = ImagePlan(
    python="3.11",
    requirements=(("numpy", "2.1.0"), ("scikit-learn", "1.5.2"), ("dockyard", "0.1.0")),
    model="churn:3",
)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word, rest))
            pending = ""
    return out


def test_serving_image_structure() -> None:
    steps = _instructions(render_dockerfile(PLAN))
    kinds = [k for k, _ in steps]
    args = dict(steps)
    assert args["FROM"] == "python:3.11-slim"
    assert "--no-cache-dir" in args["RUN"] and "-r requirements.txt" in args["RUN"]
    # non-root: USER is the fixed UID (and GID) the RUN created, the one the Kubernetes
    # securityContext names, set before the command runs
    assert args["USER"] == str(USER_ID) and kinds.index("USER") < kinds.index("CMD")
    assert f"--uid {USER_ID} --gid {USER_ID}" in args["RUN"]
    assert f"groupadd --gid {USER_ID}" in args["RUN"]
    assert args["EXPOSE"] == "8080"
    assert "/v2/health/ready" in args["HEALTHCHECK"]
    assert json.loads(args["CMD"]) == serve_command(PLAN)
    assert json.loads(args["CMD"])[:2] == ["dockyard", "serve"]
    assert "/app/model/serve.json" in json.loads(args["CMD"])


def test_requirements_are_pinned() -> None:
    lines = [line for line in render_requirements(PLAN).splitlines() if not line.startswith("#")]
    assert lines == ["numpy==2.1.0", "scikit-learn==1.5.2", "dockyard[serving]==0.1.0"]


def test_dockerignore_keeps_only_what_is_copied() -> None:
    lines = render_dockerignore(PLAN).splitlines()
    assert lines[0] == "*"
    assert {line[1:] for line in lines[1:]} == {"Dockerfile", "requirements.txt", "wheels", "model"}


def test_pipeline_image_runs_steps() -> None:
    plan = ImagePlan(
        python="3.12",
        requirements=(("dockyard", "0.1.0"),),
        pipeline="train.py:training",
        pipeline_files=("train.py",),
        dockyard_extras=(),
        health=False,
    )
    args = dict(_instructions(render_dockerfile(plan)))
    assert args["FROM"] == "python:3.12-slim"
    assert json.loads(args["ENTRYPOINT"]) == ["dockyard"]
    assert "HEALTHCHECK" not in args
    assert "train.py" in render_dockerignore(plan)
    assert render_requirements(plan).splitlines()[-1] == "dockyard==0.1.0"


@pytest.mark.parametrize(
    "plan", [PLAN, ImagePlan("3.13", (("dockyard", "0.1.0"),), model="m:1", baked=False)]
)
def test_hadolint_finds_nothing(plan: ImagePlan, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render_dockerfile(plan))
    assert hadolint(dockerfile) == ""


def test_python_version_must_be_major_minor() -> None:
    with pytest.raises(PackagingError, match=r"'3' is not MAJOR.MINOR like 3.11"):
        ImagePlan(python="3", requirements=())
