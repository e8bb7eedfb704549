"""Run the model service under uvicorn, with one worker or several.

``serve(runtimes, config, workers=1)`` builds the app in this process. With
``workers > 1`` uvicorn starts worker processes that must build the app themselves, from an
import string: :func:`serve` pickles the runtimes and config (cloudpickle) to a temporary
file readable only by this user, puts its path in the ``DOCKYARD_SERVE_SPEC`` environment
variable, and every worker calls the factory :func:`app_from_env`, which loads it. The
file is written by this process from objects it already holds (it is not a user-supplied
artifact) and is removed when the server stops.

Shutdown: on SIGTERM/SIGINT the app reports not ready at once, keeps serving for
``config.drain_seconds``, then uvicorn stops accepting connections, lets in-flight
requests finish (up to ``config.graceful_timeout`` seconds) and exits.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dockyard.errors import ServingError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dockyard.runtime.model import ModelRuntime
    from dockyard.serving.app import ServeConfig

__all__ = ["SPEC_ENV", "app_from_env", "serve"]

#: Environment variable holding the path of the pickled spec the workers load.
SPEC_ENV = "DOCKYARD_SERVE_SPEC"


def serve(
    runtimes: Sequence[ModelRuntime],
    config: ServeConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    *,
    log_level: str = "info",
) -> None:
    """Serve ``runtimes`` over HTTP until the process is told to stop.

    Args:
        runtimes: the model versions to serve (see :func:`~dockyard.serving.create_app`).
        config: service options.
        host: the interface to listen on.
        port: the TCP port.
        workers: uvicorn worker processes; each loads its own copy of the models.
        log_level: uvicorn's log level.

    Raises:
        ServingError: ``workers`` is less than 1 or the runtimes cannot be pickled.
    """
    import uvicorn

    from dockyard.serving.app import ServeConfig, create_app

    config = config or ServeConfig()
    if workers < 1:
        raise ServingError(f"workers must be at least 1, got {workers}")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": config.graceful_timeout,
        "lifespan": "on",
    }
    if workers == 1:
        uvicorn.run(create_app(runtimes, config), **options)
        return
    import cloudpickle

    fd, path = tempfile.mkstemp(prefix="dockyard-serve-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                cloudpickle.dump({"runtimes": list(runtimes), "config": config}, f)
            except Exception as exc:
                raise ServingError(
                    f"cannot hand the models to {workers} workers: pickling failed ({exc}); "
                    "serve with workers=1"
                ) from exc
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
    finally:
        os.unlink(path)


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: build the app from ``$DOCKYARD_SERVE_SPEC``.

    Raises:
        ServingError: the variable is not set or the file is gone.
    """
    from dockyard.serving.app import create_app

    path = os.environ.get(SPEC_ENV)
    if not path:
        raise ServingError(f"{SPEC_ENV} is not set: start workers through dockyard.serving.serve")
    try:
        with open(path, "rb") as f:
            spec = pickle.load(f)  # written by serve() in the parent process, mode 0600
    except OSError as exc:
        raise ServingError(f"cannot read the serving spec {path}: {exc}") from exc
    return create_app(spec["runtimes"], spec["config"])
