"""A Dockerfile, its ``.dockerignore`` and ``requirements.txt`` from an :class:`ImagePlan`.

A serving image runs ``dockyard serve --spec /app/model/serve.json``: the spec is a
resolved model version (signature, artifact record, artifact store config, trust); with
the model *baked in* the artifact sits next to it (``/app/model/artifacts``), otherwise
the spec names the project's artifact store and the container reads the model from it
at start (credentials from the environment, as fsspec reads them).

The image is what ``hadolint`` expects of a careful Dockerfile: a pinned slim base of
the Python minor version the model was saved with, ``pip --no-cache-dir``, a non-root
user with a fixed UID, a ``HEALTHCHECK`` on ``/v2/health/ready`` written in Python (the
slim image has no curl), and an exec-form ``CMD``.

dockyard is installed from ``requirements.txt`` like everything else; the build context's
``wheels/`` folder is a ``--find-links`` source for it (dockyard is not on PyPI yet).
"""

from __future__ import annotations

import json

from dockyard.packaging.plans import READY_PATH, USER_ID, ImagePlan

__all__ = ["CONTAINER_MODEL_DIR", "render_dockerfile", "render_dockerignore", "render_requirements"]

#: Where the serve spec (and a baked model) live in the image.
CONTAINER_APP_DIR = "/app"
CONTAINER_MODEL_DIR = "/app/model"
SERVE_SPEC_NAME = "serve.json"


def _exec(args: list[str]) -> str:
    return json.dumps(args)


def serve_command(plan: ImagePlan) -> list[str]:
    """The container's command for a serving image (exec form)."""
    return [
        "dockyard",
        "serve",
        "--spec",
        f"{CONTAINER_MODEL_DIR}/{SERVE_SPEC_NAME}",
        "--host",
        "0.0.0.0",
        "--port",
        str(plan.port),
    ]


def _healthcheck(plan: ImagePlan) -> str:
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{plan.port}{READY_PATH}', "
        "timeout=3).status == 200 else 1)"
    )
    return (
        "HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 "
        f"CMD {_exec(['python', '-c', probe])}"
    )


def render_requirements(plan: ImagePlan) -> str:
    """``requirements.txt``: every distribution pinned with ``==``, dockyard with its
    extras."""
    lines = ["# Written by dockyard containerize: the versions the model was saved with."]
    for dist, version in plan.requirements:
        if dist == "dockyard" and plan.dockyard_extras:
            dist = f"dockyard[{','.join(plan.dockyard_extras)}]"
        lines.append(f"{dist}=={version}")
    return "\n".join(lines) + "\n"


def render_dockerignore(plan: ImagePlan) -> str:
    """Keep the build context to what the Dockerfile copies."""
    keep = ["Dockerfile", "requirements.txt", "wheels"]
    keep += ["model"] if plan.model else list(plan.pipeline_files)
    return "\n".join(["*", *(f"!{name}" for name in keep)]) + "\n"


def render_dockerfile(plan: ImagePlan) -> str:
    """The Dockerfile of ``plan`` (a serving image when ``plan.model`` is set, else an
    image for the steps of ``plan.pipeline``)."""
    lines = [
        f"# Written by dockyard containerize for {plan.model or plan.pipeline}.",
        f"FROM python:{plan.python}-slim",
        "",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        "    PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"WORKDIR {CONTAINER_APP_DIR}",
        "",
        "# wheels/ holds a dockyard wheel when your index does not have it",
        "COPY requirements.txt ./",
        "COPY wheels/ /tmp/wheels/",
        "RUN pip install --no-cache-dir --find-links=/tmp/wheels -r requirements.txt \\",
        f"    && groupadd --gid {USER_ID} dockyard \\",
        f"    && useradd --no-log-init -l --uid {USER_ID} --gid {USER_ID} -m dockyard",
        "",
    ]
    if plan.model:
        lines += [
            f"# the serve spec of {plan.model}"
            + (" and its artifact" if plan.baked else " (the artifact store named in it)"),
            f"COPY --chown={USER_ID}:{USER_ID} model/ {CONTAINER_MODEL_DIR}/",
            f"USER {USER_ID}",
            f"EXPOSE {plan.port}",
            *([_healthcheck(plan)] if plan.health else []),
            f"CMD {_exec(serve_command(plan))}",
        ]
    else:
        lines += [
            f"COPY --chown={USER_ID}:{USER_ID} {name} ./{name}" for name in plan.pipeline_files
        ]
        lines += [
            f"USER {USER_ID}",
            "# orchestrators run one step: dockyard step run --run RUN_ID --step NAME",
            f"ENTRYPOINT {_exec(['dockyard'])}",
            f"CMD {_exec(['step', 'run', '--help'])}",
        ]
    return "\n".join(lines) + "\n"
