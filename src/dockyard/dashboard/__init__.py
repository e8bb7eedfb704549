"""The dashboard: runs, lineage, models, the lake, batch jobs, events and live rollouts in a
browser (``dockyard dashboard``).

Server-rendered pages (Starlette + Jinja2) over the contexts' Python APIs; graphs and
charts drawn on the server as SVG; one small script of its own polls for live figures.
Names are re-exported lazily: importing this package imports neither Starlette nor Jinja2.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.dashboard.app import create_app
    from dockyard.dashboard.server import serve

_EXPORTS = {"create_app": "app", "serve": "server"}

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"dockyard.dashboard.{_EXPORTS[name]}"), name)
