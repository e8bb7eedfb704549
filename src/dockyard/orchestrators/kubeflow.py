"""``kubeflow``: a pipeline compiled for Kubeflow Pipelines v2 with the kfp SDK.

One lightweight Python component per step (``base_image`` the given image), named after
the step, whose body runs ``dockyard step run --run RUN --step STEP`` in the image;
edges as in the DAG (``.after``); the pipeline's parameters are the KFP pipeline's
parameters. Two components of dockyard's own frame the steps: ``dockyard-plan`` records
the dockyard run, keyed by KFP's job id, and outputs its id, which every step takes as
input; ``dockyard-finish``, the exit task of a ``dsl.ExitHandler`` around them, runs
after the steps whether they succeeded or not, finds the run by that key (an exit task may
not take another task's output) and records its end, failing when a step failed. KFP's caching is off for every task: a cached
``dockyard-plan`` would hand a new run the id of an old one (dockyard caches steps itself).

A step's ``retries``/``retry_backoff_s`` become the task's ``set_retry``. Compiling needs
``pip install 'dockyard[kubeflow]'`` (the kfp SDK); the image needs ``dockyard`` and the
pipeline's code, and reach to the stack's stores.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from dockyard.errors import ExportError, OrchestratorError
from dockyard.orchestrators.compiler import (
    PipelineCompiler,
    PipelineSpec,
    finish_command,
    plan_command,
    step_command,
)

__all__ = ["KubeflowCompiler", "check_image"]

KFP_EXTRA = "pip install 'dockyard[kubeflow]'"

# The reference grammar of distribution/reference (Docker, OCI): [host[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    rf"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*"
    rf"(?::[\w][\w.-]{{0,127}})?"
    rf"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}})?$"
)
_RESERVED = ("dockyard_plan", "dockyard_finish", "dockyard_pipeline")
_KFP_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


def check_image(image: str) -> str:
    """``image`` if it is a valid image reference (``registry/name:tag``), else ExportError."""
    if not isinstance(image, str) or len(image) > 255 or not _IMAGE.match(image):
        raise ExportError(
            f"Invalid image name {image!r}: write [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST] with a "
            "lowercase name, e.g. ghcr.io/acme/churn-steps:1.2 (build one with dockyard "
            "containerize --pipeline FILE:PIPELINE)."
        )
    return image


def _identifier(step: str) -> str:
    name = re.sub(r"\W", "_", step)
    if not name.isidentifier() or keyword.iskeyword(name) or name in _RESERVED:
        raise ExportError(
            f"Step {step!r} cannot name a KFP component ({name!r} is not a Python name, or "
            f"is one of {', '.join(_RESERVED)}): rename the invocation with id=."
        )
    return name


def _run_body(
    argv: list[str], placeholder: str | None, params: dict[str, str], var: str = "run_id"
) -> list[str]:
    """A component body: run ``argv`` (``placeholder`` replaced by the input ``var``, the
    parameters appended), print its output, fail as it does."""
    lines = [
        "    import json",
        "    import subprocess",
        "",
        f"    argv = {argv!r}",
    ]
    if placeholder is not None:
        lines.append(f"    argv = [{var} if a == {placeholder!r} else a for a in argv]")
    for name, value in params.items():
        lines.append(f"    argv += ['-p', {name + '='!r} + json.dumps({value})]")
    lines += [
        "    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)",
        "    print(proc.stdout, end='')",
        "    if proc.returncode != 0:",
        "        raise RuntimeError(f'{argv[1:3]} exited with {proc.returncode}')",
    ]
    return lines


class KubeflowCompiler(PipelineCompiler):
    flavor = "kubeflow"

    def compile(self, pipeline: PipelineSpec, output: Path, **options: Any) -> list[Path]:
        """Write the pipeline YAML at ``output`` (a file). Options: ``image`` (required)."""
        image = options.pop("image", None)
        if image is None:
            raise ExportError("The kubeflow export needs --image IMAGE: the image steps run in.")
        check_image(image)
        if options:
            raise ExportError(
                f"Unknown kubeflow export options: {', '.join(sorted(options))}. Known: image."
            )
        names = {step.name: _identifier(step.name) for step in pipeline.steps}
        try:
            from kfp import compiler
        except ImportError as exc:
            raise OrchestratorError(
                f"The kubeflow export needs the kfp SDK, which is not installed: {KFP_EXTRA}."
            ) from exc
        with tempfile.TemporaryDirectory(prefix="dockyard-kfp-") as tmp:
            source = Path(tmp) / "dockyard_kfp_pipeline.py"
            source.write_text(self.render(pipeline, image=image, names=names))
            module = _import(source)
            output.parent.mkdir(parents=True, exist_ok=True)
            compiler.Compiler().compile(
                pipeline_func=module.dockyard_pipeline, package_path=str(output)
            )
        return [output]

    def render(self, pipeline: PipelineSpec, *, image: str, names: dict[str, str]) -> str:
        """The Python source of the KFP pipeline (components and pipeline function)."""
        params = {k: v for k, v in pipeline.params.items() if type(v) in _KFP_TYPES}
        for key in params:
            if not key.isidentifier() or key == "run_id":
                raise ExportError(f"Pipeline parameter {key!r} cannot be a KFP parameter.")
        typed = ", ".join(f"{k}: {_KFP_TYPES[type(v)]}" for k, v in params.items())
        run = "__DOCKYARD_RUN_ID__"
        key = "__DOCKYARD_RUN_KEY__"
        lines = [
            '"""Generated by dockyard export kubeflow; compiled by the kfp SDK."""',
            "",
            "from kfp import dsl",
            "",
            "",
            f"@dsl.component(base_image={image!r})",
            f"def dockyard_plan({', '.join(['key: str', *filter(None, [typed])])}) -> str:",
            *_run_body(plan_command(pipeline, key), key, {k: k for k in params}, "key"),
            "    return proc.stdout.strip().splitlines()[-1]",
            "",
            "",
            f"@dsl.component(base_image={image!r})",
            "def dockyard_finish(key: str):",
            *_run_body(finish_command(pipeline, key=key), key, {}, "key"),
        ]
        for step in pipeline.steps:
            lines += [
                "",
                "",
                f"@dsl.component(base_image={image!r})",
                f"def {names[step.name]}(run_id: str):",
                *_run_body(step_command(pipeline, step.name, run), run, {}),
            ]
        defaults = ", ".join(f"{k}: {_KFP_TYPES[type(v)]} = {v!r}" for k, v in params.items())
        lines += [
            "",
            "",
            f"@dsl.pipeline(name={_kfp_name(pipeline.name)!r}, "
            f"description={pipeline.description[:200]!r})",
            f"def dockyard_pipeline({defaults}):",
            "    finish = dockyard_finish(key=dsl.PIPELINE_JOB_ID_PLACEHOLDER)",
            "    finish.set_caching_options(False)",
            "    with dsl.ExitHandler(finish, name='dockyard-run'):",
            "        plan = dockyard_plan("
            + ", ".join(["key=dsl.PIPELINE_JOB_ID_PLACEHOLDER", *(f"{k}={k}" for k in params)])
            + ")",
            "        plan.set_caching_options(False)",
        ]
        var = {}
        for i, step in enumerate(pipeline.steps):
            var[step.name] = f"t{i}"
            lines.append(f"        {var[step.name]} = {names[step.name]}(run_id=plan.output)")
            lines.append(f"        {var[step.name]}.set_caching_options(False)")
            if step.upstream:
                ups = ", ".join(var[u] for u in step.upstream)
                lines.append(f"        {var[step.name]}.after({ups})")
            if step.retries:
                lines.append(
                    f"        {var[step.name]}.set_retry(num_retries={step.retries}, "
                    f"backoff_duration='{int(max(step.retry_backoff_s, 0))}s', "
                    "backoff_factor=2.0)"
                )
        return "\n".join(lines) + "\n"


def _kfp_name(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "dockyard-pipeline"


def _import(path: Path) -> Any:
    name = f"dockyard_kfp_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a file we just wrote
        raise ExportError(f"Cannot load the generated pipeline {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # kfp reads the components' source through the module
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(name, None)
        raise
    return module
