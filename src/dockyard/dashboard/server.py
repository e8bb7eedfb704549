"""Run the dashboard under uvicorn (``dockyard dashboard``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dockyard.errors import DashboardError

if TYPE_CHECKING:
    from dockyard.stacks.stack import Stack

__all__ = ["read_token", "serve"]


def read_token(env_name: str | None) -> str | None:
    """The token in the environment variable ``env_name`` (None: no token).

    Raises:
        DashboardError: the variable is unset or empty (a typo must not open the buttons).
    """
    if env_name is None:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise DashboardError(
            f"--token-env {env_name}: the environment variable {env_name} is not set or is "
            f"empty. Set it (export {env_name}=...) or leave --token-env out."
        )
    return value


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    stack: str | Stack | None = None,
) -> None:
    """Serve the dashboard until interrupted.

    Raises:
        DashboardError: Starlette, Jinja2 or uvicorn is not installed.
    """
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise DashboardError(
            f"The dashboard needs {exc.name}: pip install 'dockyard[dashboard]'."
        ) from exc
    from dockyard.dashboard.app import create_app

    app = create_app(stack, token=token)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
