"""The shared database kernel: engine, transactions, clock, one schema, one migration chain.

Every context that keeps records in SQL (``metadata``, ``registry``, ``rollout``, ...)
declares its own tables on :data:`~dockyard.db.types.METADATA` and builds its own store
over one :class:`Database`. Names are re-exported lazily, so importing this package does
not import SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.db.engine import Database, mask_url
    from dockyard.db.migrate import HEAD_REVISION
    from dockyard.db.store import SqlStore

_EXPORTS = {
    "Database": "engine",
    "mask_url": "engine",
    "HEAD_REVISION": "migrate",
    "SqlStore": "store",
}

__all__ = ["HEAD_REVISION", "Database", "SqlStore", "mask_url"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.db' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.db.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
