"""Build contexts for container images, and the CI/CD workflow: the assembly of
:mod:`dockyard.packaging`'s pure renderers with the stores and the file system.

``containerize(ref, out)`` resolves a model version (the registry, the metadata store's
artifact record, the artifact store's bytes), turns it into an
:class:`~dockyard.packaging.plans.ImagePlan` and writes ``Dockerfile``,
``.dockerignore``, ``requirements.txt``, ``wheels/`` and ``model/serve.json`` (the
:class:`~dockyard.runtime.spec.RuntimeSpec` that ``dockyard serve --spec`` loads) with,
when baked, the artifact under ``model/artifacts``. ``containerize_pipeline`` does the
same for the steps of a pipeline, ``github_workflow`` writes the workflow.

Why here, in ``rollout``: this is the lowest layer that sees everything an image needs
(the registry, the runtime spec, the pipelines' loader) and the deploy targets an image
is for; ``packaging`` itself stays at the bottom, free of stores and I/O, and the CLI
only parses options and prints what these functions return.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import PackagingError

if TYPE_CHECKING:
    from dockyard.packaging.plans import RolloutPlan
    from dockyard.stacks.stack import Stack

__all__ = ["Bundle", "containerize", "containerize_pipeline", "github_workflow", "write_files"]

#: dockyard[serving]'s libraries, pinned to this environment's versions in a serving image
#: (the model's own libraries are pinned to the versions it was saved with).
SERVING_LIBRARIES = (
    "fastapi",
    "uvicorn",
    "aiohttp",
    "httpx",
    "prometheus-client",
    "orjson",
    "fastapi-offline",
)
_WHEEL = re.compile(r"^dockyard-(?P<version>[^-]+)-.+\.whl$")
WHEELS_NOTE = (
    "Put a dockyard wheel here when your package index does not have dockyard:\n"
    "  pip wheel --no-deps -w wheels/ /path/to/dockyard\n"
    "The Dockerfile installs requirements.txt with --find-links=wheels/.\n"
)


@dataclass(frozen=True)
class Bundle:
    """What a packaging command wrote: the folder and its files (relative paths)."""

    out_dir: Path
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()


def write_files(out_dir: str | Path, files: Mapping[str, str | bytes]) -> Bundle:
    """Write ``files`` (relative path -> text or bytes) under ``out_dir``, creating it.

    Raises:
        PackagingError: ``out_dir`` (or a folder on the way) is a file, or cannot be
            written.
    """
    root = Path(out_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise PackagingError(
            f"The output folder {root} is a file; give a folder (it is created if missing)."
        )
    written = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
            written.append(rel)
    except (FileExistsError, NotADirectoryError) as exc:
        blocking = _file_on_the_way(Path(exc.filename or root))
        raise PackagingError(
            f"Cannot write under {root}: {blocking} is a file where a folder is needed. "
            "Give another output folder."
        ) from exc
    except OSError as exc:
        raise PackagingError(
            f"Cannot write under {root}: {exc.strerror or exc} ({exc.filename})."
        ) from exc
    return Bundle(root, tuple(written))


def _file_on_the_way(path: Path) -> Path:
    """The first existing path on the way to ``path`` that is not a folder."""
    for parent in (*reversed(path.parents), path):
        if parent.exists() and not parent.is_dir():
            return parent
    return path


def _stack(stack: Stack | str | None) -> Stack:
    from dockyard.stacks.stack import Stack, load_stack

    return stack if isinstance(stack, Stack) else load_stack(stack)


def _minor(version: str | None) -> str:
    parts = (version or platform.python_version()).split(".")
    return ".".join(parts[:2])


def _installed(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


def _dockyard_version(wheel: Path | None) -> str:
    if wheel is None:
        from dockyard import __version__

        return __version__
    match = _WHEEL.match(wheel.name)
    if match is None or not wheel.is_file():
        raise PackagingError(
            f"{wheel} is not a dockyard wheel (dockyard-VERSION-...whl); build one with: "
            "pip wheel --no-deps -w wheels/ /path/to/dockyard"
        )
    return match.group("version")


def _wheel_files(wheel: Path | None) -> dict[str, str | bytes]:
    if wheel is None:
        return {"wheels/README.txt": WHEELS_NOTE}
    return {f"wheels/{wheel.name}": wheel.read_bytes()}


def _render_image(plan: Any) -> dict[str, str | bytes]:
    from dockyard.packaging.docker import (
        render_dockerfile,
        render_dockerignore,
        render_requirements,
    )

    return {
        "Dockerfile": render_dockerfile(plan),
        ".dockerignore": render_dockerignore(plan),
        "requirements.txt": render_requirements(plan),
    }


def containerize(
    ref: str,
    out_dir: str | Path,
    *,
    stack: Stack | str | None = None,
    bake: bool = True,
    wheel: str | Path | None = None,
    trust_pickle: bool = False,
) -> Bundle:
    """Write the build context of an image serving the model version ``ref``.

    Args:
        ref: ``churn``, ``churn:3`` or ``churn@production``.
        out_dir: the build context folder (created if missing).
        bake: copy the model's artifact into the image; otherwise the container reads
            it from the project's artifact store (its config is in ``model/serve.json``).
        wheel: a dockyard wheel to copy into ``wheels/`` (dockyard is not on PyPI).
        trust_pickle: allow a pickled model (recorded in the serve spec).

    Raises:
        ModelNotFoundError: no such model, version or alias.
        UnsafeArtifactError: a pickled model without ``trust_pickle``.
        PackagingError: the output folder is a file, the wheel is not dockyard's.
    """
    from dockyard.packaging.plans import ImagePlan
    from dockyard.registry.model import get_model_version
    from dockyard.runtime.spec import RuntimeSpec
    from dockyard.stacks.kinds import CORE_KINDS
    from dockyard.stacks.stack import build_component

    wheel_path = Path(wheel).expanduser() if wheel is not None else None
    dockyard_version = _dockyard_version(wheel_path)
    s = _stack(stack)
    record = get_model_version(ref, s)
    spec = RuntimeSpec.resolve(record.ref, s, trust_pickle=trust_pickle)
    pins: dict[str, str] = {}
    for dist, version in record.requirements.items():
        if dist not in ("python", "dockyard") and isinstance(version, str) and version:
            pins[dist] = version
    for dist in SERVING_LIBRARIES:
        installed = _installed(dist)
        if installed and dist not in pins:
            pins[dist] = installed
    requirements = (*sorted(pins.items()), ("dockyard", dockyard_version))
    plan = ImagePlan(
        python=_minor(record.requirements.get("python")),
        requirements=requirements,
        model=record.ref,
        baked=bake,
    )
    files = _render_image(plan)
    files.update(_wheel_files(wheel_path))
    data = spec.to_dict()
    notes = []
    if bake:
        data["artifact_store"] = {"flavor": "local", "path": "artifacts"}
    else:
        notes.append(
            "The image reads the model from the artifact store named in model/serve.json "
            f"({data['artifact_store'].get('path')}); the container needs access and "
            "credentials to it."
        )
    files["model/serve.json"] = json.dumps(data, indent=2) + "\n"
    # read (and verify) the model's bytes before anything is written
    blob = s.artifact_store.get(spec.artifact.uri) if bake else b""
    bundle = write_files(out_dir, files)
    if bake:
        baked = build_component(
            CORE_KINDS["artifact_store"],
            {"flavor": "local", "path": str(bundle.out_dir / "model" / "artifacts")},
        )
        baked.put(blob)
        bundle = Bundle(bundle.out_dir, (*bundle.files, "model/artifacts/"))
    return Bundle(bundle.out_dir, bundle.files, tuple(notes))


def _imported_distributions(before: set[str]) -> dict[str, str]:
    """Installed distributions of the top-level modules imported since ``before``."""
    packages = importlib_metadata.packages_distributions()
    stdlib: frozenset[str] = sys.stdlib_module_names
    found: dict[str, str] = {}
    for name in set(sys.modules) - before:
        top = name.split(".")[0]
        if top in stdlib or top.startswith("_"):
            continue
        for dist in packages.get(top, []):
            version = _installed(dist)
            if version and dist.lower() != "dockyard":
                found[dist] = version
    return found


def containerize_pipeline(
    target: str, out_dir: str | Path, *, wheel: str | Path | None = None
) -> Bundle:
    """Write the build context of an image that runs the steps of ``FILE:PIPELINE``
    (``dockyard step run``, what the orchestrators' ``--image`` needs).

    The libraries the pipeline's file imports are pinned to this environment's versions.

    Raises:
        UserCodeLoadError: the file or pipeline cannot be loaded.
        PackagingError: not ``FILE:PIPELINE``, or the output folder is a file.
    """
    from dockyard.packaging.plans import ImagePlan
    from dockyard.pipelines.loader import load_object
    from dockyard.pipelines.pipeline import Pipeline

    file, sep, name = target.rpartition(":")
    if not sep or not file.endswith(".py"):
        raise PackagingError(
            f"Expected FILE:PIPELINE with a Python file, got {target!r} (e.g. train.py:training)."
        )
    wheel_path = Path(wheel).expanduser() if wheel is not None else None
    dockyard_version = _dockyard_version(wheel_path)
    before = set(sys.modules)
    value = load_object(target)
    if not isinstance(value, Pipeline):
        raise PackagingError(f"{name!r} in {file} is not a @pipeline; give FILE:PIPELINE.")
    pins = _imported_distributions(before)
    source = Path(file)
    plan = ImagePlan(
        python=_minor(None),
        requirements=(*sorted(pins.items()), ("dockyard", dockyard_version)),
        pipeline=target,
        pipeline_files=(source.name,),
        dockyard_extras=(),
        health=False,
    )
    files = _render_image(plan)
    files.update(_wheel_files(wheel_path))
    files[source.name] = source.read_bytes()
    return write_files(out_dir, files)


def github_workflow(
    out_dir: str | Path,
    *,
    pipeline: str,
    model: str,
    deployment: str,
    rollout: RolloutPlan | None = None,
    python: str | None = None,
) -> Bundle:
    """Write ``dockyard.yml``, the CI/CD workflow, under ``out_dir``.

    Raises:
        PackagingError: the output folder is a file.
    """
    from dockyard.packaging.github import render_workflow
    from dockyard.packaging.plans import RolloutPlan, WorkflowPlan
    from dockyard.packaging.text import to_yaml

    plan = WorkflowPlan(
        pipeline=pipeline,
        model=model,
        deployment=deployment,
        rollout=rollout or RolloutPlan(),
        python=_minor(python),
    )
    text = to_yaml(render_workflow(plan), header="Written by dockyard package github-actions.")
    return write_files(out_dir, {"dockyard.yml": text})
