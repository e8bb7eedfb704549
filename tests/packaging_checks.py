"""The real validators the packaging tests run (importable as ``packaging_checks``).

Each one answers with the validator's own findings, so a test asserts they are empty.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from support import REQUIRE_SERVICES

#: The newest Kubernetes version whose schemas kubernetes-validate ships (1.37 with
#: kubernetes-validate 1.37), never below 1.31.
KUBERNETES_VERSION = kubernetes_validate.latest_version()
#: The Argo Rollouts CRDs, shared by the projects on this machine (not in the repository).
ARGO_SCHEMAS = Path(__file__).resolve().parents[1] / ".." / "shared" / "schemas" / "argo-rollouts"


def _tool(name: str) -> str:
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert exe, f"{name} is part of the test extra (pip install -e '.[test]')"
    return exe


def hadolint(dockerfile: Path) -> str:
    """hadolint's findings at its default level (empty when clean)."""
    proc = subprocess.run(
        [_tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True
    )
    return (proc.stdout + proc.stderr).strip()


def kubernetes_errors(objects: list[dict[str, Any]]) -> list[str]:
    """kubernetes-validate in strict mode (unknown fields are errors) for each object."""
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
    return errors


@cache
def _crd_schema(file: str) -> dict[str, Any]:
    import yaml

    crd = yaml.safe_load((ARGO_SCHEMAS / file).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served", True)]
    return dict(version["schema"]["openAPIV3Schema"])


def argo_schema(kind: str) -> dict[str, Any]:
    """The CRD's ``openAPIV3Schema`` of ``Rollout`` or ``AnalysisTemplate``; skips (fails
    under DOCKYARD_REQUIRE_SERVICES=1) when the shared schemas are absent."""
    file = {"Rollout": "rollout-crd.yaml", "AnalysisTemplate": "analysis-template-crd.yaml"}[kind]
    if not (ARGO_SCHEMAS / file).is_file():
        message = f"the Argo Rollouts CRD {ARGO_SCHEMAS / file} is absent"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and DOCKYARD_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    return _crd_schema(file)


def _unknown_fields(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Fields the structural schema does not declare: the API server prunes them
    silently, and ``kubectl apply --validate=strict`` refuses them."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                out += _unknown_fields(item, properties[key], f"{path}/{key}")
            elif isinstance(extra, dict):
                out += _unknown_fields(item, extra, f"{path}/{key}")
            elif properties is not None and path and key not in ("apiVersion", "kind"):
                out.append(f"{path}/{key}: unknown field")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += _unknown_fields(item, schema["items"], f"{path}/{i}")
    return out


def argo_errors(obj: dict[str, Any]) -> list[str]:
    """Every violation of the CRD schema by ``obj`` (jsonschema, Draft 7 as OpenAPI v3),
    and every field the schema does not declare."""
    import jsonschema

    schema = argo_schema(obj["kind"])
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]
    return errors + _unknown_fields(obj, schema, "")


def cfn_lint(template: Path) -> list[str]:
    """cfn-lint's errors and warnings (every level it reports by default)."""
    proc = subprocess.run(
        [_tool("cfn-lint"), "--format", "parseable", "--", str(template)],
        capture_output=True,
        text=True,
    )
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]


def github_workflow_errors(workflow: Path) -> str:
    """check-jsonschema against its vendored GitHub workflow schema ('' when valid)."""
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
    )
    return "" if proc.returncode == 0 else proc.stdout + proc.stderr
