"""Run the model service under uvicorn, with one worker or several.

``serve(models, config, workers=1)`` serves :class:`~dockyard.runtime.ModelRuntime`\\ s
(already loaded) or :class:`~dockyard.runtime.RuntimeSpec`\\ s (resolved versions each
process loads itself). With ``workers > 1`` uvicorn starts worker processes that must
build the app themselves, from an import string: :func:`serve` pickles the models and
config to a temporary file readable only by this user, puts its path in the
``DOCKYARD_SERVE_SPEC`` environment variable, and every worker calls the factory
:func:`app_from_env`, which loads it. Given specs, the parent loads no model at all: it
only supervises the workers (it holds no model copy). The file is written by this process
from objects it already holds (it is not a user-supplied artifact) and is removed when the
server stops.

``dockyard serve`` resolves the version in the CLI (so every error is reported before a
process starts), then replaces itself (``exec``, same pid) with ``python -m
dockyard.serving.server SPEC``: the serving process carries neither the CLI's libraries
nor the registry's database client.

Shutdown: on SIGTERM/SIGINT the app reports not ready at once, keeps serving for
``config.drain_seconds``, then uvicorn stops accepting connections, lets in-flight
requests finish (up to ``config.graceful_timeout`` seconds) and exits.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dockyard._logs import LOG_FILE_ENV, configure_file_logging
from dockyard.errors import ServingError
from dockyard.runtime.spec import RuntimeSpec

if TYPE_CHECKING:
    from typing import TypeAlias

    from fastapi import FastAPI

    from dockyard.runtime.model import ModelRuntime
    from dockyard.serving.config import ServeConfig

    Servable: TypeAlias = ModelRuntime | RuntimeSpec

__all__ = ["SPEC_ENV", "app_from_env", "exec_serve", "serve"]

#: Environment variable holding the path of the pickled spec the workers load.
SPEC_ENV = "DOCKYARD_SERVE_SPEC"


def _loaded(models: Sequence[Servable]) -> list[ModelRuntime]:
    return [m.load() if isinstance(m, RuntimeSpec) else m for m in models]


def _write_spec(body: dict[str, Any], what: str) -> str:
    """Pickle ``body`` to a new file only this user can read; returns its path."""
    import cloudpickle

    fd, path = tempfile.mkstemp(prefix="dockyard-serve-", suffix=".pkl")
    with os.fdopen(fd, "wb") as f:
        try:
            cloudpickle.dump(body, f)
        except Exception as exc:
            os.unlink(path)
            raise ServingError(
                f"cannot hand the models to {what}: pickling failed ({exc})"
            ) from exc
    return path


def _read_spec(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            spec: dict[str, Any] = pickle.load(f)  # written by this user's dockyard, mode 0600
    except OSError as exc:
        raise ServingError(f"cannot read the serving spec {path}: {exc}") from exc
    return spec


def serve(
    models: Sequence[Servable],
    config: ServeConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    *,
    log_level: str = "info",
) -> None:
    """Serve ``models`` over HTTP until the process is told to stop.

    Args:
        models: the model versions to serve (see :func:`~dockyard.serving.create_app`):
            loaded runtimes, or resolved specs that each process loads.
        config: service options.
        host: the interface to listen on.
        port: the TCP port.
        workers: uvicorn worker processes; each loads its own copy of the models.
        log_level: uvicorn's log level.

    Raises:
        ServingError: ``workers`` is less than 1 or the models cannot be pickled.
    """
    import uvicorn

    from dockyard.serving.config import ServeConfig

    config = config or ServeConfig()
    if workers < 1:
        raise ServingError(f"workers must be at least 1, got {workers}")
    log_file = os.environ.get(LOG_FILE_ENV)
    if log_file:  # started by a deployment's supervisor: a size-bounded file, not stdout
        configure_file_logging(log_file)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": config.graceful_timeout,
        "lifespan": "on",
        # Clients reach us directly or through our own gateway; X-Forwarded-* headers are
        # not read, so uvicorn's proxy-headers layer would only cost every request.
        "proxy_headers": False,
    }
    if log_file:
        options["log_config"] = None  # keep the rotated file; uvicorn's config would print
    if workers == 1:
        from dockyard.serving.app import create_app

        uvicorn.run(create_app(_loaded(models), config), **options)
        return
    path = _write_spec({"models": list(models), "config": config}, f"{workers} workers")
    previous = os.environ.get(SPEC_ENV)
    os.environ[SPEC_ENV] = path
    try:
        uvicorn.run(
            "dockyard.serving.server:app_from_env", factory=True, workers=workers, **options
        )
    finally:
        if previous is None:
            os.environ.pop(SPEC_ENV, None)
        else:
            os.environ[SPEC_ENV] = previous
        os.unlink(path)


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: build the app from ``$DOCKYARD_SERVE_SPEC``.

    Raises:
        ServingError: the variable is not set or the file is gone.
    """
    from dockyard.serving.app import create_app

    if os.environ.get(LOG_FILE_ENV):  # a worker process: its own handler on the same file
        configure_file_logging(os.environ[LOG_FILE_ENV])
    path = os.environ.get(SPEC_ENV)
    if not path:
        raise ServingError(f"{SPEC_ENV} is not set: start workers through dockyard.serving.serve")
    spec = _read_spec(path)
    return create_app(_loaded(spec["models"]), spec["config"])


def exec_serve(
    models: Sequence[RuntimeSpec],
    config: ServeConfig,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
) -> None:
    """Replace this process (same pid) by a lean serving process for ``models``.

    Never returns. The new process (``python -m dockyard.serving.server SPEC``) reads the
    spec, removes the file, and calls :func:`serve`.
    """
    body = {
        "models": list(models),
        "config": config,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": log_level,
    }
    path = _write_spec(body, "the serving process")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dockyard.serving.server", path])


def _main(argv: Sequence[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(
            "usage: python -m dockyard.serving.server SPEC_FILE (made by dockyard serve)"
        )
    spec = _read_spec(argv[0])
    os.unlink(argv[0])
    serve(
        spec["models"],
        spec["config"],
        host=spec["host"],
        port=spec["port"],
        workers=spec["workers"],
        log_level=spec["log_level"],
    )


if __name__ == "__main__":
    from dockyard.errors import DockyardError
    from dockyard.settings import Settings

    try:
        _main(sys.argv[1:])
    except DockyardError as exc:  # the same one-line error as the CLI that exec'd us
        if Settings.from_env().debug:
            raise
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
